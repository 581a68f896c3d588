-- 0009: the zone offset (minutes east of UTC) the page stated its publication time in, beside the UTC time:
-- the local day is toDate(published_at + toIntervalMinute(ifNull(published_utc_offset, 0))).

ALTER TABLE articles ADD COLUMN IF NOT EXISTS published_utc_offset Nullable(Int16) AFTER published_source;
