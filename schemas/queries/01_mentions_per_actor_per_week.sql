-- Mentions per actor per week: mentions, distinct articles, and distinct stories (a wire copy on five sites is one story).
SELECT week, actor_name, actor_type, mentions, articles, stories
FROM mentions_per_actor_week
ORDER BY week DESC, mentions DESC
LIMIT 100
