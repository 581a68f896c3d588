-- What happened to a URL (or, with the WHERE changed, a raw offset): every outcome the ledger holds.
-- params: url=%lavrov%
SELECT l.raw_topic, l.raw_partition, l.raw_offset, l.outcome, l.reason, l.article_id, l.url, l.processed_at
FROM ledger AS l FINAL
WHERE l.url LIKE {url:String} OR l.source LIKE {url:String}
ORDER BY l.processed_at DESC
LIMIT 50
