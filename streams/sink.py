"""Warehouse rows from final records: articles, mentions, entities, stories, dead letters.

Row keys must equal the DDL's columns (Warehouse.insert_rows checks), so schemas/ stays the source of truth.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from schemas.records import DeadLetter, StoryArticle

Rows = dict[str, list[dict[str, Any]]]


def story_rows(item: StoryArticle, processed_at: datetime) -> Rows:
    a = item.article
    raw = a.raw
    site = a.site or ""
    rows: Rows = defaultdict(list)
    rows["articles"].append({
        "article_id": a.article_id, "story_id": item.story.story_id, "duplicate_of": item.story.duplicate_of,
        "url": a.url, "canonical_url": a.canonical_url, "site": site, "title": a.title, "text": a.text,
        "lang": a.lang or "", "author": a.author, "published_at": a.published_at, "published_source": a.published_source,
        "published_utc_offset": a.published_utc_offset, "fetched_at": a.fetched_at, "charset": a.charset, "fingerprint": a.fingerprint, "source": a.source,
        "mention_count": len(item.mentions), "dictionary_version": item.dictionary_version,
        "raw_topic": raw.topic if raw else "", "raw_partition": raw.partition if raw else -1,
        "raw_offset": raw.offset if raw else -1, "processed_at": processed_at, "minhash": item.minhash,
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


def _ledger(raw, source, url, outcome, article_id, reason, processed_at) -> dict[str, Any]:
    return {"raw_topic": raw.topic, "raw_partition": raw.partition, "raw_offset": raw.offset, "source": source or "",
            "url": url, "outcome": outcome, "article_id": article_id, "reason": reason, "processed_at": processed_at,
            "raw_at": raw.timestamp}


def dead_letter_rows(item: DeadLetter) -> Rows:
    raw = item.raw
    rows: Rows = {"ledger": [_ledger(raw, item.source, item.url, "dead_letter", None, item.reason, item.at)]} if raw else {}
    return rows | {"dead_letters": [{
        "at": item.at, "stage": item.stage, "reason": item.reason, "error": item.error, "source": item.source or "",
        "url": item.url, "raw_topic": raw.topic if raw else "", "raw_partition": raw.partition if raw else -1,
        "raw_offset": raw.offset if raw else -1, "payload": item.payload,
    }]}


def batch_rows(items: list[StoryArticle | DeadLetter]) -> Rows:
    """All rows of a batch, grouped per table, for one insert per table."""
    now = datetime.now(timezone.utc)
    merged: Rows = defaultdict(list)
    for item in items:
        rows = story_rows(item, now) if isinstance(item, StoryArticle) else dead_letter_rows(item)
        for table, table_rows in rows.items():
            merged[table].extend(table_rows)
    return merged
