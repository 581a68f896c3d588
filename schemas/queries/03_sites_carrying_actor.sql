-- Which sites carry an actor, and how much of it is copies of other sites' articles.
-- params: actor=sergey-lavrov
SELECT
    m.site,
    uniqExact(m.article_id)                            AS articles,
    uniqExact(m.story_id)                              AS stories,
    uniqExactIf(m.article_id, m.story_id != m.article_id) AS copies_of_others,
    min(m.published_at)                                AS first,
    max(m.published_at)                                AS last
FROM mentions AS m FINAL
WHERE m.actor_id = {actor:String}
GROUP BY m.site
ORDER BY articles DESC
