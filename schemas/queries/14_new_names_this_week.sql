-- Names rising this week that the dictionary lacks: persons, organizations and places no actor claims (one key
-- per name, spelling variants and clitic forms together), by articles this week against the week before; names a
-- curator promoted (`newsstream actors promote KEY`) are left out.
-- params: week=2017-09-04
WITH toStartOfWeek(toDate({week:String}), 1) AS this_week
SELECT
    key,
    type,
    sumIf(articles, week = this_week)                 AS articles_this_week,
    sumIf(articles, week = this_week - 7)             AS articles_last_week,
    articles_this_week - articles_last_week           AS change,
    sumIf(sites, week = this_week)                    AS sites_this_week,
    sumIf(mentions, week = this_week)                 AS mentions_this_week
FROM unlinked_names_per_week
WHERE week IN (this_week, this_week - 7)
  AND concat('candidate:', key) NOT IN (SELECT assumeNotNull(promoted_from) FROM actors WHERE promoted_from IS NOT NULL)
GROUP BY key, type
HAVING articles_this_week > 0
ORDER BY change DESC, articles_this_week DESC, mentions_this_week DESC
LIMIT 50
