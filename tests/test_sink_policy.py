"""The warehouse sink's error policy and its no-loss guarantee, without a broker or a warehouse.

Transient errors are retried with backoff, a bounded number of times; a row the warehouse refuses is
dead-lettered (stage `sink`) and the rest of its batch still lands; offsets are committed only after the write.
"""

from __future__ import annotations

import asyncio
import time
from collections import namedtuple
from datetime import datetime, timedelta, timezone

import aiokafka
import orjson
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from schemas.records import Article, DeadLetter, StoryArticle, StoryAssignment
from streams.warehouse import sink as warehouse_sink
from streams.settings import Settings
from streams.warehouse.sink import REFUSED, WarehouseSink, decode, is_transient

Message = namedtuple("Message", "topic partition offset value")
NOW = datetime(2024, 5, 1, tzinfo=timezone.utc)


def settings(**overrides) -> Settings:
    values = {"sink_retry_first_seconds": 0.001, "sink_retry_max_seconds": 0.002, "sink_max_retries": 3}
    return Settings(_env_file=None, **(values | overrides))


def story(source: str, offset: int) -> bytes:
    article = Article(article_id=f"a-{source}", source=source, url=f"https://x.test/{source}", canonical_url=None,
                      site="x.test", title="t", text="t\nbody", lang="en", published_at=NOW, published_source="metadata", fetched_at=NOW,
                      charset="utf-8", fingerprint="f", raw={"topic": "newsstream.raw-html", "partition": 0,
                                                             "offset": offset})
    record = StoryArticle(article=article, mentions=[], dictionary_version="v1",
                          story=StoryAssignment(story_id=f"s-{source}", duplicate_of=None))
    return orjson.dumps(record.model_dump(mode="json"))


def letter(source: str) -> bytes:
    return orjson.dumps(DeadLetter(stage="clean", reason="empty", source=source, at=NOW).model_dump(mode="json"))


def messages(sources: list[str]) -> list[Message]:
    return [Message("newsstream.stories", 0, i, story(s, i)) for i, s in enumerate(sources)]


class Warehouse:
    """Keeps what it was given; refuses articles from a 'poison' source like a DDL rejecting a value."""

    def __init__(self, refuse_dead_letters: bool = False) -> None:
        self.tables: dict[str, list[dict]] = {}
        self.calls = 0
        self.refuse_dead_letters = refuse_dead_letters

    async def write(self, rows) -> None:
        self.calls += 1
        if any(r["source"] == "poison" for r in rows.get("articles", [])):
            raise DatabaseError("Code: 53. DB::Exception: Type mismatch in column text. (TYPE_MISMATCH)", code=53)
        if self.refuse_dead_letters and rows.get("dead_letters"):
            raise ValueError("rows for dead_letters do not match its DDL")
        for table, table_rows in rows.items():
            self.tables.setdefault(table, []).extend(table_rows)


async def flush(sink: WarehouseSink, batch: list[Message]) -> None:
    await asyncio.wait_for(sink.flush(batch), timeout=5)  # before the policy, a refused row looped forever


def test_a_row_the_warehouse_refuses_is_dead_lettered_and_the_rest_lands():
    warehouse = Warehouse()
    sink = WarehouseSink(settings(), "kafka://unused:1", warehouse.write)
    asyncio.run(flush(sink, messages(["a", "b", "poison", "c", "d"])))
    assert sorted(r["source"] for r in warehouse.tables["articles"]) == ["a", "b", "c", "d"]
    [dead] = warehouse.tables["dead_letters"]
    assert (dead["stage"], dead["reason"], dead["source"]) == ("sink", REFUSED, "poison")
    assert "TYPE_MISMATCH" in dead["error"]
    assert orjson.loads(dead["payload"])["article"]["source"] == "poison"  # the message itself, for replay
    outcomes = {r["raw_offset"]: r["outcome"] for r in warehouse.tables["ledger"]}
    assert outcomes == {0: "article", 1: "article", 2: "dead_letter", 3: "article", 4: "article"}  # no gap
    assert sink.metrics.sink_refused._value.get() == 1
    assert sink.written == 5
    assert sink.metrics.sink_rows.labels("articles")._value.get() == 4  # rows written, per table
    assert sink.metrics.sink_rows.labels("dead_letters")._value.get() == 1


