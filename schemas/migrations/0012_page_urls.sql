-- 0012: every URL a page was delivered under (issue 14). The ledger keeps one row per page id, and the newest
-- delivery's URL replaces the earlier one there: the same bytes sent as `?NewsID=7&utm_source=x` and then as
-- `?NewsID=7` are one page (one id, one outcome), and looking the page up by its first URL found nothing.
-- what_happened_to_url also looks here. Rows already in the ledger (every version not yet merged) are copied.
CREATE TABLE IF NOT EXISTS page_urls
(
    page_id  String,
    url      String,
    seen_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(seen_at)
ORDER BY (url, page_id);

INSERT INTO page_urls
SELECT page_id, assumeNotNull(url), processed_at FROM ledger WHERE url IS NOT NULL AND url != '';
