-- One actor day by day: mentions, articles and stories.
-- params: actor=sergey-lavrov
SELECT day, mentions, articles, stories
FROM mentions_per_actor_day
WHERE actor_id = {actor:String}
ORDER BY day
