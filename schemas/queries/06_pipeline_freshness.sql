-- Pipeline freshness: seconds from a page landing in the raw topic to its outcome in the warehouse, per hour.
SELECT
    toStartOfHour(processed_at)                                        AS hour,
    count()                                                            AS outcomes,
    round(quantile(0.5)(dateDiff('millisecond', raw_at, processed_at)) / 1000, 2)  AS p50_seconds,
    round(quantile(0.95)(dateDiff('millisecond', raw_at, processed_at)) / 1000, 2) AS p95_seconds
FROM ledger FINAL
WHERE raw_at IS NOT NULL
GROUP BY hour
ORDER BY hour DESC
LIMIT 48
