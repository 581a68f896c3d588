-- Contexts of a name: each place a name (an entity key, as in new_names_this_week) appears, linked to an actor
-- or not, with the words around it, newest first.
-- params: key=الاسد
SELECT
    e.published_at,
    e.site,
    e.type,
    e.surface,
    e.actor_id,
    substringUTF8(a.text, greatest(1, toInt64(e.char_start) - 59), toUInt64(e.char_end - e.char_start) + 120) AS context
FROM entities AS e FINAL
INNER JOIN (SELECT article_id, text FROM articles FINAL) AS a USING (article_id)
WHERE e.key = {key:String}
ORDER BY e.published_at DESC, e.char_start
LIMIT 50
