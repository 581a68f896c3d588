"""Topic names and partition counts: one place for the worker, `ingest` and the tests."""

from __future__ import annotations

from dataclasses import dataclass

from streams.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


def topic_specs(settings: Settings) -> dict[str, TopicSpec]:
    """`entities` has one partition: the story index lives in one place, fed by fingerprints computed upstream."""
    n = settings.partitions
    parts = {"raw-html": n, "cleaned": n, "entities": 1, "stories": n, "dead-letters": 1}
    return {key: TopicSpec(settings.topic(key), p) for key, p in parts.items()}


async def ensure_topics(bootstrap: str, settings: Settings) -> None:
    """Create missing topics with their partition counts (the broker's auto-create would pick its own)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from streams.runtime.broker import kafka_options

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(s.name, s.partitions, 1) for s in topic_specs(settings).values() if s.name not in existing]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()
