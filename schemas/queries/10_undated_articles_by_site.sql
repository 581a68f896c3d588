-- Where the publication date came from, per site: 'fetched' means no date was found on the page,
-- so that site's weekly counts lean on crawl time.
SELECT site, published_source, count() AS articles
FROM articles FINAL
GROUP BY site, published_source
ORDER BY site, articles DESC
