"""Faust's aiokafka transport with the consumer's fetch wait taken from the settings.

Faust builds its consumer with a fixed `fetch_max_wait_ms=1500` and no option for it. A broker that answers a waiting
fetch late (the local Tansu: mean 0.3 s, up to 0.6 s, `benchmarks/fetch_wait.py`) delays every record that reaches
an idle partition, at each of a page's hops; `NEWSSTREAM_CONSUMER_FETCH_WAIT_SECONDS` bounds it.
The wait travels in the broker URL's query (`?fetch_wait_ms=100`), which Faust ignores when it lists the servers,
so each app carries its own value. Subclassing is the one way in: Faust has no setting, and this keeps the rest of
its consumer (assignor, rebalance listener, timeouts) as it is.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "newsstream-kafka"
"""The URL scheme Faust resolves to `Transport` below (registered in faust's transport registry by kafka.py)."""


def fetch_wait_ms(transport: Any, default: int = 1500) -> int:
    """The wait the first broker URL carries, else Faust's own."""
    value = transport.url[0].query.get("fetch_wait_ms") if transport.url else None
    return int(value) if value is not None else default


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = fetch_wait_ms(transport)  # read by the fetcher it creates at start()
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
