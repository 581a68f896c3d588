"""The one Kafka client factory (streams/runtime/kafka.py): options, size limits and group names, without a broker."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import aiokafka
import aiokafka.admin
import pytest

from streams.runtime import kafka as kafka_module
from streams.runtime.kafka import KafkaClients, bootstrap_servers, faust_broker_url, sink_group, stream_group
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
URL = "kafka://k1.test:9092,kafka://k2.test:9093"


def settings(**overrides) -> Settings:
    return Settings(_env_file=None, **({"app_id": "ns-test", "max_page_bytes": 1000} | overrides))


def sasl() -> Settings:
    return settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="SCRAM-SHA-512",
                    kafka_sasl_username="svc", kafka_sasl_password="s3cret-pw")


@pytest.fixture
def built(monkeypatch):
    """What each aiokafka class was built with: {class name: (positional args, options)}."""
    seen: dict[str, tuple[tuple, dict]] = {}

    def fake(name):
        class Fake:
            def __init__(self, *args, **options):
                seen[name] = (args, options)
        return Fake

    for module, name in ((aiokafka, "AIOKafkaProducer"), (aiokafka, "AIOKafkaConsumer"),
                         (aiokafka.admin, "AIOKafkaAdminClient")):
        monkeypatch.setattr(module, name, fake(name))
    return seen


def test_bootstrap_servers_and_faust_url_from_any_spelling():
    assert bootstrap_servers(URL) == "k1.test:9092,k2.test:9093"
    assert bootstrap_servers("k1.test:9092") == "k1.test:9092"
    assert faust_broker_url(URL) == "kafka://k1.test:9092;kafka://k2.test:9093"


def test_group_names_come_from_the_app_id():
    s = settings()
    assert stream_group(s) == "ns-test"
    assert sink_group(s) == "ns-test-sink"
    clients = KafkaClients(s, URL)
    assert (clients.stream_group, clients.sink_group) == ("ns-test", "ns-test-sink")


def test_the_producer_has_the_size_limit_compression_acks_and_security(built):
    KafkaClients(sasl(), URL).producer()
    _, options = built["AIOKafkaProducer"]
    assert options["bootstrap_servers"] == "k1.test:9092,k2.test:9093"
    assert options["max_request_size"] == 4000  # a page at the limit, JSON-escaped
    assert (options["compression_type"], options["acks"]) == ("zstd", "all")
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert (options["sasl_mechanism"], options["sasl_plain_username"], options["sasl_plain_password"]) == \
        ("SCRAM-SHA-512", "svc", "s3cret-pw")


def test_the_sink_consumer_is_its_group_commits_by_hand_and_fetches_whole_pages(built):
    KafkaClients(settings(group_session_timeout=6, sink_flush_seconds=1), URL).sink_consumer("a", "b")
    topics, options = built["AIOKafkaConsumer"]
    assert topics == ("a", "b")
    assert options["group_id"] == "ns-test-sink"
    assert options["enable_auto_commit"] is False  # commits follow the warehouse write: the no-loss guarantee
    assert options["auto_offset_reset"] == "earliest"
    assert options["max_partition_fetch_bytes"] == 4000 and options["fetch_max_bytes"] == 8000
    assert options["session_timeout_ms"] == options["rebalance_timeout_ms"] == 6000
    assert options["heartbeat_interval_ms"] == 2000
    assert options["max_poll_interval_ms"] >= 300_000
    assert options["bootstrap_servers"] == "k1.test:9092,k2.test:9093"
    assert options["security_protocol"] == "PLAINTEXT"


def test_a_reader_never_joins_nor_commits(built):
    KafkaClients(settings(), URL).reader(group="ns-test-sink", request_timeout_ms=5000)
    topics, options = built["AIOKafkaConsumer"]
    assert topics == ()  # manual assignment only
    assert options["group_id"] == "ns-test-sink" and options["enable_auto_commit"] is False
    assert options["request_timeout_ms"] == 5000
    assert options["max_partition_fetch_bytes"] == 4000
    KafkaClients(settings(), URL).reader()
    assert built["AIOKafkaConsumer"][1]["group_id"] is None


def test_the_admin_client_has_the_security_options(built):
    KafkaClients(sasl(), URL).admin()
    _, options = built["AIOKafkaAdminClient"]
    assert options["bootstrap_servers"] == "k1.test:9092,k2.test:9093"
    assert options["sasl_plain_password"] == "s3cret-pw"


def test_faust_takes_the_same_broker_credentials_limits_and_timeouts():
    import faust

    options = KafkaClients(sasl().model_copy(update={"group_session_timeout": 7.0}), URL).faust_options()
    assert options["broker"] == "kafka://k1.test:9092;kafka://k2.test:9093"
    assert isinstance(options["broker_credentials"], faust.SASLCredentials)
    assert options["producer_max_request_size"] == options["consumer_max_fetch_size"] == 4000
    assert options["broker_session_timeout"] == options["broker_rebalance_timeout"] == 7.0
    assert KafkaClients(settings(), URL).faust_options()["broker_credentials"] is None


def test_aiokafka_accepts_every_option_the_factory_gives():
    """Real clients (never started): a misspelled option is a TypeError here, not at a user's first run."""
    async def build():
        clients = KafkaClients(sasl(), URL)
        for client in (clients.producer(), clients.sink_consumer("t"), clients.reader(group="g")):
            assert type(client).__module__.startswith("aiokafka")
        assert type(clients.admin()).__module__.startswith("aiokafka")

    asyncio.run(build())


