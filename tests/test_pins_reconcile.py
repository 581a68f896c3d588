"""Fast pins for reconcile and replay (no broker, no warehouse): the grace period, pages the ledger already covers,
oldest-first and `limit`, the damaged/oversized archive entries that still end with one outcome, replay's selection.

The integration tests (test_recovery, test_broker_loss) run the same code against a real broker; these fail in
well under a second when one of its decisions is inverted.
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from datetime import UTC, datetime, timedelta, timezone

import aiokafka
import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import MessageSizeTooLargeError

from schemas.records import RawPage
from streams.inputs import archive
from streams.inputs.ingest import raw_key
from streams.ops import reconcile as reconcile_module
from streams.ops.reconcile import CHUNK, SAMPLE, ReconcileReport, landed, reconcile, replay, resend_archived
from streams.pipeline.identity import canonicalize_url
from streams.runtime.kafka import KafkaClients, _read_runs
from streams.runtime.metrics import WorkerMetrics
from streams.settings import Settings

KAFKA = "kafka://127.0.0.1:1"  # never dialled: dry runs and a fake producer


def page(n: int, url: str | None = "default") -> RawPage:
    url = f"https://Example.org/news/{n}?utm_source=x" if url == "default" else url
    return RawPage(html=f"<p>page {n}</p>", source=f"feed-{n}", url=url, page_id=f"p{n:03d}", content_type="text/html")


def archived(tmp_path, ages_seconds: list[float], **page_kwargs) -> Settings:
    """An archive whose page i entered `ages_seconds[i]` seconds ago (now: not at import, which may be long before)."""
    settings = Settings(_env_file=None, data_dir=tmp_path)
    now = datetime.now(UTC)
    with archive.ArchiveWriter(settings.archive_path) as writer:
        for n, age in enumerate(ages_seconds):
            writer.append(page(n, **page_kwargs), entered_at=now - timedelta(seconds=age))
    return settings


def ledger(*page_ids: str):
    """A warehouse query answering the ledger lookup with the page ids that have an outcome; records its calls."""
    calls = []

    async def query(sql: str, parameters: dict | None = None) -> list[tuple]:
        calls.append((sql, parameters))
        return [(p,) for p in parameters["ids"] if p in page_ids]

    query.calls = calls
    return query


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=20))


# -- reconcile: what counts as missing -----------------------------------------------------------------------------


def test_pages_younger_than_the_grace_are_in_flight_not_missing(tmp_path):
    settings = archived(tmp_path, [3600, 30, 7200])
    report = run(reconcile(settings, KAFKA, ledger(), grace_seconds=60, dry_run=True))
    assert (report.archived, report.missing, report.in_flight, report.resent) == (3, 2, 1, 0)
    assert [s["page_id"] for s in report.sample] == ["p002", "p000"], "oldest first, the young page left alone"


def test_the_default_grace_comes_from_the_settings(tmp_path):
    settings = archived(tmp_path, [50, 500]).model_copy(update={"reconcile_grace_seconds": 100.0})
    report = run(reconcile(settings, KAFKA, ledger(), dry_run=True))
    assert (report.missing, report.in_flight) == (1, 1)
    assert report.sample[0]["page_id"] == "p001"


def test_a_page_exactly_at_the_grace_is_missing_and_zero_grace_takes_every_page(tmp_path):
    settings = archived(tmp_path, [0, 10])
    report = run(reconcile(settings, KAFKA, ledger(), grace_seconds=0, dry_run=True))
    assert (report.missing, report.in_flight) == (2, 0)


def test_entered_before_a_broker_restart_counts_even_inside_the_grace(tmp_path):
    settings = archived(tmp_path, [30, 5, 3600])
    restart = datetime.now(UTC) - timedelta(seconds=10)
    report = run(reconcile(settings, KAFKA, ledger(), grace_seconds=600, entered_before=restart, dry_run=True))
    assert [s["page_id"] for s in report.sample] == ["p002", "p000"]
    assert report.in_flight == 1
    # An earlier restart never shortens the grace.
    report = run(reconcile(settings, KAFKA, ledger(), grace_seconds=60, entered_before=restart - timedelta(days=1),
                           dry_run=True))
    assert [s["page_id"] for s in report.sample] == ["p002"]


def test_pages_the_ledger_covers_are_not_missing(tmp_path):
    settings = archived(tmp_path, [100, 200, 300])
    query = ledger("p000", "p002")
    report = run(reconcile(settings, KAFKA, query, grace_seconds=10, dry_run=True))
    assert report.missing == 1 and [s["page_id"] for s in report.sample] == ["p001"]
    assert report.sample[0] == {"page_id": "p001", "url": "https://Example.org/news/1?utm_source=x",
                                "source": "feed-1", "entered_at": report.sample[0]["entered_at"]}
    entered = {e.page_id: e.entered_at for e in archive.entries(settings.archive_path)}
    assert datetime.fromisoformat(report.sample[0]["entered_at"]) == entered["p001"]
    sql, parameters = query.calls[0]
    assert "ledger" in sql and "{ids:Array(String)}" in sql and sorted(parameters["ids"]) == ["p000", "p001", "p002"]


def test_a_page_archived_twice_is_one_page(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    now = datetime.now(UTC)
    with archive.ArchiveWriter(settings.archive_path) as writer:
        writer.append(page(1), entered_at=now - timedelta(seconds=500))
        writer.append(page(1), entered_at=now - timedelta(seconds=5))
    report = run(reconcile(settings, KAFKA, ledger(), grace_seconds=60, dry_run=True))
    assert (report.archived, report.missing, report.in_flight) == (1, 1, 0), "the first entry decides its age"


def test_the_ledger_is_asked_in_chunks():
    ids = [f"p{i}" for i in range(2 * CHUNK + 1)]
    query = ledger(*ids[::2])
    found = run(landed(query, ids))
    assert found == set(ids[::2])
    assert [len(p["ids"]) for _, p in query.calls] == [CHUNK, CHUNK, 1]


def test_the_sample_is_capped(tmp_path):
    settings = archived(tmp_path, [1000 + i for i in range(SAMPLE + 3)])
    report = run(reconcile(settings, KAFKA, ledger(), grace_seconds=1, dry_run=True))
    assert report.missing == SAMPLE + 3 and len(report.sample) == SAMPLE


def test_a_dry_run_sends_nothing_and_a_real_run_sends_the_oldest_up_to_the_limit(tmp_path, monkeypatch):
    settings = archived(tmp_path, [100, 400, 300, 200, 5])
    sent = []

    async def fake_resend(settings_, kafka_url, wanted, report, replace=False):
        sent.append(([e.page_id for e in wanted], kafka_url, replace))
        report.resent += len(wanted)

    monkeypatch.setattr(reconcile_module, "resend_archived", fake_resend)
    metrics = WorkerMetrics()
    report = run(reconcile(settings, KAFKA, ledger("p002"), grace_seconds=60, dry_run=True, metrics=metrics))
    assert sent == [] and report.missing == 3
    assert metrics.unaccounted._value.get() == 3 and metrics.reconciled._value.get() == 0
    report = run(reconcile(settings, KAFKA, ledger("p002"), grace_seconds=60, limit=2, metrics=metrics))
    assert sent == [(["p001", "p003"], KAFKA, False)]
    assert report.resent == 2 and report.missing == 3
    assert metrics.reconciled._value.get() == 2 and metrics.unaccounted._value.get() == 3


def test_nothing_missing_sends_nothing(tmp_path, monkeypatch):
    settings = archived(tmp_path, [100])

    async def no_resend(*args, **kwargs):
        raise AssertionError("nothing to send")

    monkeypatch.setattr(reconcile_module, "resend_archived", no_resend)
    assert run(reconcile(settings, KAFKA, ledger("p000"), grace_seconds=0)).missing == 0


def test_the_report_reads_as_a_sentence():
    report = ReconcileReport(archived=9, missing=4, in_flight=2, resent=3, dead_lettered=1)
    assert report.summary() == ("4 archived pages without outcome: 3 re-sent, 1 dead-lettered (unreadable in the "
                                "archive); 2 younger ones still in flight")
    assert report.as_dict()["in_flight"] == 2


# -- resend_archived: every wanted page ends with a message -----------------------------------------------------------


class FakeProducer:
    def __init__(self, refuse_larger_than: int | None = None):
        self.sent: list[tuple[str, dict, bytes | None]] = []
        self.started = self.stopped = False
        self.refuse_larger_than = refuse_larger_than

    async def start(self):
        self.started = True

    async def stop(self):
        self.stopped = True

    async def send(self, topic, value, key=None):
        if self.refuse_larger_than is not None and len(value) > self.refuse_larger_than and topic.endswith("raw-html"):
            raise MessageSizeTooLargeError()
        self.sent.append((topic, orjson.loads(value), key))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
def producer(monkeypatch):
    fake = FakeProducer()

    async def no_topics(*args, **kwargs):
        return None

    def producer_for(clients):
        assert clients.bootstrap == "127.0.0.1:1", "the producer dials the broker reconcile was given"
        return fake

    monkeypatch.setattr(reconcile_module, "ensure_topics", no_topics)
    monkeypatch.setattr(KafkaClients, "producer", producer_for)
    return fake


def test_archived_pages_are_resent_keyed_by_their_canonical_url(tmp_path, producer):
    settings = archived(tmp_path, [10, 20])
    wanted = list(archive.first_by_page(archive.entries(settings.archive_path)).values())
    report = ReconcileReport()
    run(resend_archived(settings, KAFKA, wanted, report))
    assert report.resent == 2 and report.dead_lettered == 0
    assert producer.started and producer.stopped
    topics = {topic for topic, _, _ in producer.sent}
    assert topics == {settings.topic("raw-html")}
    by_id = {value["page_id"]: (value, key) for _, value, key in producer.sent}
    value, key = by_id["p001"]
    assert value["html"] == "<p>page 1</p>" and value["source"] == "feed-1" and not value.get("replace")
    assert key == raw_key(canonicalize_url("https://Example.org/news/1?utm_source=x"))


def test_a_page_without_url_is_keyed_by_its_source_and_replace_is_carried(tmp_path, producer):
    settings = archived(tmp_path, [10], url=None)
    wanted = list(archive.entries(settings.archive_path))
    run(resend_archived(settings, KAFKA, wanted, ReconcileReport(), replace=True))
    (_, value, key), = producer.sent
    assert key == raw_key("feed-0") and value["replace"] is True


def test_a_damaged_archive_entry_becomes_a_dead_letter_under_its_page_id(tmp_path, producer):
    settings = archived(tmp_path, [10, 20])
    wanted = list(archive.entries(settings.archive_path))
    damaged = [archive.Entry(wanted[0].page_id, "no-such-segment", 0, wanted[0].entered_at, wanted[0].url,
                             wanted[0].source), wanted[1]]
    report = ReconcileReport()
    run(resend_archived(settings, KAFKA, damaged, report))
    assert (report.resent, report.dead_lettered) == (1, 1)
    letters = [value for topic, value, _ in producer.sent if topic == settings.topic("dead-letters")]
    assert len(letters) == 1
    letter = letters[0]
    assert letter["stage"] == "archive" and letter["reason"] == "archive damaged"
    assert letter["raw"]["page_id"] == "p000" and letter["raw"]["topic"] == settings.topic("raw-html")
    assert (letter["raw"]["partition"], letter["raw"]["offset"]) == (-1, -1), "no broker position: from the archive"
    assert letter["source"] == "feed-0" and letter["url"] == wanted[0].url


def test_a_page_the_broker_refuses_as_too_large_becomes_a_dead_letter(tmp_path, producer):
    settings = archived(tmp_path, [10])
    producer.refuse_larger_than = 10
    report = ReconcileReport()
    run(resend_archived(settings, KAFKA, list(archive.entries(settings.archive_path)), report))
    assert (report.resent, report.dead_lettered) == (0, 1)
    (topic, letter, _), = producer.sent
    assert topic == settings.topic("dead-letters")
    assert letter["reason"] == "oversized" and letter["raw"]["page_id"] == "p000" and "-byte" in letter["error"]
    assert (letter["raw"]["partition"], letter["raw"]["offset"]) == (-1, -1)
    assert letter["source"] == "feed-0" and letter["url"] == "https://Example.org/news/0?utm_source=x"


# -- replay: which dead letters are selected -------------------------------------------------------------------------


def recorder(rows: list[tuple], not_replayable: int = 0):
    calls = []

    async def query(sql: str, parameters: dict | None = None) -> list[tuple]:
        calls.append((sql, dict(parameters or {})))
        return [(not_replayable,)] if "count()" in sql else rows

    query.calls = calls
    return query


def test_replay_selects_dead_letters_by_reason_stage_and_time_with_bound_parameters(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    query = recorder([("p1", settings.topic("raw-html"), 0, 5, "empty"), ("p2", settings.topic("raw-html"), 0, 6,
                                                                        "empty"),
                      ("p3", settings.topic("raw-html"), 1, 7, "schema")], not_replayable=4)
    report = run(replay(settings, KAFKA, query, stage="clean", reason="empty", since="2024-05-01T00:00:00",
                        dry_run=True))
    assert (report.selected, report.not_replayable, report.resent) == (3, 4, 0)
    assert report.reasons == {"empty": 2, "schema": 1}
    (select, params), (count, count_params) = query.calls
    assert params == {"topic": settings.topic("raw-html"), "reason": "empty", "since": "2024-05-01T00:00:00",
                      "stage": "clean"}
    assert count_params == params
    for clause in ("outcome = 'dead_letter'", "reason = {reason:String}", "{since:String}", "stage = {stage:String}"):
        assert clause in select
    for clause in ("reason = {reason:String}", "at >= ", "stage = {stage:String}"):
        assert clause in count
    assert "empty" not in select and "clean" not in select, "values are bound, never spliced in"


def test_replay_without_filters_selects_every_dead_letter(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    query = recorder([])
    report = run(replay(settings, KAFKA, query, dry_run=True))
    (select, params), (count, _) = query.calls
    assert params == {"topic": settings.topic("raw-html")}
    assert "reason =" not in select and "stage =" not in select and "since" not in select
    assert count.rstrip().endswith("page_id = ''") and report.as_dict()["selected"] == 0


def test_replay_refuses_a_since_that_is_not_a_time(tmp_path):
    with pytest.raises(ValueError, match="since: not a time"):
        run(replay(Settings(_env_file=None, data_dir=tmp_path), KAFKA, recorder([]), since="last tuesday"))


def test_replay_resends_archived_pages_from_the_archive_and_the_rest_from_the_topic(tmp_path, monkeypatch):
    settings = archived(tmp_path, [10])
    raw = settings.topic("raw-html")
    rows = [("p000", raw, 0, 3, "empty"), ("gone1", raw, 1, 9, "empty"), ("gone2", raw, 1, 4, "empty"),
            ("gone3", "other-topic", 0, 1, "empty"), ("gone4", raw, 0, -1, "empty")]
    from_archive, from_topic = [], []

    async def fake_resend(settings_, kafka_url, wanted, report, replace=False):
        assert settings_ is settings and kafka_url == KAFKA and not replace
        from_archive.extend(e.page_id for e in wanted)
        report.resent += len(wanted)

    async def fake_topic(settings_, kafka_url, wanted):
        assert kafka_url == KAFKA
        from_topic.append(wanted)
        return sum(len(o) for o in wanted.values())

    monkeypatch.setattr(reconcile_module, "resend_archived", fake_resend)
    monkeypatch.setattr(reconcile_module, "_resend_from_topic", fake_topic)
    report = run(replay(settings, KAFKA, recorder(rows)))
    assert from_archive == ["p000"]
    assert from_topic == [{1: [4, 9]}], "only raw-topic offsets >= 0, ascending per partition"
    assert report.resent == 3 and report.selected == 5


# -- reading raw records back by offset -------------------------------------------------------------------------------

Record = namedtuple("Record", "offset")


class FakeConsumer:
    """A partition holding offsets [first, end); `getmany` returns up to `batch` records from the position."""

    def __init__(self, first: int, end: int, batch: int = 3):
        self.first, self.end, self.batch = first, end, batch
        self.position = 0
        self.seeks: list[int] = []

    def seek(self, tp, offset):
        self.seeks.append(offset)
        self.position = offset

    async def getmany(self, tp, timeout_ms=0):
        start = max(self.position, self.first)
        records = [Record(o) for o in range(start, min(start + self.batch, self.end))]
        if records:
            self.position = records[-1].offset + 1
        return {tp: records} if records else {}


async def read(consumer, offsets):
    return [r.offset async for r in _read_runs(consumer, TopicPartition("t", 0), offsets)]


def test_records_are_read_back_by_offset_seeking_once_per_contiguous_run():
    consumer = FakeConsumer(0, 100)
    assert run(read(consumer, [2, 3, 4, 5, 6, 7, 20, 40, 41])) == [2, 3, 4, 5, 6, 7, 20, 40, 41]
    assert consumer.seeks == [2, 20, 40]


def test_offsets_the_broker_no_longer_holds_are_skipped():
    consumer = FakeConsumer(10, 15)
    assert run(read(consumer, [3, 4, 12, 30])) == [12]


# -- dead letters read back from the raw topic, consumer lag (a fake consumer in place of aiokafka's) -----------------

TopicRecord = namedtuple("TopicRecord", "topic partition offset timestamp key value")


class TopicConsumer:
    """Holds a raw topic's records per partition; `getmany` returns them from the sought position."""

    instances: list = []

    def __init__(self, *topics, **options):
        self.options = options
        self.records: dict[int, list[TopicRecord]] = {}
        self.assigned: list = []
        self.started = self.stopped = False
        self.position: dict = {}
        TopicConsumer.instances.append(self)

    async def start(self):
        self.started = True

    async def stop(self):
        self.stopped = True

    def assign(self, tps):
        self.assigned.append(list(tps))

    def seek(self, tp, offset):
        self.position[tp] = offset

    async def getmany(self, tp, timeout_ms=0):
        found = [r for r in self.records.get(tp.partition, []) if r.offset >= self.position.get(tp, 0)][:2]
        if found:
            self.position[tp] = found[-1].offset + 1
        return {tp: found} if found else {}


