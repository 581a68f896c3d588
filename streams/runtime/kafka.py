"""Every Kafka client the project uses, built in one place from the frozen settings and the broker's URL.

Bootstrap servers, TLS/SASL options, message and fetch size limits, group names and the Faust app's Kafka
config come from here only; nothing else constructs an aiokafka client (`grep -rn aiokafka streams`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from streams.settings import Settings

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient


def bootstrap_servers(kafka_url: str) -> str:
    """'kafka://h:1,h2:2' or 'h:1' -> 'h:1,h2:2' for aiokafka."""
    return ",".join(part.split("://", 1)[-1] for part in kafka_url.split(","))


def faust_broker_url(kafka_url: str) -> str:
    return ";".join(f"kafka://{host}" for host in bootstrap_servers(kafka_url).split(","))


def kafka_options(settings: Settings) -> dict:
    """TLS and SASL options for every aiokafka client, from the settings (never from code)."""
    options: dict = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None)
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = (settings.kafka_sasl_password.get_secret_value()
                                          if settings.kafka_sasl_password else None)
    return options


def faust_credentials(settings: Settings):
    """The same options as Faust's `broker_credentials`."""
    import faust

    options = kafka_options(settings)
    if settings.kafka_security_protocol.startswith("SASL"):
        return faust.SASLCredentials(username=options["sasl_plain_username"],
                                     password=options["sasl_plain_password"],
                                     mechanism=settings.kafka_sasl_mechanism, ssl_context=options.get("ssl_context"))
    if settings.kafka_security_protocol == "SSL":
        return faust.SSLCredentials(options["ssl_context"])
    return None


def stream_group(settings: Settings) -> str:
    """The Faust agents' consumer group (raw-html, cleaned, entities)."""
    return settings.app_id


def sink_group(settings: Settings) -> str:
    """The warehouse sink's consumer group: its committed offsets are what reached the warehouse."""
    return f"{settings.app_id}-sink"


def max_message_bytes(settings: Settings) -> int:
    """The largest message produced: a page at the size limit, JSON-escaped (non-ASCII bytes grow)."""
    return 4 * settings.max_page_bytes


def max_fetch_bytes(settings: Settings) -> int:
    """One fetch holds at least two of the largest messages."""
    return 2 * max_message_bytes(settings)


