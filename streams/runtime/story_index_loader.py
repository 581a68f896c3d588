"""Rebuild the stories stage's index: from the warehouse, then from the `stories` topic records not yet in it.

The index has one home (the single `entities` partition). Whoever is assigned that partition, at start or after
the previous owner died, rebuilds it before assigning a story: the warehouse holds what the sink wrote; the
`stories` topic past the sink's committed offsets holds what the old owner sent but the sink had not written yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from schemas.records import LEGACY_MINHASH_SCHEME, StoryArticle, StoryAssignment
from streams.pipeline.stages.stories import (
    LEAD_PERSONS,
    SCHEME,
    StoryIndex,
    current_signature,
    lead_persons,
    valid_signature,
)

if TYPE_CHECKING:
    from streams.runtime.kafka import KafkaClients

log = logging.getLogger("newsstream")

# Articles indexed within the window, oldest processed first (so the first copy founds the story), with their
# lead persons as `lead_persons` computes them: most mentions first, then earliest mention, and the scheme of
# their signature (migration 0013).
INDEX_QUERY = """
SELECT a.article_id, a.fingerprint, a.story_id, a.duplicate_of, a.published_at, a.minhash, a.processed_at,
       lead.persons, a.minhash_scheme
FROM articles AS a FINAL
LEFT JOIN
(
    SELECT article_id, arraySlice(arrayMap(t -> t.3, arraySort(groupArray((-toInt64(n), first, actor_id)))),
                                  1, {lead:UInt8}) AS persons
    FROM
    (
        SELECT article_id, actor_id, count() AS n, min(char_start) AS first
        FROM mentions FINAL
        WHERE actor_type = 'person' AND processed_at >= now64(3) - toIntervalSecond({window:UInt64})
        GROUP BY article_id, actor_id
    )
    GROUP BY article_id
) AS lead ON lead.article_id = a.article_id
WHERE a.processed_at >= now64(3) - toIntervalSecond({window:UInt64})
ORDER BY a.processed_at, a.article_id
"""


def _utc(value: Any) -> datetime:
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def index_query(window: timedelta) -> str:
    """The query with its parameters inlined: it also travels as text to a worker's read-only /sql."""
    return (INDEX_QUERY.replace("{window:UInt64}", str(int(window.total_seconds())))
            .replace("{lead:UInt8}", str(LEAD_PERSONS)))


def fill_from_rows(index: StoryIndex, rows: Iterable[tuple]) -> int:
    """Rows of INDEX_QUERY: (article_id, fingerprint, story_id, duplicate_of, published_at, minhash[, processed_at
    [, lead persons[, minhash scheme]]]); a row without a scheme is of the legacy one (as the column's default).

    A signature of another scheme than the index's (rows written before an upgrade changed the scheme) is not
    compared: that article is indexed for exact matching only (same URL, same text) and the count is logged.
    Recomputing it would need every such article's text, more than the rebuild reads (docs/stories.md)."""
    n = foreign = 0
    for article_id, fingerprint, story_id, duplicate_of, published_at, minhash, *rest in rows:
        processed_at, persons, scheme = (list(rest) + [None, None, None])[:3]
        scheme = scheme or LEGACY_MINHASH_SCHEME
        foreign += bool(minhash) and (scheme != index.scheme or not valid_signature(minhash, index.bands * index.rows))
        index.remember(article_id, fingerprint, _utc(published_at), list(minhash or ()),
                       StoryAssignment(story_id=story_id, duplicate_of=duplicate_of),
                       indexed_at=_utc(processed_at) if processed_at else None, persons=tuple(persons or ()),
                       scheme=scheme)
        n += 1
    if foreign:
        log.warning("story index: %d of %d articles have a signature of another scheme than %s (written before an "
                    "upgrade): matched exactly only until they leave the window", foreign, n, index.scheme)
    return n


def fill_from_stories(index: StoryIndex, values: Iterable[bytes | dict]) -> int:
    """Stories-topic records (the old owner's answers) not yet in the warehouse; unreadable ones are skipped
    (the sink dead-letters them). A signature of another scheme is recomputed from the record's text."""
    n = 0
    for value in values:
        try:
            item = StoryArticle.model_validate(orjson.loads(value) if isinstance(value, bytes) else value)
        except Exception:
            continue
        if item.article.article_id not in index.entries:
            index.remember(item.article.article_id, item.article.fingerprint, item.article.published_at,
                           current_signature(item.article.text, item.minhash, item.minhash_scheme), item.story,
                           persons=lead_persons(item.mentions), scheme=SCHEME)
            n += 1
    return n


async def unsunk_stories(kafka: KafkaClients, topic: str, partitions: int) -> list[bytes]:
    """Records on the stories topic past the sink group's committed offsets: sent to the sink but maybe not
    written yet."""
    return await kafka.past_committed(topic, partitions, kafka.sink_group)
