-- Who rose most in a given week compared with the week before (by stories, then mentions).
-- params: week=2016-11-21
WITH toStartOfWeek(toDate({week:String}), 1) AS this_week
SELECT
    actor_id,
    anyLast(actor_name)                                         AS actor_name,
    sumIf(stories, week = this_week)                            AS stories_this_week,
    sumIf(stories, week = this_week - 7)                        AS stories_last_week,
    stories_this_week - stories_last_week                       AS change,
    sumIf(mentions, week = this_week)                           AS mentions_this_week
FROM mentions_per_actor_week
WHERE week IN (this_week, this_week - 7)
GROUP BY actor_id
HAVING stories_this_week > 0
ORDER BY change DESC, mentions_this_week DESC
LIMIT 20
