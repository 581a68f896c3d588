-- Actors mentioned in a given week and in none of the four weeks before.
-- params: week=2016-11-21
WITH toStartOfWeek(toDate({week:String}), 1) AS this_week
SELECT actor_id, anyLast(actor_name) AS actor_name, sum(stories) AS stories, sum(mentions) AS mentions
FROM mentions_per_actor_week
WHERE week = this_week
  AND actor_id NOT IN (SELECT actor_id FROM mentions_per_actor_week WHERE week >= this_week - 28 AND week < this_week)
GROUP BY actor_id
ORDER BY stories DESC, mentions DESC