def test_transient_errors_are_retried_then_succeed_and_counted():
    warehouse = Warehouse()
    failures = [OperationalError("connection refused"), ConnectionResetError("reset")]

    async def flaky(rows):
        if failures:
            raise failures.pop(0)
        await warehouse.write(rows)

    sink = WarehouseSink(settings(), "kafka://unused:1", flaky)
    asyncio.run(flush(sink, messages(["a", "b"])))
    assert len(warehouse.tables["articles"]) == 2
    assert "dead_letters" not in warehouse.tables  # a transient error never dead-letters
    assert sink.metrics.sink_retries._value.get() == 2
    assert sink.metrics.sink_errors.labels("transient")._value.get() == 2


def test_transient_retries_are_bounded():
    attempts = []

    async def down(rows):
        attempts.append(1)
        raise OperationalError("connection refused")

    sink = WarehouseSink(settings(sink_max_retries=3), "kafka://unused:1", down)
    with pytest.raises(OperationalError):
        asyncio.run(flush(sink, messages(["a"])))
    assert len(attempts) == 4  # the first try and 3 retries
    assert sink.written == 0


def test_backoff_doubles_up_to_the_cap(monkeypatch):
    waits = []

    async def sleep(seconds):
        waits.append(seconds)

    async def down(rows):
        raise OperationalError("down")

    monkeypatch.setattr(warehouse_sink.asyncio, "sleep", sleep)
    sink = WarehouseSink(settings(sink_max_retries=5, sink_retry_first_seconds=1, sink_retry_max_seconds=5),
                         "kafka://unused:1", down)
    with pytest.raises(OperationalError):
        asyncio.run(sink.flush(messages(["a"])))
    assert waits == [1, 2, 4, 5, 5]


def test_when_the_dead_letters_table_refuses_too_the_sink_stops_instead_of_looping():
    warehouse = Warehouse(refuse_dead_letters=True)
    sink = WarehouseSink(settings(), "kafka://unused:1", warehouse.write)
    with pytest.raises(ValueError):
        asyncio.run(flush(sink, [Message("newsstream.dead-letters", 0, 0, letter("x"))]))


@pytest.mark.parametrize("exc, transient", [
    (OperationalError("connection refused"), True),
    (ConnectionRefusedError(), True),
    (TimeoutError(), True),
    (DatabaseError("Code: 241. Memory limit exceeded (MEMORY_LIMIT_EXCEEDED)", code=241), True),
    (DatabaseError("Code: 252. Too many parts (TOO_MANY_PARTS)", code=252), True),
    (DatabaseError("Code: 53. Type mismatch (TYPE_MISMATCH)", code=53), False),
    (DatabaseError("Code: 60. Unknown table (UNKNOWN_TABLE)", code=60), False),
    (ValueError("rows for articles do not match its DDL"), False),
    (TypeError("bad value"), False),
])
def test_transient_or_permanent(exc, transient):
    assert is_transient(exc) is transient


# -- the no-loss guarantee: auto-commit off, commit only after the write --------------------------------------


def test_the_sink_consumer_never_auto_commits(monkeypatch):
    seen = {}

    class Consumer:
        def __init__(self, *topics, **options):
            seen.update(options, topics=topics)

    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", Consumer)  # what streams.runtime.kafka builds
    WarehouseSink(settings(), "kafka://127.0.0.1:9", Warehouse().write)._consumer()
    assert seen["enable_auto_commit"] is False
    assert seen["group_id"] == "newsstream-sink"
    assert set(seen["topics"]) == {"newsstream.stories", "newsstream.dead-letters"}


def test_offsets_are_committed_only_after_the_write(monkeypatch):
    events = []
    batches = [messages(["a", "b"])]

    class Consumer:
        def __init__(self, *topics, **options):
            pass

        async def start(self):
            pass

        async def stop(self):
            events.append("stop")

        async def getmany(self, timeout_ms, max_records):
            if batches:
                return {("newsstream.stories", 0): batches.pop()}
            sink.stop()
            return {}

        async def commit(self):
            events.append("commit")

    async def write(rows):
        events.append("write")

    async def failing(rows):
        events.append("write")
        raise OperationalError("down")

    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", Consumer)  # what streams.runtime.kafka builds
    sink = WarehouseSink(settings(), "kafka://127.0.0.1:9", write)
    asyncio.run(asyncio.wait_for(sink.run(), 5))
    assert events == ["write", "commit", "stop"]

    events.clear()
    batches.append(messages(["a"]))
    sink = WarehouseSink(settings(sink_max_retries=1), "kafka://127.0.0.1:9", failing)
    with pytest.raises(OperationalError):
        asyncio.run(asyncio.wait_for(sink.run(), 5))
    assert "commit" not in events  # a batch the warehouse did not take is never committed