def test_the_app_is_built_with_the_factorys_kafka_config(tmp_path):
    from streams.pipeline.topology import create_app

    s = settings(data_dir=str(tmp_path), group_session_timeout=4.0, **{"NEWSSTREAM_SINK": False})
    app = create_app(s, URL)
    assert app.conf.id == "ns-test"
    assert app.conf.producer_max_request_size == 4000 and app.conf.consumer_max_fetch_size == 4000
    assert app.conf.broker_session_timeout == 4.0
    assert app.conf.broker_heartbeat_interval < 4.0 / 2  # a member heartbeats several times within its session
    assert [str(u) for u in app.conf.broker] == ["kafka://k1.test:9092", "kafka://k2.test:9093"]


def test_the_consumers_fetch_wait_comes_from_the_settings(built):
    """Faust fixes its consumer's fetch wait at 1.5 s; the sink's would be aiokafka's 0.5 s. Both take the setting."""
    KafkaClients(settings(consumer_fetch_wait_seconds=0.25), URL).sink_consumer("a")
    assert built["AIOKafkaConsumer"][1]["fetch_max_wait_ms"] == 250


def test_the_faust_app_consumer_waits_as_the_settings_say(tmp_path):
    from streams.pipeline.topology import create_app
    from streams.runtime.faust_transport import ConsumerThread, Transport

    s = settings(data_dir=str(tmp_path), consumer_fetch_wait_seconds=0.25, **{"NEWSSTREAM_SINK": False})
    app = create_app(s, URL)
    assert isinstance(app.transport, Transport)
    assert [(u.host, u.port) for u in app.transport.url] == [("k1.test", 9092), ("k2.test", 9093)]
    assert isinstance(app.consumer._thread, ConsumerThread)

    async def built():  # aiokafka builds a consumer inside a running loop; never started here
        return app.consumer._thread._create_worker_consumer(app.transport)

    consumer = asyncio.run(built())
    assert consumer._fetch_max_wait_ms == 250  # what aiokafka's fetcher is created with at start()
    assert consumer._client._bootstrap_servers == ["k1.test:9092", "k2.test:9093"]
    assert consumer._group_id == "ns-test"
    # the producer side is unchanged
    assert [str(u) for u in app.conf.broker_producer] == ["kafka://k1.test:9092", "kafka://k2.test:9093"]


def test_a_fetch_wait_outside_its_bounds_is_refused():
    import pydantic

    for bad in (0, 0.001, -1, 31, float("nan")):  # under 10 ms a consumer would ask the broker without pause
        with pytest.raises(pydantic.ValidationError):
            settings(consumer_fetch_wait_seconds=bad)


def test_no_module_but_the_factory_builds_an_aiokafka_client():
    clients = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}
    builders = []
    for path in (ROOT / "streams").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in clients:
                    builders.append(path.relative_to(ROOT).as_posix())
    assert set(builders) == {Path(kafka_module.__file__).relative_to(ROOT).as_posix()}


def test_every_reader_of_the_sink_group_uses_the_one_name(monkeypatch):
    """The story index reads past the sink's commits, lag is measured for it, the sink joins it: one name."""
    from streams.ops.reconcile import record_lag
    from streams.runtime.metrics import WorkerMetrics
    from streams.runtime.story_index_loader import unsunk_stories

    seen = []

    async def past_committed(self, topic, partitions, group, idle_seconds=2.0):
        seen.append(("index", group))
        return []

    async def offsets(self, topics, group=None, request_timeout_ms=40_000):
        seen.append(("lag", group))
        return {(topics[0], 0): (10, 4 if group == self.sink_group else None)}

    monkeypatch.setattr(KafkaClients, "past_committed", past_committed)
    monkeypatch.setattr(KafkaClients, "offsets", offsets)
    s = settings()
    asyncio.run(unsunk_stories(KafkaClients(s, URL), "ns-test.stories", 2))
    rows = asyncio.run(record_lag(s, URL, WorkerMetrics()))
    assert seen == [("index", "ns-test-sink"), ("lag", "ns-test"), ("lag", "ns-test-sink")]
    assert {(r["grp"], r["lag"]) for r in rows} == {("ns-test", 10), ("ns-test-sink", 6)}