def test_dead_letters_never_archived_are_read_back_by_offset_and_sent_with_their_origin(tmp_path, monkeypatch):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    raw = settings.topic("raw-html")
    with_origin = {"source": "s1", "html": "<p>1</p>", "origin": {"topic": "x", "partition": 9, "offset": 9}}
    records = {0: [TopicRecord(raw, 0, 3, 1_700_000_000_000, b"k3", orjson.dumps({"source": "s3", "html": "<p>3</p>"})),
                   TopicRecord(raw, 0, 4, 1_700_000_000_000, b"k4", orjson.dumps(with_origin)),
                   TopicRecord(raw, 0, 5, None, b"k5", orjson.dumps({"source": "s5", "html": "<p>5</p>"}))],
               1: [TopicRecord(raw, 1, 0, None, None, b"not json"),
                   TopicRecord(raw, 1, 1, None, None, b"[1, 2]"),
                   TopicRecord(raw, 1, 2, 0, b"k", orjson.dumps({"source": "s12", "html": "<p>12</p>"}))]}
    producer = FakeProducer()
    TopicConsumer.instances.clear()

    def consumer(*topics, **options):
        made = TopicConsumer(*topics, **options)
        made.records = records
        return made

    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", consumer)  # what streams.runtime.kafka builds
    monkeypatch.setattr(KafkaClients, "producer", lambda clients: producer)
    sent = run(reconcile_module._resend_from_topic(settings, KAFKA, {0: [3, 4, 5], 1: [0, 1, 2]}))
    assert sent == 4, "the two records that are not JSON objects are skipped"
    (made,) = TopicConsumer.instances
    assert made.started and made.stopped and producer.started and producer.stopped
    assert made.options["enable_auto_commit"] is False and made.options.get("group_id") is None
    assert made.options["max_partition_fetch_bytes"] >= settings.max_page_bytes
    assert made.options["fetch_max_bytes"] >= made.options["max_partition_fetch_bytes"]
    assert made.options["bootstrap_servers"] == "127.0.0.1:1"
    assert [[tp.partition for tp in tps] for tps in made.assigned] == [[0], [1]]
    assert {topic for topic, _, _ in producer.sent} == {raw}
    by_source = {value["source"]: (value, key) for _, value, key in producer.sent}
    assert by_source["s3"][0]["origin"] == {"topic": raw, "partition": 0, "offset": 3,
                                            "timestamp": "2023-11-14T22:13:20Z", "page_id": None, "replace": False}
    assert by_source["s3"][1] == b"k3"
    assert by_source["s1"][0]["origin"] == with_origin["origin"], "an origin already there is kept"
    assert by_source["s5"][0]["origin"]["timestamp"] is None and by_source["s5"][0]["origin"]["offset"] == 5
    assert by_source["s12"][0]["origin"]["timestamp"] is None, "timestamp 0 means none"
    assert by_source["s12"][0]["origin"]["partition"] == 1


