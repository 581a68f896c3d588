"""What a worker's Kafka consumer holds with a backlog: fetch buffers and one poll, old limits against new.

    python benchmarks/fetch_memory.py [--pages 8000] [--partitions 4]

Fills a topic on the local broker with --pages pages of text that compresses like real HTML (zstd, as every
producer here), then, alternating twice in one process, starts a consumer with the old limits (20 MB a partition:
4 x NEWSSTREAM_MAX_PAGE_BYTES; polls unbounded) and with the new ones (NEWSSTREAM_FETCH_PARTITION_BYTES,
NEWSSTREAM_MAX_POLL_RECORDS), lets it prefetch, polls once, and prints the Python memory that consumer holds
(tracemalloc: aiokafka's buffers and records are Python objects) and how many records one poll returned.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import tempfile
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.runtime.broker import LocalBroker  # noqa: E402
from streams.runtime.kafka import KafkaClients, max_message_bytes  # noqa: E402
from streams.settings import Settings  # noqa: E402

WORDS = [f"w{i}" for i in range(20_000)]


def page(rng: random.Random) -> bytes:
    """~9 KB of words drawn from a large vocabulary: zstd gets it to ~40 %, about as real pages compress."""
    return " ".join(rng.choice(WORDS) for _ in range(1800)).encode()[:9000]


async def fill(clients: KafkaClients, topic: str, partitions: int, pages: int) -> None:
    await clients.create_missing_topics({topic: partitions})
    producer = clients.producer()
    await producer.start()
    rng = random.Random(1)
    try:
        for i in range(pages):
            await producer.send(topic, page(rng), partition=i % partitions)
        await producer.flush()
    finally:
        await producer.stop()


async def held(url: str, topic: str, partition_bytes: int, max_records: int | None) -> tuple[float, int]:
    """MiB of Python memory a fresh consumer holds after prefetching and one poll; records that poll returned."""
    from aiokafka import AIOKafkaConsumer

    from streams.runtime.kafka import bootstrap_servers

    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap_servers(url), group_id=None,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=partition_bytes,
                                max_poll_records=max_records)
    await consumer.start()
    try:
        got = await consumer.getmany(timeout_ms=5000)
        while not got:
            got = await consumer.getmany(timeout_ms=5000)
        await asyncio.sleep(3)  # the fetcher prefetches the other partitions meanwhile
        records = sum(len(v) for v in got.values())
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        await consumer.stop()
    del got
    return used / 2**20, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8000)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    shapes = {"old: 20 MB a partition, poll unbounded": (max_message_bytes(settings), None),
              f"new: {settings.fetch_partition_bytes} B a partition, poll {settings.max_poll_records}":
                  (settings.fetch_partition_bytes, settings.max_poll_records)}
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(Path(tmp)) as broker:
        clients = KafkaClients(settings, broker.url)
        asyncio.run(fill(clients, "backlog", args.partitions, args.pages))
        print(f"{args.pages} pages of 9,000 bytes in {args.partitions} partitions (zstd)")
        tracemalloc.start()
        for round_ in (1, 2):
            for name, (partition_bytes, max_records) in shapes.items():
                mib, records = asyncio.run(held(broker.url, "backlog", partition_bytes, max_records))
                print(f"round {round_}  {name:<45} holds {mib:7.1f} MiB; one poll returned {records:6d} records")


if __name__ == "__main__":
    main()