def test_the_clean_child_starts_with_the_app_not_on_the_first_page(tmp_path):
    from streams.pipeline.topology import create_app

    app = create_app(settings(data_dir=str(tmp_path), **{"NEWSSTREAM_SINK": False}), URL)
    started = []

    class Budget:
        def prestart(self) -> None:
            started.append(True)

    app.clean_budget = Budget()  # type: ignore[assignment]
    asyncio.run(app.on_first_start())
    assert started == [True]


class ScriptedReader:
    """A reader whose polls return scripted batches; every poll stamps each partition as just fetched (aiokafka's
    last_poll_timestamp), unless `answers` is False (a broker that never answers a fetch)."""

    def __init__(self, script: list[dict[int, list[bytes]]], ends: dict[int, int], answers: bool = True):
        self.script, self.ends, self.answers = list(script), ends, answers
        self.positions: dict = {}
        self.stamps: dict = {}
        self.polls = 0

    async def start(self): ...
    async def stop(self): ...

    def assign(self, tps):
        self.tps = tps
        self.positions = {tp: 0 for tp in tps}

    async def committed(self, tp):
        return None

    async def seek_to_beginning(self, tp):
        self.positions[tp] = 0

    async def end_offsets(self, tps):
        return {tp: self.ends.get(tp.partition, 0) for tp in tps}

    async def position(self, tp):
        return self.positions[tp]

    def last_poll_timestamp(self, tp):
        return self.stamps.get(tp)

    async def getmany(self, timeout_ms, max_records):
        import time
        from types import SimpleNamespace

        self.polls += 1
        await asyncio.sleep(0.001)
        batch = self.script.pop(0) if self.script else {}
        out = {}
        for tp in self.tps:
            values = batch.get(tp.partition, [])
            if values:
                out[tp] = [SimpleNamespace(value=v) for v in values]
                self.positions[tp] += len(values)
            if self.answers:
                self.stamps[tp] = time.time() * 1000
        return out


def test_past_committed_reads_on_past_the_end_offsets_until_a_fetch_finds_nothing(monkeypatch):
    # The end offset says 1, but more records come after an empty poll (a batch the broker counted as one record).
    reader = ScriptedReader([{}, {0: [b"a"]}, {}, {0: [b"b", b"c"]}], ends={0: 1})
    monkeypatch.setattr(KafkaClients, "reader", lambda self, **kw: reader)
    got = asyncio.run(KafkaClients(settings(), URL).past_committed("t", 2, "g"))
    assert got == [b"a", b"b", b"c"]


def test_past_committed_gives_up_when_no_fetch_ever_answers(monkeypatch, caplog):
    reader = ScriptedReader([], ends={0: 5}, answers=False)
    monkeypatch.setattr(KafkaClients, "reader", lambda self, **kw: reader)
    got = asyncio.run(KafkaClients(settings(), URL).past_committed("t", 1, "g", stall_seconds=0.2))
    assert got == [] and "no empty fetch" in caplog.text


def test_past_committed_waits_for_a_confirmation_as_long_as_the_setting_says(monkeypatch, caplog):
    reader = ScriptedReader([], ends={0: 5}, answers=False)
    monkeypatch.setattr(KafkaClients, "reader", lambda self, **kw: reader)
    got = asyncio.run(KafkaClients(settings(kafka_confirm_seconds=0.3), URL).past_committed("t", 1, "g"))
    assert got == [] and "within 0.3s" in caplog.text


def test_the_clean_agent_runs_as_many_pages_at_once_as_the_setting_says(tmp_path):
    """Each clean actor waits on its own child: `clean_workers` pages are cleaned side by side, in as many children."""
    from streams.pipeline.topology import create_app

    for workers in (1, 3):
        app = create_app(settings(data_dir=str(tmp_path), clean_workers=workers, **{"NEWSSTREAM_SINK": False}), URL)
        assert app.agents["clean"].concurrency == workers
        assert app.clean_budget.workers == workers
        assert app.agents["entities"].concurrency == 1 and app.agents["stories"].concurrency == 1