def test_decode_picks_the_record_model_of_each_topic():
    assert isinstance(decode("stories", story("a", 0)), StoryArticle)
    assert isinstance(decode("dead-letters", letter("a")), DeadLetter)
    # a dead letter on the stories topic is not a StoryArticle: it becomes a sink dead letter, not an article
    wrong = decode("stories", letter("a"))
    assert isinstance(wrong, DeadLetter) and wrong.stage == "sink" and wrong.reason == "schema"
    wrong = decode("dead-letters", story("a", 0))
    assert isinstance(wrong, DeadLetter) and wrong.stage == "sink"


def test_a_row_the_real_ddl_rejects_does_not_stall_the_sink(tmp_path):
    """On the embedded warehouse: a mention at a negative offset cannot go into UInt32 `char_start`."""
    from streams.warehouse.client import Warehouse

    warehouse = Warehouse(f"chdb://{tmp_path / 'chdb'}")
    try:
        warehouse.migrate()

        async def write(rows):
            for table, table_rows in rows.items():
                warehouse.insert_rows(table, table_rows)

        bad = orjson.loads(story("poison", 1))
        bad["mentions"] = [{"actor_id": "x", "name": "X", "type": "person", "surface": "X", "start": -5, "end": 3}]
        batch = [Message("newsstream.stories", 0, 0, story("a", 0)),
                 Message("newsstream.stories", 0, 1, orjson.dumps(bad)),
                 Message("newsstream.stories", 0, 2, story("b", 2))]
        asyncio.run(flush(WarehouseSink(settings(), "kafka://unused:1", write), batch))
        mentions = warehouse.query("SELECT count() FROM mentions")[1]
        articles = warehouse.query("SELECT source FROM articles FINAL ORDER BY source")[1]
        letters = warehouse.query("SELECT stage, reason, source, raw_offset FROM dead_letters FINAL")[1]
        outcomes = warehouse.query("SELECT raw_offset, groupUniqArray(outcome) FROM ledger GROUP BY raw_offset "
                                   "ORDER BY raw_offset")[1]
    finally:
        warehouse.close()
    assert {("a",), ("b",)} <= set(articles)
    assert letters == [("sink", REFUSED, "poison", 1)]
    assert mentions == [(0,)]  # the refused mention never reached the table that is counted
    assert outcomes == [(0, ["article"]), (1, ["dead_letter"]), (2, ["article"])]
    # Known limit (no transactions across tables): the refused message's rows in tables written before the one
    # that refused it stay; here its `articles` row, written before `mentions` refused the bad offset.
    assert ("poison",) in articles


def test_the_ledger_is_written_last():
    """A write that fails part-way must not have recorded the outcome: the ledger is the last insert."""
    from streams.warehouse.rows import batch_rows

    plain = decode("stories", story("a", 0))
    with_mention = orjson.loads(story("b", 1))
    with_mention["mentions"] = [{"actor_id": "x", "name": "X", "type": "person", "surface": "X", "start": 0,
                                 "end": 1}]
    items = [plain, decode("stories", orjson.dumps(with_mention)), decode("dead-letters", letter("c"))]
    tables = list(batch_rows(items))
    assert tables[-1] == "ledger" and {"articles", "mentions", "dead_letters"} <= set(tables)


async def test_a_sink_that_gives_up_crashes_the_worker_and_a_stopped_one_does_not():
    from streams.runtime.sink_service import SinkService

    class GivingUp:
        def __init__(self, error):
            self._stopping = asyncio.Event()
            self.error = error

        async def run(self):
            if self.error:
                raise self.error

        def stop(self):
            self._stopping.set()

    for error, expected in ((OperationalError("down"), 1), (None, 0)):
        service = SinkService(GivingUp(error))
        crashed = []

        async def crash(exc, crashed=crashed):
            crashed.append(exc)

        service.crash = crash
        await service.on_start()
        await asyncio.sleep(0.05)
        assert len(crashed) == expected  # no silent worker without a sink