class LagConsumer:
    made: list = []

    def __init__(self, *topics, group_id=None, **options):
        self.group_id = group_id
        self.options = options
        self.stopped = False
        LagConsumer.made.append(self)

    async def start(self):
        pass

    async def stop(self):
        self.stopped = True

    async def topics(self):
        return set()

    def partitions_for_topic(self, topic):
        return {"newsstream.raw-html": {1, 0}, "newsstream.stories": {0}}.get(topic)

    async def end_offsets(self, tps):
        return {tp: 10 * (tp.partition + 1) for tp in tps}

    async def committed(self, tp):
        return {("newsstream", "newsstream.raw-html", 0): 4, ("newsstream", "newsstream.raw-html", 1): 25,
                ("newsstream-sink", "newsstream.stories", 0): None}.get((self.group_id, tp.topic, tp.partition))


def test_lag_is_end_minus_committed_per_group_and_partition(tmp_path, monkeypatch):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    LagConsumer.made.clear()
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", LagConsumer)
    metrics = WorkerMetrics()
    rows = run(reconcile_module.record_lag(settings, KAFKA, metrics))
    assert [(r["grp"], r["topic"], r["partition"], r["lag"]) for r in rows] == [
        ("newsstream", "newsstream.raw-html", 0, 6),
        ("newsstream", "newsstream.raw-html", 1, 0),    # committed past the end: never negative
        ("newsstream-sink", "newsstream.stories", 0, 10),  # nothing committed yet: all of it
    ]
    assert len({r["at"] for r in rows}) == 1 and abs((rows[0]["at"] - datetime.now(UTC)).total_seconds()) < 60
    assert metrics.lag.labels("newsstream.raw-html", "0")._value.get() == 6
    assert metrics.lag.labels("newsstream.stories", "0")._value.get() == 10
    assert [c.group_id for c in LagConsumer.made] == ["newsstream", "newsstream-sink"]
    assert all(c.stopped and c.options["enable_auto_commit"] is False for c in LagConsumer.made)


