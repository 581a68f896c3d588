-- Why documents did not become articles: dead letters per stage and reason, with an example.
SELECT stage, reason, count() AS documents, any(source) AS example_source, max(at) AS last_seen
FROM dead_letters FINAL
GROUP BY stage, reason
ORDER BY documents DESC
