"""Prometheus metrics of a worker, served at /metrics; one registry per app so tests can start several."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.stage_outcomes = Counter("newsstream_stage_messages", "Messages each stage handled, by outcome.",
                                      ["stage", "outcome"], registry=r)
        self.dead_letters = Counter("newsstream_dead_letters", "Dead letters written to the warehouse, by stage "
                                    "and reason.", ["stage", "reason"], registry=r)
        self.stage_batch = Histogram("newsstream_stage_batch_events", "Events a batching stage's agent took at once "
                                     "(those already waiting, up to its batch size: the entities agent; nothing "
                                     "with NEWSSTREAM_ENTITIES_BATCH_SIZE=1).",
                                     ["stage"], buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=r)
        self.sink_batch_rows = Histogram("newsstream_sink_batch_messages", "Messages per warehouse write.",
                                         buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000), registry=r)
        self.sink_errors = Counter("newsstream_sink_errors", "Failed warehouse writes, by kind: transient "
                                   "(retried with backoff) or permanent (the batch is split).", ["kind"], registry=r)
        self.sink_retries = Counter("newsstream_sink_retries", "Warehouse writes retried after a transient error "
                                    "(at most NEWSSTREAM_SINK_MAX_RETRIES per write).", registry=r)
        self.sink_refused = Counter("newsstream_sink_refused", "Messages whose rows the warehouse refused; each "
                                    "became a `sink` dead letter.", registry=r)
        self.sink_rows = Counter("newsstream_sink_rows", "Rows written to the warehouse, by table.", ["table"],
                                 registry=r)
        self.end_to_end = Histogram("newsstream_raw_to_warehouse_seconds", "From the raw message's timestamp to "
                                    "its outcome being written to the warehouse.", buckets=LATENCY_BUCKETS,
                                    registry=r)
        self.lag = Gauge("newsstream_consumer_lag", "Messages not yet consumed, by topic and partition (sink "
                         "group for stories/dead-letters, reconcile's view for raw-html).",
                         ["topic", "partition"], registry=r)
        self.reconciled = Counter("newsstream_reconcile_resent", "Raw messages re-sent by reconcile because no "
                                  "outcome reached the warehouse.", registry=r)
        self.unaccounted = Gauge("newsstream_reconcile_missing", "Archived pages without an outcome at the last "
                                 "reconcile (older than the grace period).", registry=r)
        self.broker_restarts = Gauge("newsstream_broker_restarts", "Times `newsstream run` restarted the broker it "
                                     "supervises (or this worker, after Kafka went away) since it started.", registry=r)
        self.broker_up = Gauge("newsstream_broker_up", "1 while this worker reaches Kafka, 0 while it does not.",
                               registry=r)
        self.broker_losses = Counter("newsstream_broker_connection_losses", "Times this worker lost its connection "
                                     "to Kafka (each is logged, and retried).", registry=r)
        self.healed = Counter("newsstream_broker_heal_resent", "Archived pages re-sent because the broker they were "
                              "in was lost (restarted empty).", registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