# -- pins found by mutation testing (benchmarks/mutation.sh) ----------------------------------------------------------


def test_a_poison_message_keeps_the_origin_it_names_and_its_payload():
    origin = {"topic": "newsstream.raw-html", "partition": 3, "offset": 9, "page_id": "p9"}
    inner = orjson.dumps({"article": {"raw": origin}, "mentions": "not a list"})
    got = decode("stories", inner)
    assert isinstance(got, DeadLetter) and got.stage == "sink" and got.reason == "schema"
    assert got.raw is not None and (got.raw.partition, got.raw.offset, got.raw.page_id) == (3, 9, "p9")
    assert got.payload == inner.decode()
    flat = decode("dead-letters", orjson.dumps({"raw": origin, "stage": 5}))
    assert flat.raw is not None and flat.raw.offset == 9
    for junk in (b"not json", b"[1, 2]", None, orjson.dumps({"raw": "nope"})):
        got = decode("stories", junk)
        assert isinstance(got, DeadLetter) and got.stage == "sink" and got.raw is None
    assert decode("stories", None).payload is None


def test_a_flush_counts_rows_dead_letters_and_latency():
    warehouse = Warehouse()
    sink = WarehouseSink(settings(), "kafka://unused:1", warehouse.write)
    batch = messages(["a", "b"]) + [Message("newsstream.dead-letters", 1, 4, letter("c"))]
    asyncio.run(flush(sink, batch))
    m = sink.metrics
    assert sink.written == 3
    assert m.sink_rows.labels("articles")._value.get() == 2
    assert m.sink_rows.labels("dead_letters")._value.get() == 1
    assert m.dead_letters.labels("clean", "empty")._value.get() == 1
    assert m.sink_batch_rows._sum.get() == 3
    assert m.sink_errors.labels("permanent")._value.get() == 0
    asyncio.run(flush(sink, messages(["d"])))
    assert sink.written == 4 and m.sink_rows.labels("articles")._value.get() == 3


def test_end_to_end_latency_is_measured_from_the_raw_timestamp():
    def stamped(source: str, seconds_ago: float) -> bytes:
        record = orjson.loads(story(source, 0))
        record["article"]["raw"]["timestamp"] = (datetime.now(NOW.tzinfo) - timedelta(seconds=seconds_ago)).isoformat()
        return orjson.dumps(record)

    sink = WarehouseSink(settings(), "kafka://unused:1", Warehouse().write)
    asyncio.run(flush(sink, [Message("newsstream.stories", 0, 0, stamped("a", 30.0)),
                             Message("newsstream.stories", 0, 1, story("b", 1))]))  # no timestamp: not observed
    histogram = sink.metrics.end_to_end
    assert histogram._sum.get() == pytest.approx(30.0, abs=5.0)
    buckets = {s.labels["le"]: s.value for s in histogram.collect()[0].samples if s.name.endswith("_bucket")}
    assert buckets["+Inf"] == 1


def test_a_refused_message_is_dead_lettered_with_its_origin_and_the_warehouse_error():
    warehouse = Warehouse()
    sink = WarehouseSink(settings(), "kafka://unused:1", warehouse.write)
    batch = messages(["a", "poison", "b", "c"])
    asyncio.run(flush(sink, batch))
    assert sorted(r["source"] for r in warehouse.tables["articles"]) == ["a", "b", "c"]
    (row,) = warehouse.tables["dead_letters"]
    assert (row["stage"], row["reason"], row["source"], row["url"]) == ("sink", REFUSED, "poison",
                                                                       "https://x.test/poison")
    assert (row["raw_topic"], row["raw_offset"]) == ("newsstream.raw-html", 1)
    assert "TYPE_MISMATCH" in row["error"] and row["payload"] == batch[1].value.decode()
    assert sink.metrics.sink_refused._value.get() == 1
    assert sink.metrics.sink_errors.labels("permanent")._value.get() >= 1
    assert sink.metrics.dead_letters.labels("sink", REFUSED)._value.get() == 1


