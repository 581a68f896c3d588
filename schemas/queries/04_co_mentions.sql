-- Actors named together in the same article, per week, strongest pairs first.
SELECT week, actor_a, actor_b, articles, stories
FROM co_mentions_per_week
ORDER BY week DESC, stories DESC, articles DESC
LIMIT 50
