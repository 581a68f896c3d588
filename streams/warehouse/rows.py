"""Warehouse rows from final records: articles, mentions, entities, stories, dead letters.

Row keys must equal the DDL's columns (Warehouse.insert_rows checks), so schemas/ stays the source of truth.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from schemas.records import LEGACY_MINHASH_SCHEME, DeadLetter, StoryArticle
from streams.pipeline.identity import offset_page_id

Rows = dict[str, list[dict[str, Any]]]


def story_rows(item: StoryArticle, processed_at: datetime) -> Rows:
    a = item.article
    raw = a.raw
    site = a.site or ""
    rows: Rows = defaultdict(list)
    rows["articles"].append({
        "article_id": a.article_id, "story_id": item.story.story_id, "duplicate_of": item.story.duplicate_of,
        "url": a.url, "canonical_url": a.canonical_url, "site": site, "title": a.title, "text": a.text,
        "lang": a.lang or "", "author": a.author, "published_at": a.published_at,
        "published_source": a.published_source, "published_utc_offset": a.published_utc_offset,
        "fetched_at": a.fetched_at, "charset": a.charset, "fingerprint": a.fingerprint, "source": a.source,
        "mention_count": len(item.mentions), "dictionary_version": item.dictionary_version,
        "raw_topic": raw.topic if raw else "", "raw_partition": raw.partition if raw else -1,
        "raw_offset": raw.offset if raw else -1, "page_id": page_id(raw), "processed_at": processed_at,
        "minhash": item.minhash, "minhash_scheme": item.minhash_scheme or LEGACY_MINHASH_SCHEME,
    })
    for m in item.mentions:
        rows["mentions"].append({
            "actor_id": m.actor_id, "actor_name": m.name, "actor_type": m.type, "article_id": a.article_id,
            "story_id": item.story.story_id, "site": site, "published_at": a.published_at, "surface": m.surface,
            "char_start": m.start, "char_end": m.end, "dictionary_version": item.dictionary_version,
            "processed_at": processed_at,
        })
    rows["candidate_mentions"].extend(candidate_rows(item, processed_at))
    rows["entities"].extend(entity_rows(item, processed_at))
    if raw:
        rows["ledger"].append(_ledger(raw, a.source, a.url, "article", a.article_id, None, processed_at))
    rows["stories"].append({
        "story_id": item.story.story_id, "article_id": a.article_id, "duplicate_of": item.story.duplicate_of,
        "site": site, "published_at": a.published_at, "processed_at": processed_at,
    })
    return rows


CONTEXT_CHARS = 60


def candidate_rows(item: StoryArticle, processed_at: datetime) -> list[dict[str, Any]]:
    """Discovered persons, with a line of context for the curator; never mixed into `mentions`."""
    a = item.article
    return [{
        "candidate_id": m.actor_id, "name": m.name, "article_id": a.article_id, "story_id": item.story.story_id,
        "site": a.site or "", "published_at": a.published_at, "surface": m.surface, "char_start": m.start,
        "char_end": m.end, "context": a.text[max(0, m.start - CONTEXT_CHARS):m.end + CONTEXT_CHARS].replace("\n", " "),
        "dictionary_version": item.dictionary_version, "processed_at": processed_at,
    } for m in item.candidates]


def entity_rows(item: StoryArticle, processed_at: datetime) -> list[dict[str, Any]]:
    """Every name in the article, linked or not, with the recognizer's and the dictionary's versions."""
    a = item.article
    return [{
        "key": e.key, "type": e.type, "surface": e.surface, "actor_id": e.actor_id, "article_id": a.article_id,
        "story_id": item.story.story_id, "site": a.site or "", "published_at": a.published_at,
        "char_start": e.start, "char_end": e.end, "model_version": item.model_version or "",
        "dictionary_version": item.dictionary_version, "processed_at": processed_at,
    } for e in item.entities]


def page_id(raw) -> str:
    """The ledger key: the page's id; a raw message from before page ids is known by its offset."""
    if raw is None:
        return ""
    return raw.page_id or offset_page_id(raw.topic, raw.partition, raw.offset)


def _ledger(raw, source, url, outcome, article_id, reason, processed_at) -> dict[str, Any]:
    return {"page_id": page_id(raw), "raw_topic": raw.topic, "raw_partition": raw.partition,
            "raw_offset": raw.offset, "source": source or "",
            "url": url, "outcome": outcome, "article_id": article_id, "reason": reason, "processed_at": processed_at,
            "raw_at": raw.timestamp}