def test_a_refused_dead_letter_keeps_its_own_origin():
    class RefusesClean(Warehouse):
        async def write(self, rows):
            if any(r["stage"] == "clean" for r in rows.get("dead_letters", [])):
                raise DatabaseError("Code: 53. Type mismatch (TYPE_MISMATCH)", code=53)
            await super().write(rows)

    warehouse = RefusesClean()
    raw = {"topic": "newsstream.raw-html", "partition": 1, "offset": 7}
    value = orjson.dumps(DeadLetter(stage="clean", reason="empty", source="s", url="https://x.test/s", raw=raw,
                                    at=NOW).model_dump(mode="json"))
    asyncio.run(flush(WarehouseSink(settings(), "kafka://unused:1", warehouse.write),
                      [Message("newsstream.dead-letters", 0, 0, value)]))
    (row,) = warehouse.tables["dead_letters"]
    assert (row["stage"], row["source"], row["url"], row["raw_offset"]) == ("sink", "s", "https://x.test/s", 7)


def test_a_stop_ends_the_wait_for_a_batch_and_a_full_batch_is_not_held(monkeypatch):
    polls = []

    class Consumer:
        def __init__(self, pending):
            self.pending = pending

        async def getmany(self, timeout_ms, max_records):
            polls.append((timeout_ms, max_records))
            take, self.pending = self.pending[:max_records], self.pending[max_records:]
            return {("t", 0): take} if take else {}

    sink = WarehouseSink(settings(sink_batch_size=3, sink_flush_seconds=0.2), "kafka://unused:1", Warehouse().write)
    sink.consumer = Consumer(messages(["a", "b", "c", "d"]))
    batch = asyncio.run(asyncio.wait_for(sink._next_batch(), 5))
    assert len(batch) == 3 and polls == [(200, 3)]
    polls.clear()
    sink.consumer = Consumer(messages(["a"]))
    sink._last_write = time.monotonic()  # a write just started: the batch's deadline is ahead
    batch = asyncio.run(asyncio.wait_for(sink._next_batch(), 5))
    assert len(batch) == 1, "a partial batch is written once the broker has nothing more"
    assert polls[0] == (200, 3) and polls[1][1] == 2 and len(polls) == 2
    sink.stop()
    assert asyncio.run(asyncio.wait_for(sink._next_batch(), 5)) == []


def test_an_idle_poll_is_short_so_a_stop_is_seen_quickly():
    polls = []

    class Idle:
        async def getmany(self, timeout_ms, max_records):
            polls.append(timeout_ms)
            if len(polls) == 3:
                sink.stop()
            return {}

    sink = WarehouseSink(settings(sink_flush_seconds=30), "kafka://unused:1", Warehouse().write)
    sink.consumer = Idle()
    assert asyncio.run(asyncio.wait_for(sink._next_batch(), 5)) == []
    assert polls == [500, 500, 500]


def test_a_commit_that_fails_after_a_write_is_logged_not_raised(caplog):
    from aiokafka.errors import CommitFailedError

    class Consumer:
        async def commit(self):
            raise CommitFailedError("rebalanced")

    sink = WarehouseSink(settings(), "kafka://unused:1", Warehouse().write)
    sink.consumer = Consumer()
    asyncio.run(sink.commit())
    [record] = [r for r in caplog.records if r.name == "newsstream.sink"]
    assert record.getMessage().startswith("sink commit failed after a successful write (")
    assert record.getMessage().endswith("); messages will be re-delivered")


def test_a_new_sink_group_starts_from_the_earliest_message_and_fetches_a_whole_page(monkeypatch):
    """A group without committed offsets (first start, a lost broker) must read what is there, not only new messages;
    a fetch must hold the largest page the pipeline accepts; the session follows the group timeout setting."""
    from streams.runtime.broker import bootstrap_servers

    seen = {}

    class Consumer:
        def __init__(self, *topics, **options):
            seen.update(options)

    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", Consumer)  # what streams.runtime.kafka builds
    s = settings(group_session_timeout=12.5, max_page_bytes=1_000_000)
    WarehouseSink(s, "kafka://127.0.0.1:9", Warehouse().write)._consumer()
    assert seen["auto_offset_reset"] == "earliest"
    assert seen["bootstrap_servers"] == bootstrap_servers("kafka://127.0.0.1:9")
    assert seen["session_timeout_ms"] == 12_500 and seen["rebalance_timeout_ms"] == 12_500
    assert seen["heartbeat_interval_ms"] == 12_500 // 3
    assert seen["max_partition_fetch_bytes"] >= 1_000_000
    assert seen["fetch_max_bytes"] >= seen["max_partition_fetch_bytes"]
    assert seen["max_poll_interval_ms"] >= 300_000