class StrictConsumer(FakeConsumer):
    """Also checks that seeks and fetches name the partition, that a fetch waits, and can answer one fetch empty."""

    def __init__(self, first, end, batch=3, empty_at=()):
        super().__init__(first, end, batch)
        self.tp = TopicPartition("t", 0)
        self.empty_at = set(empty_at)
        self.fetches = 0

    def seek(self, tp, offset):
        assert tp == self.tp
        super().seek(tp, offset)

    async def getmany(self, tp, timeout_ms=0):
        assert tp == self.tp and isinstance(timeout_ms, int) and timeout_ms >= 1000
        self.fetches += 1
        if self.position in self.empty_at:
            self.empty_at.discard(self.position)
            return {}
        return await super().getmany(tp, timeout_ms)


def test_an_empty_fetch_ends_only_its_own_run():
    consumer = StrictConsumer(0, 100, empty_at={10})
    assert run(read(consumer, [2, 10, 11, 30])) == [2, 30]
    assert consumer.seeks == [2, 10, 30]


def test_a_run_stops_fetching_at_its_last_offset():
    consumer = StrictConsumer(0, 100, batch=4)
    assert run(read(consumer, [0, 1, 2, 3])) == [0, 1, 2, 3]
    assert consumer.fetches == 1, "the run's last record ends the run: no fetch beyond it"
    consumer = StrictConsumer(0, 100, batch=2)
    assert run(read(consumer, [5, 6, 7])) == [5, 6, 7] and consumer.fetches == 2