def dead_letter_rows(item: DeadLetter) -> Rows:
    raw = item.raw
    rows: Rows = ({"ledger": [_ledger(raw, item.source, item.url, "dead_letter", None, item.reason, item.at)]}
                  if raw else {})
    return rows | {"dead_letters": [{
        "at": item.at, "stage": item.stage, "reason": item.reason, "error": item.error, "source": item.source or "",
        "url": item.url, "raw_topic": raw.topic if raw else "", "raw_partition": raw.partition if raw else -1,
        "raw_offset": raw.offset if raw else -1, "page_id": page_id(raw), "payload": item.payload,
    }]}


REPLACED = "replaced articles"
"""Rows key (not a table) listing the articles whose new version replaces the stored one
(`reprocess --from-archive`)."""


DATED_TABLES = ("articles", "mentions", "candidate_mentions", "entities", "stories")
"""Tables whose rows carry the article's published_at (in their sort key, or read by the weekly views)."""


def keep_stored_dates(warehouse, rows: Rows, replaced: set[str]) -> None:
    """An article already stored with the same text keeps its stored published_at, however old it is. An undated
    page's date is its fetch time, so the same bytes fetched again later come with another date; the stories stage
    keeps the known date only while the article is in its window (NEWSSTREAM_STORY_WINDOW_DAYS), and past it every
    mention would be stored a second time, in another week. (`reprocess --from-archive` replacements excepted.)"""
    batch = {r["article_id"]: r for r in rows.get("articles", []) if r["article_id"] not in replaced}
    if not batch:
        return
    _, stored = warehouse.query("SELECT article_id, fingerprint, published_at FROM articles FINAL "
                                "WHERE article_id IN {ids:Array(String)}", parameters={"ids": sorted(batch)})
    keep = {}
    for article_id, fingerprint, published_at in stored:
        published_at = published_at if published_at.tzinfo else published_at.replace(tzinfo=UTC)
        if batch[article_id]["fingerprint"] == fingerprint and batch[article_id]["published_at"] != published_at:
            keep[article_id] = published_at
    for table in DATED_TABLES if keep else ():
        for row in rows.get(table, []):
            if row.get("article_id") in keep:
                row["published_at"] = keep[row["article_id"]]


def write_rows(warehouse, rows: Rows) -> None:
    """Insert a batch; for replaced articles, first delete their old mentions and candidate mentions (their offsets
    index the old text), and afterwards rebuild the aggregates fed by `mentions` for the days touched (their
    uniqExact states cannot subtract). Re-running it after a failure gives the same result."""
    from streams.ops.reprocess import rebuild_aggregates

    rows = dict(rows)
    replaced = [r["article_id"] for r in rows.pop(REPLACED, [])]
    keep_stored_dates(warehouse, rows, set(replaced))
    days = set()
    if replaced:
        _, old = warehouse.query("SELECT DISTINCT toDate(published_at) FROM mentions WHERE has({ids:Array(String)}, "
                                 "article_id)", parameters={"ids": replaced})
        days = {d for (d,) in old} | {r["published_at"].date() for r in rows.get("articles", [])
                                      if r["article_id"] in set(replaced)}
        for table in ("mentions", "candidate_mentions", "entities"):
            warehouse.client.command(f"DELETE FROM {table} WHERE has({{ids:Array(String)}}, article_id)",
                                     parameters={"ids": replaced})
    for table, table_rows in rows.items():
        warehouse.insert_rows(table, table_rows)
    if days:
        rebuild_aggregates(warehouse, days)


def batch_rows(items: list[StoryArticle | DeadLetter]) -> Rows:
    """All rows of a batch, grouped per table, for one insert per table; `ledger` last.

    Tables are written in this order without a transaction: with the outcome written last, a write that
    fails part-way never records an outcome, so the message is re-delivered or dead-lettered, never both.
    """
    now = datetime.now(UTC)
    merged: Rows = defaultdict(list)
    for item in items:
        if isinstance(item, StoryArticle) and item.article.raw is not None and item.article.raw.replace:
            merged[REPLACED].append({"article_id": item.article.article_id})
        rows = story_rows(item, now) if isinstance(item, StoryArticle) else dead_letter_rows(item)
        for table, table_rows in rows.items():
            merged[table].extend(table_rows)
    # every URL a page came under: the ledger row keeps only the newest delivery's (what_happened_to_url)
    urls = [{"page_id": r["page_id"], "url": r["url"], "seen_at": r["processed_at"]}
            for r in merged.get("ledger", []) if r["url"]]
    if urls:
        merged["page_urls"] = urls
    return dict(sorted(merged.items(), key=lambda kv: kv[0] == "ledger"))
