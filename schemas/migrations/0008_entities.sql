-- 0008: every name the text carries (persons, organizations, places, other), linked to a dictionary actor or
-- not, beside `mentions` (dictionary actors only, so the weekly actor counts keep their meaning).
-- `key` groups the spelling variants of one name; a surname alone carries the key of the full name it follows.

CREATE TABLE IF NOT EXISTS entities
(
    key                String,
    type               LowCardinality(String),
    surface            String,
    actor_id           Nullable(String),
    article_id         String,
    story_id           String,
    site               LowCardinality(String),
    published_at       DateTime64(3, 'UTC'),
    char_start         UInt32,
    char_end           UInt32,
    model_version      LowCardinality(String),
    dictionary_version LowCardinality(String),
    processed_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(processed_at)
PARTITION BY toYYYYMM(published_at)
ORDER BY (key, published_at, article_id, char_start);

-- Names no dictionary actor claims, per week: what "new names this week" reads. uniqExact states of
-- (article, offset), article, story and site, so a replayed batch adds nothing.
CREATE TABLE IF NOT EXISTS unlinked_name_week_agg
(
    key      String,
    type     LowCardinality(String),
    week     Date,
    mentions AggregateFunction(uniqExact, String, UInt32),
    articles AggregateFunction(uniqExact, String),
    stories  AggregateFunction(uniqExact, String),
    sites    AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (week, key, type);

CREATE MATERIALIZED VIEW IF NOT EXISTS unlinked_name_week_mv TO unlinked_name_week_agg AS
SELECT
    key,
    type,
    toStartOfWeek(published_at, 1)         AS week,
    uniqExactState(article_id, char_start) AS mentions,
    uniqExactState(article_id)             AS articles,
    uniqExactState(story_id)               AS stories,
    uniqExactState(site)                   AS sites
FROM entities
WHERE actor_id IS NULL
GROUP BY key, type, week;

CREATE VIEW IF NOT EXISTS unlinked_names_per_week AS
SELECT key, type, week, uniqExactMerge(mentions) AS mentions, uniqExactMerge(articles) AS articles,
       uniqExactMerge(stories) AS stories, uniqExactMerge(sites) AS sites
FROM unlinked_name_week_agg
GROUP BY key, type, week;
