-- 0007: page identity (issue 14). Every raw page carries a stable page id from the moment it enters
-- (ingest, feeder, backfill); the ledger is keyed by it, so a restarted local broker, whose offsets start
-- again at 0, can neither overwrite an outcome nor hide a missing one. Topic, partition and offset stay as
-- provenance. The offset-keyed ledger is kept as `ledger_by_offset`; its rows are copied over with their
-- offset as their id ('offset:topic/partition/offset'), so what happened before stays findable.
-- (The runner renames only while `ledger` is still the old table: see Warehouse.migrate.)

RENAME TABLE ledger TO ledger_by_offset;

CREATE TABLE IF NOT EXISTS ledger
(
    page_id       String,
    raw_topic     LowCardinality(String),
    raw_partition Int32,
    raw_offset    Int64,
    source        String,
    url           Nullable(String),
    outcome       LowCardinality(String),
    article_id    Nullable(String),
    reason        Nullable(String),
    processed_at  DateTime64(3, 'UTC'),
    raw_at        Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree(processed_at)
ORDER BY page_id;

INSERT INTO ledger
SELECT concat('offset:', raw_topic, '/', toString(raw_partition), '/', toString(raw_offset)), raw_topic, raw_partition,
       raw_offset, source, url, outcome, article_id, reason, processed_at, raw_at
FROM ledger_by_offset FINAL;

ALTER TABLE articles ADD COLUMN IF NOT EXISTS page_id String DEFAULT '' AFTER raw_offset;

ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS page_id String DEFAULT '' AFTER raw_offset;
