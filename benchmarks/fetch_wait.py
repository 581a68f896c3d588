"""How late the local broker (Tansu) answers a waiting fetch when a record arrives, per fetch_max_wait_ms.

    python benchmarks/fetch_wait.py [--waits 1500,500,100] [--records 20]

A bare aiokafka consumer on a one-partition topic, a producer sending one record every 0.37 s (never aligned with
the wait); the latency of each record is its consume time minus its send time. Kafka answers a waiting fetch as
soon as a record arrives; a broker that does not makes every hop of a page wait. Faust's consumer uses 1500 ms
(fixed); NEWSSTREAM_CONSUMER_FETCH_WAIT_SECONDS sets the stages' and the sink's (docs/operations.md, Freshness).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.runtime.broker import LocalBroker  # noqa: E402


async def trial(servers: str, wait_ms: int, records: int, gap: float = 0.37) -> list[float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"fetch-wait-{wait_ms}-{time.monotonic_ns()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=servers, fetch_max_wait_ms=wait_ms,
                                auto_offset_reset="earliest", group_id=None)
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=0)
    await consumer.start()
    await producer.start()
    latencies: list[float] = []

    async def consume() -> None:
        while len(latencies) < records:
            got = await consumer.getmany(timeout_ms=100)
            now = time.time()
            latencies.extend(now - float(r.value.decode()) for rs in got.values() for r in rs)

    task = asyncio.ensure_future(consume())
    try:
        await asyncio.sleep(1)
        for _ in range(records):
            await producer.send_and_wait(topic, str(time.time()).encode())
            await asyncio.sleep(gap)
        await asyncio.wait_for(task, 30)
    finally:
        await producer.stop()
        await consumer.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waits", default="1500,500,100")
    parser.add_argument("--records", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fetch-wait-") as tmp, LocalBroker(Path(tmp)) as broker:
        servers = broker.url.split("://")[-1]
        for wait in (int(w) for w in args.waits.split(",")):
            lat = sorted(asyncio.run(trial(servers, wait, args.records)))
            print(f"fetch_max_wait_ms={wait:5d}: record latency mean {statistics.fmean(lat) * 1000:4.0f} ms, "
                  f"median {statistics.median(lat) * 1000:4.0f} ms, max {lat[-1] * 1000:4.0f} ms ({len(lat)} records)")


if __name__ == "__main__":
    main()
