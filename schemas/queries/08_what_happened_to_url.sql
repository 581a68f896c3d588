-- What happened to a URL (or, with the WHERE changed, a page id): every outcome the ledger holds, one per page
-- (the same URL fetched again with other bytes is another page), found by any URL it was delivered under.
-- raw_* say where the page travelled (provenance).
-- params: url=%lavrov%
SELECT l.page_id, l.outcome, l.reason, l.article_id, l.url, l.source, l.processed_at, l.raw_topic, l.raw_partition,
       l.raw_offset
FROM ledger AS l FINAL
WHERE l.url LIKE {url:String} OR l.source LIKE {url:String}
   OR l.page_id IN (SELECT page_id FROM page_urls WHERE url LIKE {url:String})  -- an earlier delivery's URL
ORDER BY l.processed_at DESC
LIMIT 50
