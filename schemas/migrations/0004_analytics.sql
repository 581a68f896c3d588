-- 0004: aggregates for dashboards (actor per day, site per day, co-mentions per week), pipeline health
-- (raw message time on the ledger, consumer lag snapshots).
-- Every aggregate keeps uniqExact states of ids, so a replayed batch adds nothing to any count.

ALTER TABLE ledger ADD COLUMN IF NOT EXISTS raw_at Nullable(DateTime64(3, 'UTC')) AFTER processed_at;

CREATE TABLE IF NOT EXISTS actor_day_agg
(
    actor_id LowCardinality(String),
    day      Date,
    mentions AggregateFunction(uniqExact, String, UInt32),
    articles AggregateFunction(uniqExact, String),
    stories  AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (actor_id, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS actor_day_mv TO actor_day_agg AS
SELECT
    actor_id,
    toDate(published_at)                   AS day,
    uniqExactState(article_id, char_start) AS mentions,
    uniqExactState(article_id)             AS articles,
    uniqExactState(story_id)               AS stories
FROM mentions
GROUP BY actor_id, day;

CREATE VIEW IF NOT EXISTS mentions_per_actor_day AS
SELECT actor_id, day, uniqExactMerge(mentions) AS mentions, uniqExactMerge(articles) AS articles,
       uniqExactMerge(stories) AS stories
FROM actor_day_agg
GROUP BY actor_id, day;

CREATE TABLE IF NOT EXISTS site_day_agg
(
    site     LowCardinality(String),
    day      Date,
    articles AggregateFunction(uniqExact, String),
    stories  AggregateFunction(uniqExact, String),
    copies   AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (site, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS site_day_mv TO site_day_agg AS
SELECT
    site,
    toDate(published_at)                                         AS day,
    uniqExactState(article_id)                                   AS articles,
    uniqExactState(story_id)                                     AS stories,
    uniqExactStateIf(article_id, duplicate_of IS NOT NULL)       AS copies
FROM articles
GROUP BY site, day;

CREATE VIEW IF NOT EXISTS articles_per_site_day AS
SELECT site, day, uniqExactMerge(articles) AS articles, uniqExactMerge(stories) AS stories,
       uniqExactMerge(copies) AS copies
FROM site_day_agg
GROUP BY site, day;

-- Pairs of actors named in the same article. The sink writes all mentions of an article in one
-- insert, so the view sees them together; actor_a < actor_b, each pair once per article.
CREATE TABLE IF NOT EXISTS co_mentions_week_agg
(
    actor_a  LowCardinality(String),
    actor_b  LowCardinality(String),
    week     Date,
    articles AggregateFunction(uniqExact, String),
    stories  AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (week, actor_a, actor_b);

CREATE MATERIALIZED VIEW IF NOT EXISTS co_mentions_week_mv TO co_mentions_week_agg AS
SELECT
    tupleElement(pair, 1)      AS actor_a,
    tupleElement(pair, 2)      AS actor_b,
    week,
    uniqExactState(article_id) AS articles,
    uniqExactState(story_id)   AS stories
FROM
(
    SELECT article_id, any(story_id) AS story_id, toStartOfWeek(any(published_at), 1) AS week,
           arraySort(groupUniqArray(toString(actor_id))) AS actors
    FROM mentions
    GROUP BY article_id
)
ARRAY JOIN arrayFilter(p -> tupleElement(p, 1) < tupleElement(p, 2),
                       arrayFlatten(arrayMap(a -> arrayMap(b -> (a, b), actors), actors))) AS pair
GROUP BY actor_a, actor_b, week;

CREATE VIEW IF NOT EXISTS co_mentions_per_week AS
SELECT actor_a, actor_b, week, uniqExactMerge(articles) AS articles, uniqExactMerge(stories) AS stories
FROM co_mentions_week_agg
GROUP BY actor_a, actor_b, week;

-- Consumer lag as the sink worker measured it (also exported at /metrics), for the health dashboard.
CREATE TABLE IF NOT EXISTS consumer_lag
(
    at        DateTime64(3, 'UTC'),
    grp       LowCardinality(String),
    topic     LowCardinality(String),
    partition Int32,
    lag       Int64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (topic, partition, at)
TTL toDateTime(at) + INTERVAL 30 DAY;
