-- 0003: the actor dictionary as a table (so SQL can join names and aliases), and discovered candidate persons.

-- One row per actor of the dictionary version the worker loaded last (`newsstream actors sync` does the same).
-- Rows of older versions are deleted after each sync, so a removed actor leaves the table.
CREATE TABLE IF NOT EXISTS actors
(
    actor_id           String,
    name               String,
    type               LowCardinality(String),
    country            Nullable(String),
    role               Nullable(String),
    aliases            Map(String, Array(String)),
    short              Map(String, Array(String)),
    promoted_from      Nullable(String),
    dictionary_version LowCardinality(String),
    synced_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(synced_at)
ORDER BY actor_id;

-- Persons named after a title whom the dictionary lacks: actor_id 'candidate:<normalized name>'.
-- Their own table, so they never reach actor_week_agg or mentions_per_actor_week.
CREATE TABLE IF NOT EXISTS candidate_mentions
(
    candidate_id       String,
    name               String,
    article_id         String,
    story_id           String,
    site               LowCardinality(String),
    published_at       DateTime64(3, 'UTC'),
    surface            String,
    char_start         UInt32,
    char_end           UInt32,
    context            String,
    dictionary_version LowCardinality(String),
    processed_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(processed_at)
PARTITION BY toYYYYMM(published_at)
ORDER BY (candidate_id, published_at, article_id, char_start);

-- What a curator reads before `newsstream actors promote`: candidates not yet promoted, most seen first.
CREATE VIEW IF NOT EXISTS candidates AS
SELECT
    candidate_id,
    any(name)                           AS name,
    uniqExact(article_id, char_start)   AS mentions,
    uniqExact(article_id)               AS articles,
    uniqExact(site)                     AS sites,
    min(published_at)                   AS first_seen,
    max(published_at)                   AS last_seen,
    groupUniqArray(3)(context)          AS contexts
FROM candidate_mentions
WHERE candidate_id NOT IN (SELECT assumeNotNull(promoted_from) FROM actors WHERE promoted_from IS NOT NULL)
GROUP BY candidate_id
ORDER BY mentions DESC;