# -- the CLI's door: through the worker that holds the embedded warehouse, else directly ------------------------------


def test_maintenance_goes_through_the_worker_with_its_options_as_text(tmp_path, monkeypatch):
    from streams.warehouse import client

    asked = []

    class ThroughWorker:
        def maintain(self, action, params, here):
            asked.append((action, params))
            return {"via": "worker"}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(client, "connect", lambda settings, role="command": ThroughWorker())
    settings = Settings(_env_file=None, data_dir=tmp_path)
    got = reconcile_module.run_maintenance(settings, "reconcile", grace_seconds=0, dry_run=True, entered_before=None,
                                           limit=5, stage=False)
    assert got == {"via": "worker"}
    assert asked == [("reconcile", {"grace_seconds": "0", "dry_run": "1", "limit": "5"})], "0 is a value"


def test_maintenance_without_a_worker_or_a_broker_is_a_user_error(tmp_path, monkeypatch):
    from streams.errors import UserError
    from streams.runtime import broker
    from streams.warehouse import client

    monkeypatch.setattr(client, "worker_web_url", lambda settings: None)
    monkeypatch.setattr(broker, "kafka_url", lambda settings: None)
    with pytest.raises(UserError, match=r"^no broker: set KAFKA_URL or start one with `newsstream run`$"):
        reconcile_module.run_maintenance(Settings(_env_file=None, data_dir=tmp_path), "replay")


