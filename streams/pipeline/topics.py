"""Topic names and partition counts: one place for the worker, `ingest` and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from streams.settings import Settings

if TYPE_CHECKING:
    from streams.runtime.kafka import KafkaClients


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


def topic_specs(settings: Settings) -> dict[str, TopicSpec]:
    """`entities` has one partition: the story index lives in one place, fed by fingerprints computed upstream."""
    n = settings.partitions
    parts = {"raw-html": n, "cleaned": n, "entities": 1, "stories": n, "dead-letters": 1}
    return {key: TopicSpec(settings.topic(key), p) for key, p in parts.items()}


async def ensure_topics(kafka: KafkaClients) -> None:
    """Create missing topics with their partition counts (the broker's auto-create would pick its own)."""
    await kafka.create_missing_topics({s.name: s.partitions for s in topic_specs(kafka.settings).values()})