class KafkaClients:
    """Builds the aiokafka consumers, producers and admin client of one broker, with one set of options."""

    def __init__(self, settings: Settings, kafka_url: str):
        self.settings = settings
        self.kafka_url = kafka_url
        self.bootstrap = bootstrap_servers(kafka_url)
        self.stream_group = stream_group(settings)
        self.sink_group = sink_group(settings)

    def _common(self) -> dict[str, Any]:
        return {"bootstrap_servers": self.bootstrap, **kafka_options(self.settings)}

    def producer(self) -> AIOKafkaProducer:
        """The producer every writer of raw pages and dead letters uses: zstd (the local broker keeps all in
        memory), acks from all replicas."""
        from aiokafka import AIOKafkaProducer

        return AIOKafkaProducer(compression_type="zstd", linger_ms=20,
                                max_request_size=max_message_bytes(self.settings), acks="all", **self._common())

    def sink_consumer(self, *topics: str) -> AIOKafkaConsumer:
        """The sink's group member: auto-commit off (it commits after the warehouse write, the no-loss rule)."""
        from aiokafka import AIOKafkaConsumer

        s = self.settings
        session_ms = int(s.group_session_timeout * 1000)
        return AIOKafkaConsumer(
            *topics, group_id=self.sink_group, enable_auto_commit=False, auto_offset_reset="earliest",
            max_partition_fetch_bytes=max_message_bytes(s), fetch_max_bytes=max_fetch_bytes(s),
            session_timeout_ms=session_ms, heartbeat_interval_ms=max(100, session_ms // 3),
            rebalance_timeout_ms=session_ms,
            # A warehouse outage holds the loop; leaving the group then is fine (nothing was committed).
            max_poll_interval_ms=max(300_000, int(s.sink_flush_seconds * 1000) * 10), **self._common())

    def reader(self, group: str | None = None, request_timeout_ms: int = 40_000,
               fetch_max_wait_ms: int = 500) -> AIOKafkaConsumer:
        """A consumer for manual assignment that never joins a group nor commits: reads by offset, end offsets,
        and (with `group`) that group's committed offsets."""
        from aiokafka import AIOKafkaConsumer

        s = self.settings
        return AIOKafkaConsumer(group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=max_message_bytes(s), fetch_max_bytes=max_fetch_bytes(s),
                                request_timeout_ms=request_timeout_ms, fetch_max_wait_ms=fetch_max_wait_ms,
                                **self._common())

    def admin(self) -> AIOKafkaAdminClient:
        from aiokafka.admin import AIOKafkaAdminClient

        return AIOKafkaAdminClient(**self._common())

    async def create_missing_topics(self, partitions: dict[str, int]) -> None:
        """Create the named topics the broker lacks, with these partition counts (replication 1)."""
        from aiokafka.admin import NewTopic

        admin = self.admin()
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            new = [NewTopic(name, n, 1) for name, n in partitions.items() if name not in existing]
            if new:
                await admin.create_topics(new)
        finally:
            await admin.close()

    async def offsets(self, topics: list[str], group: str | None = None,
                      request_timeout_ms: int = 40_000) -> dict[tuple[str, int], tuple[int, int | None]]:
        """Per (topic, partition): (end offset, `group`'s committed offset or None), without joining the group."""
        from aiokafka import TopicPartition

        consumer = self.reader(group=group, request_timeout_ms=request_timeout_ms)
        await consumer.start()
        try:
            await consumer.topics()  # fetches the metadata partitions_for_topic reads
            tps = [TopicPartition(topic, p) for topic in topics
                   for p in sorted(consumer.partitions_for_topic(topic) or [])]
            if not tps:
                return {}
            ends = await consumer.end_offsets(tps)
            return {(tp.topic, tp.partition): (ends[tp], await consumer.committed(tp) if group else None)
                    for tp in tps}
        finally:
            await consumer.stop()

    async def read_at(self, topic: str, wanted: dict[int, list[int]]) -> AsyncIterator[Any]:
        """The records at these ascending offsets per partition, reading each contiguous run once; offsets the
        broker no longer holds (retention) are skipped."""
        from aiokafka import TopicPartition

        consumer = self.reader()
        await consumer.start()
        try:
            for partition, offsets in wanted.items():
                tp = TopicPartition(topic, partition)
                consumer.assign([tp])
                async for record in _read_runs(consumer, tp, offsets):
                    yield record
        finally:
            await consumer.stop()

    async def past_committed(self, topic: str, partitions: int, group: str,
                             stall_seconds: float | None = None) -> list[bytes]:
        """The values on `topic` past `group`'s committed offsets: everything up to the end offsets, and then until
        a fetch at every partition's position has come back empty.

        The local broker reports the end of a partition as the start of its last batch + 1, too low when that
        batch holds several records, so the end offsets alone are not trusted; a fetch answered at the position
        with nothing past it is (with Kafka both agree). Reading polls the broker rather than waiting for the topic
        to stay idle. If that confirmation does not come within `stall_seconds` of the last record read, it is
        logged and what was read is returned (default: the `kafka_confirm_seconds` setting)."""
        import logging
        import time

        from aiokafka import TopicPartition

        # Manual assignment with the group's id: reads the group's committed offsets without joining the group.
        # A short fetch wait: an empty fetch answers "nothing past here" sooner.
        consumer = self.reader(group=group, fetch_max_wait_ms=50)
        if stall_seconds is None:
            stall_seconds = self.settings.kafka_confirm_seconds
        out: list[bytes] = []
        try:
            await consumer.start()  # inside: a start that fails (no broker) still stops the consumer
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            consumer.assign(tps)
            for tp in tps:
                offset = await consumer.committed(tp)
                if offset is not None and offset >= 0:
                    consumer.seek(tp, offset)
                else:
                    await consumer.seek_to_beginning(tp)
            ends = await consumer.end_offsets(tps)
            empty_since: float | None = None  # ms, wall clock, as aiokafka stamps fetch responses
            progress = time.monotonic()
            while True:
                # Stamps read before the poll: a fetch answered after `empty_since` whose records this poll does
                # not return held none.
                answered = empty_since is not None and all(
                    (consumer.last_poll_timestamp(tp) or 0) > empty_since for tp in tps)
                batch = await consumer.getmany(timeout_ms=50, max_records=5000)
                if batch:
                    out.extend(m.value for msgs in batch.values() for m in msgs if m.value is not None)
                    empty_since, progress = None, time.monotonic()
                    continue
                if time.monotonic() - progress > stall_seconds:  # a broker that never answers: say so, go on
                    logging.getLogger("newsstream").warning(
                        "%s: no empty fetch at positions %s (end offsets %s) within %gs; going on with %d records",
                        topic, {tp.partition: await consumer.position(tp) for tp in tps},
                        {tp.partition: ends[tp] for tp in tps}, stall_seconds, len(out))
                    return out
                if any([await consumer.position(tp) < ends[tp] for tp in tps]):
                    continue
                if answered:
                    return out
                if empty_since is None:
                    empty_since = time.time() * 1000
        finally:
            await consumer.stop()

    def faust_options(self) -> dict[str, Any]:
        """The Faust app's Kafka config: the same broker, credentials, limits and group timeouts."""
        s = self.settings
        return {
            "broker": faust_broker_url(self.kafka_url),
            "broker_credentials": faust_credentials(s),
            "producer_compression_type": "zstd",
            "producer_max_request_size": max_message_bytes(s),
            "consumer_max_fetch_size": max_message_bytes(s),
            # The local broker answers a group join only once half the group's session timeout has passed (the
            # worker on it runs with NEWSSTREAM_LOCAL_GROUP_SESSION_TIMEOUT); heartbeats as the sink's, a third of it.
            "broker_session_timeout": s.group_session_timeout,
            "broker_rebalance_timeout": s.group_session_timeout,
            "broker_heartbeat_interval": s.group_session_timeout / 3,
        }


async def _read_runs(consumer: AIOKafkaConsumer, tp: Any, offsets: list[int]) -> AsyncIterator[Any]:
    """The records at `offsets` (ascending) of an assigned partition, reading each contiguous run once."""
    wanted = set(offsets)
    i = 0
    while i < len(offsets):
        run_end = i
        while run_end + 1 < len(offsets) and offsets[run_end + 1] == offsets[run_end] + 1:
            run_end += 1
        consumer.seek(tp, offsets[i])
        last = offsets[run_end]
        position = offsets[i]
        while position <= last:
            got = await consumer.getmany(tp, timeout_ms=5000)
            records = got.get(tp, [])
            if not records:
                break  # deleted by retention, or beyond what the broker reports
            for record in records:
                position = record.offset + 1
                if record.offset in wanted:
                    yield record
                if record.offset >= last:
                    break
        i = run_end + 1