@pytest.mark.parametrize("action", ["reconcile", "replay"])
def test_maintenance_without_a_worker_reads_the_warehouse_directly(tmp_path, monkeypatch, action):
    from streams.runtime import broker
    from streams.warehouse import client

    asked = []

    class Warehouse:
        def __init__(self, url, *args, **kwargs):
            self.url = url

        def query(self, sql, parameters=None):
            asked.append((sql, parameters))
            return [], ([(0,)] if "count()" in sql else [])

        def maintain(self, action, params, here):
            return here(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            asked.append("closed")

    monkeypatch.setattr(client, "worker_web_url", lambda settings: None)
    monkeypatch.setattr(broker, "kafka_url", lambda settings: KAFKA)
    monkeypatch.setattr(client, "Warehouse", Warehouse)
    settings = archived(tmp_path, [500])
    got = reconcile_module.run_maintenance(settings, action, dry_run=True)
    if action == "reconcile":
        assert got["missing"] == 1 and got["archived"] == 1
        assert asked[0][1] == {"ids": ["p000"]}
    else:
        assert got["selected"] == 0 and "dead_letter" in asked[0][0]
    assert asked[-1] == "closed"


@pytest.mark.parametrize("action", ["reconcile", "replay"])
def test_maintenance_here_passes_the_broker_the_query_and_every_option(tmp_path, monkeypatch, action):
    from streams.runtime import broker
    from streams.warehouse import client

    calls = []

    class Warehouse:
        def __init__(self, url, *args, **kwargs):
            pass

        def query(self, sql, parameters=None):
            return ["n"], [(sql, parameters)]

        def maintain(self, action, params, here):
            return here(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    def recording(report):
        async def run(settings, kafka_url, query, **options):
            calls.append((kafka_url, await query("SELECT 1", {"p": 1}), options))
            return report

        return run

    monkeypatch.setattr(client, "worker_web_url", lambda settings: None)
    monkeypatch.setattr(broker, "kafka_url", lambda settings: KAFKA)
    monkeypatch.setattr(client, "Warehouse", Warehouse)
    monkeypatch.setattr(reconcile_module, "reconcile", recording(ReconcileReport(missing=3)))
    monkeypatch.setattr(reconcile_module, "replay", recording(reconcile_module.ReplayReport(selected=2)))
    options = {"grace_seconds": 0, "limit": 5} if action == "reconcile" else {"stage": "clean", "reason": "empty"}
    got = reconcile_module.run_maintenance(Settings(_env_file=None, data_dir=tmp_path), action, **options)
    assert got == (ReconcileReport(missing=3) if action == "reconcile" else reconcile_module.ReplayReport(
        selected=2)).as_dict()
    assert calls == [(KAFKA, [("SELECT 1", {"p": 1})], options)]


def test_the_longest_grace_is_accepted_and_a_longer_one_refused(tmp_path):
    settings = archived(tmp_path, [100])
    report = run(reconcile(settings, KAFKA, ledger(), grace_seconds=reconcile_module.MAX_GRACE_SECONDS, dry_run=True))
    assert (report.missing, report.in_flight) == (0, 1)
    with pytest.raises(ValueError, match="the grace must be a number of seconds from 0"):
        run(reconcile(settings, KAFKA, ledger(), grace_seconds=reconcile_module.MAX_GRACE_SECONDS + 1, dry_run=True))


def test_reconciled_counts_resent_and_dead_lettered_pages(tmp_path, monkeypatch):
    settings = archived(tmp_path, [100, 200, 300])

    async def fake_resend(settings_, kafka_url, wanted, report, replace=False):
        report.resent += 2
        report.dead_lettered += 1

    monkeypatch.setattr(reconcile_module, "resend_archived", fake_resend)
    metrics = WorkerMetrics()
    run(reconcile(settings, KAFKA, ledger(), grace_seconds=10, metrics=metrics))
    assert metrics.reconciled._value.get() == 3


def test_every_damaged_entry_is_its_own_dead_letter_naming_the_error(tmp_path, producer):
    settings = archived(tmp_path, [10, 20])
    wanted = list(archive.entries(settings.archive_path))
    damaged = [archive.Entry(e.page_id, f"no-such-segment-{n}", 0, e.entered_at, e.url, e.source)
               for n, e in enumerate(wanted)]
    report = ReconcileReport()
    run(resend_archived(settings, KAFKA, damaged, report))
    assert (report.resent, report.dead_lettered) == (0, 2)
    errors = [value["error"] for topic, value, _ in producer.sent if topic == settings.topic("dead-letters")]
    try:
        archive.read_page(archive.archive_for(settings), damaged[0])
    except Exception as exc:  # what the archive says about a missing segment, named in the letter
        expected = f"{type(exc).__name__}: {exc}"
    assert errors[0] == expected and errors[0].split(":")[0] not in ("", "NoneType")


def test_the_ledger_and_replay_queries_run_on_the_real_warehouse(tmp_path):
    """landed() and replay's selection as SQL the embedded warehouse accepts, with their parameters bound."""
    from streams.pipeline.stages import Rejected
    from streams.pipeline.steps import dead_letter
    from streams.warehouse.client import Warehouse
    from streams.warehouse.rows import batch_rows, write_rows

    settings = Settings(_env_file=None, data_dir=tmp_path)
    raw_topic = settings.topic("raw-html")
    at = datetime(2026, 5, 1, tzinfo=UTC)

    def letter(n: int, stage: str, reason: str, **raw):
        from schemas.records import RawRef

        ref = RawRef(**({"topic": raw_topic, "partition": 0, "offset": n, "timestamp": at, "page_id": f"p{n}"} | raw))
        item = dead_letter(stage, Rejected(reason, "x"), source="s", url=f"https://news.test/{n}", raw=ref)
        return item.model_copy(update={"at": at + timedelta(days=n)})

    warehouse = Warehouse(f"chdb://{tmp_path / 'chdb'}")
    try:
        warehouse.migrate()
        write_rows(warehouse, batch_rows([letter(1, "clean", "empty"), letter(2, "clean", "binary"),
                                          letter(3, "entities", "empty")]))
        write_rows(warehouse, batch_rows([dead_letter("feed", Rejected("empty", "x"), source="s", url="u")]))

        async def query(sql, parameters=None):
            return warehouse.query(sql, parameters=parameters)[1]

        assert run(landed(query, ["p1", "p3", "p9"])) == {"p1", "p3"}
        every = run(replay(settings, KAFKA, query, dry_run=True))
        assert (every.selected, every.reasons, every.not_replayable) == (3, {"empty": 2, "binary": 1}, 1)
        chosen = run(replay(settings, KAFKA, query, dry_run=True, stage="clean", reason="empty",
                            since="2026-05-02T00:00:00"))
        assert (chosen.selected, chosen.reasons, chosen.not_replayable) == (1, {"empty": 1}, 0)
        later = run(replay(settings, KAFKA, query, dry_run=True, since="2026-05-03T12:00:00"))
        assert later.selected == 1 and later.reasons == {"empty": 1}
    finally:
        warehouse.close()


def test_every_page_the_broker_refuses_is_counted(tmp_path, producer):
    settings = archived(tmp_path, [10, 20])
    producer.refuse_larger_than = 10
    report = ReconcileReport()
    run(resend_archived(settings, KAFKA, list(archive.entries(settings.archive_path)), report))
    assert (report.resent, report.dead_lettered) == (0, 2)


def test_entered_before_without_a_zone_is_utc_and_with_one_is_that_moment(tmp_path):
    settings = archived(tmp_path, [7200, 3 * 3600 + 1800])  # entered 2 h and 3.5 h ago
    now = datetime.now(UTC)
    naive = (now - timedelta(hours=2.5)).replace(tzinfo=None)  # UTC wall time between the two
    report = run(reconcile(settings, KAFKA, ledger(), grace_seconds=36000, entered_before=naive, dry_run=True))
    assert [s["page_id"] for s in report.sample] == ["p001"]
    east = (now - timedelta(hours=2.5)).astimezone(timezone(timedelta(hours=3)))  # the same moment, 3 h east
    report = run(reconcile(settings, KAFKA, ledger(), grace_seconds=36000, entered_before=east, dry_run=True))
    assert [s["page_id"] for s in report.sample] == ["p001"], "an offset is a moment, not UTC wall time"


def test_the_default_cap_is_ten_thousand_pages_a_run(tmp_path, monkeypatch):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    old = datetime.now(UTC) - timedelta(days=1)
    pages = {f"p{n:05d}": archive.Entry(f"p{n:05d}", "seg", n, old + timedelta(seconds=n), None, "s")
             for n in range(10_001)}
    monkeypatch.setattr(archive, "entries", lambda store, problems=None: [])
    monkeypatch.setattr(archive, "first_by_page", lambda entries: pages)
    sent = []

    async def fake_resend(settings_, kafka_url, wanted, report, replace=False):
        sent.append([e.page_id for e in wanted])

    monkeypatch.setattr(reconcile_module, "resend_archived", fake_resend)
    report = run(reconcile(settings, KAFKA, ledger(), grace_seconds=0))
    assert report.missing == 10_001 and len(sent[0]) == 10_000 and sent[0][-1] == "p09999"


def test_a_young_page_that_already_has_its_outcome_is_not_in_flight(tmp_path):
    """`reconcile --dry-run` said in_flight 9 while the ledger held an outcome for all 9 pages."""
    settings = archived(tmp_path, [5, 10, 3600])
    report = run(reconcile(settings, KAFKA, ledger("p000", "p002"), grace_seconds=60, dry_run=True))
    assert (report.archived, report.missing, report.in_flight) == (3, 0, 1)
