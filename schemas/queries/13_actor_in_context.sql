-- How an actor is written about: each mention with the words around it, newest first.
-- params: actor=sergey-lavrov
SELECT
    m.published_at,
    m.site,
    m.surface,
    substringUTF8(a.text, greatest(1, toInt64(m.char_start) - 59), toUInt64(m.char_end - m.char_start) + 120) AS context
FROM mentions AS m FINAL
INNER JOIN (SELECT article_id, text FROM articles FINAL) AS a USING (article_id)
WHERE m.actor_id = {actor:String}
ORDER BY m.published_at DESC, m.char_start
LIMIT 50
