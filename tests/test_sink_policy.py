"""The warehouse sink's error policy and its no-loss guarantee, without a broker or a warehouse.

Transient errors are retried with backoff, a bounded number of times; a row the warehouse refuses is
dead-lettered (stage `sink`) and the rest of its batch still lands; offsets are committed only after the write.
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from datetime import datetime, timezone

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
