-- 0009: the zone offset (minutes east of UTC) the page stated its publication time in, beside the UTC time
-- the local day is toDate(published_at + toIntervalMinute(ifNull(published_utc_offset, 0))).

ALTER TABLE articles ADD COLUMN IF NOT EXISTS published_utc_offset Nullable(Int16) AFTER published_source;

-- Per-site profiles learned from the stream (streams.site_profiles): lines and title affixes that recur on
-- many pages of one site; the clean stage drops them. One row per site, the newest learning wins.
CREATE TABLE IF NOT EXISTS site_profiles
(
    site          String,
    chrome_lines  Array(String),
    title_affixes Array(String),
    pages         UInt32,
    learned_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(learned_at)
ORDER BY site;
