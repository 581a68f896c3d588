-- 0001: articles, mentions, stories, dead letters, and mentions per actor per week.
-- ReplacingMergeTree everywhere a replayed message may land again: a re-delivery replaces, never adds.

CREATE TABLE IF NOT EXISTS articles
(
    article_id         String,
    story_id           String,
    duplicate_of       Nullable(String),
    url                Nullable(String),
    canonical_url      Nullable(String),
    site               LowCardinality(String),
    title              String,
    text               String CODEC(ZSTD(3)),
    lang               LowCardinality(String),
    published_at       DateTime64(3, 'UTC'),
    published_source   LowCardinality(String),
    fetched_at         Nullable(DateTime64(3, 'UTC')),
    charset            LowCardinality(String),
    fingerprint        String,
    source             String,
    mention_count      UInt32,
    dictionary_version LowCardinality(String),
    raw_topic          LowCardinality(String),
    raw_partition      Int32,
    raw_offset         Int64,
    processed_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(processed_at)
PARTITION BY toYYYYMM(published_at)
ORDER BY (site, article_id);

CREATE TABLE IF NOT EXISTS mentions
(
    actor_id           LowCardinality(String),
    actor_name         LowCardinality(String),
    actor_type         LowCardinality(String),
    article_id         String,
    story_id           String,
    site               LowCardinality(String),
    published_at       DateTime64(3, 'UTC'),
    surface            String,
    char_start         UInt32,
    char_end           UInt32,
    dictionary_version LowCardinality(String),
    processed_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(processed_at)
PARTITION BY toYYYYMM(published_at)
ORDER BY (actor_id, published_at, article_id, char_start);

CREATE TABLE IF NOT EXISTS stories
(
    story_id     String,
    article_id   String,
    duplicate_of Nullable(String),
    site         LowCardinality(String),
    published_at DateTime64(3, 'UTC'),
    processed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(processed_at)
ORDER BY (story_id, article_id);

CREATE TABLE IF NOT EXISTS dead_letters
(
    at            DateTime64(3, 'UTC'),
    stage         LowCardinality(String),
    reason        LowCardinality(String),
    error         Nullable(String),
    source        String,
    url           Nullable(String),
    raw_topic     LowCardinality(String),
    raw_partition Int32,
    raw_offset    Int64,
    payload       Nullable(String) CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (stage, source, raw_partition, raw_offset);

-- Weekly aggregates: uniqExact states over (article, offset), so a replayed batch counts nothing twice.
CREATE TABLE IF NOT EXISTS actor_week_agg
(
    actor_id   LowCardinality(String),
    week       Date,
    actor_name SimpleAggregateFunction(anyLast, String),
    actor_type SimpleAggregateFunction(anyLast, String),
    mentions   AggregateFunction(uniqExact, String, UInt32),
    articles   AggregateFunction(uniqExact, String),
    stories    AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (actor_id, week);

CREATE MATERIALIZED VIEW IF NOT EXISTS actor_week_mv TO actor_week_agg AS
SELECT
    actor_id,
    toStartOfWeek(published_at, 1)        AS week,
    anyLast(toString(actor_name))         AS actor_name,
    anyLast(toString(actor_type))         AS actor_type,
    uniqExactState(article_id, char_start) AS mentions,
    uniqExactState(article_id)            AS articles,
    uniqExactState(story_id)              AS stories
FROM mentions
GROUP BY actor_id, week;

-- What analysts and Grafana read: one row per actor per ISO week (weeks start on Monday).
CREATE VIEW IF NOT EXISTS mentions_per_actor_week AS
SELECT
    actor_id,
    anyLast(actor_name)      AS actor_name,
    anyLast(actor_type)      AS actor_type,
    week,
    uniqExactMerge(mentions) AS mentions,
    uniqExactMerge(articles) AS articles,
    uniqExactMerge(stories)  AS stories
FROM actor_week_agg
GROUP BY actor_id, week;

-- The ledger: one row per raw message offset and what it became, so "what happened to this
-- offset/URL" is a query and nothing can vanish unnoticed between Kafka and the warehouse.
CREATE TABLE IF NOT EXISTS ledger
(
    raw_topic     LowCardinality(String),
    raw_partition Int32,
    raw_offset    Int64,
    source        String,
    url           Nullable(String),
    outcome       LowCardinality(String),
    article_id    Nullable(String),
    reason        Nullable(String),
    processed_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(processed_at)
ORDER BY (raw_topic, raw_partition, raw_offset);
