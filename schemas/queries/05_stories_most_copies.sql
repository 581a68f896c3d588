-- Stories republished most: copies, sites and the first and last time a copy was seen.
SELECT
    story_id,
    any(title) AS title,
    count()                 AS copies,
    uniqExact(site)         AS sites,
    groupUniqArray(site)    AS site_list,
    min(published_at)       AS first_published,
    max(published_at)       AS last_published
FROM articles FINAL
GROUP BY story_id
ORDER BY copies DESC, first_published
LIMIT 20
