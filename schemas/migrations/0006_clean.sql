-- 0006: the article's author (byline or metadata), when the page names one.

ALTER TABLE articles ADD COLUMN IF NOT EXISTS author Nullable(String) AFTER lang;
