-- 0002: near-duplicate stories (issue 5).
-- The MinHash signature of each article is kept so the stories stage can rebuild its index from the warehouse
-- at start and on partition assignment; per-story facts aggregate the article -> story mapping.

ALTER TABLE articles ADD COLUMN IF NOT EXISTS minhash Array(UInt32) CODEC(ZSTD(1));

-- One row per story after merging: when it was first and last published, how many articles, on which sites.
-- uniqExact/groupUniqArray states: a replayed batch adds no copy and no site.
CREATE TABLE IF NOT EXISTS story_facts_agg
(
    story_id     String,
    first_seen   SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen    SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    copies       AggregateFunction(uniqExact, String),
    sites        AggregateFunction(groupUniqArray, String)
)
ENGINE = AggregatingMergeTree
ORDER BY story_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS story_facts_mv TO story_facts_agg AS
SELECT
    story_id,
    min(published_at)                AS first_seen,
    max(published_at)                AS last_seen,
    uniqExactState(article_id)       AS copies,
    groupUniqArrayState(toString(site)) AS sites
FROM stories
GROUP BY story_id;

-- What analysts read: one row per story. `copies` counts every article in the story, the first one included.
CREATE VIEW IF NOT EXISTS story_facts AS
SELECT
    story_id,
    min(first_seen)                  AS first_seen,
    max(last_seen)                   AS last_seen,
    uniqExactMerge(copies)           AS copies,
    arraySort(groupUniqArrayMerge(sites)) AS sites
FROM story_facts_agg
GROUP BY story_id;
