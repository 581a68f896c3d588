"""The stage runner and the topology's stages, in process (tests/pipeline_harness.py): records in, records and dead
letters out; no broker, no warehouse."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import orjson
import pytest
from pydantic import BaseModel

from schemas.records import DeadLetter, RawPage, StoryArticle
from streams.inputs.paths import RawDocument
from streams.pipeline import codec
from streams.pipeline.offline import raw_page
from streams.pipeline.stages import Rejected
from streams.runtime.metrics import WorkerMetrics
from streams.runtime.stage_runner import Stage, StageRunner, carried_ref, entry_ref
from streams.settings import Settings
from tests.conftest import BAD, CORPUS
from tests.pipeline_harness import Event, FakeStream, Message, Outbox, run_stage, run_topology

RAW = {"topic": "newsstream.raw-html", "partition": 3, "offset": 41, "page_id": "p-1"}


class Doubled(BaseModel):
    id: str
    n: int


def double(value, ref) -> Doubled:
    if value.get("n") == "boom":
        raise RuntimeError("the step broke")
    if value.get("n") == "reject":
        raise Rejected("no article text", "nothing left after cleaning")
    return Doubled(id=value["id"], n=2 * value["n"])


STAGE = Stage("entities", double, "entities", key=lambda r: r.id)


def letters(outbox: Outbox) -> list[DeadLetter]:
    return [DeadLetter.model_validate(v) for v in outbox.values("dead-letters")]


def test_a_result_goes_to_the_stage_topic_keyed():
    out = run_stage(STAGE, [{"id": "a", "n": 2, "raw": RAW}])
    assert out.sent == [("entities", b"a", {"id": "a", "n": 4})]


def test_bad_records_become_dead_letters_and_the_stream_goes_on():
    metrics = WorkerMetrics()
    out = run_stage(STAGE, [{"id": "a", "n": "boom", "raw": RAW, "url": "https://x.test/a"},
                            {"id": "b", "n": "reject", "article": {"raw": RAW}},
                            {codec.UNDECODABLE: "<htm", "error": "unexpected character"},
                            "not a dict",
                            {"id": "c", "n": 1}], metrics=metrics)
    assert out.values("entities") == [{"id": "c", "n": 2}]  # the record after four bad ones still passes
    boom, reject, undecodable, not_dict = letters(out)
    assert (boom.stage, boom.reason, boom.url) == ("entities", "error", "https://x.test/a")
    assert "RuntimeError: the step broke" in boom.error
    assert (boom.raw.partition, boom.raw.offset, boom.raw.page_id) == (3, 41, "p-1")  # the page, not this hop
    assert (reject.reason, reject.raw.offset) == ("no article text", 41)  # a nested article's raw reference
    assert undecodable.reason == "bad message" and "not JSON" in undecodable.error
    assert not_dict.reason in ("schema", "error") and not_dict.raw is None
    assert boom.payload is None  # only the raw stage keeps its input
    assert metrics.stage_outcomes.labels("entities", "dead_letter")._value.get() == 4
    assert metrics.stage_outcomes.labels("entities", "passed")._value.get() == 1


def test_a_result_that_cannot_be_encoded_is_a_dead_letter_not_a_dead_agent():
    stage = Stage("stories", double, "stories", key=lambda r: r.missing_attribute)
    out = run_stage(stage, [{"id": "a", "n": 1}])
    [letter] = letters(out)
    assert letter.stage == "stories" and "AttributeError" in letter.error
    assert out.values("stories") == []


def test_the_raw_stage_keys_dead_letters_by_page_and_keeps_the_message():
    stage = Stage("clean", lambda v, ref: RawPage.model_validate(v), "cleaned", key=lambda p: p.source,
                  ref_of=entry_ref, keep_payload=True)
    out = run_stage(stage, [{"source": "x.html"}, {"source": "y.html", "html": "<p>x</p>", "page_id": "pid-y",
                                                  "origin": {"topic": "newsstream.raw-html", "partition": 1,
                                                             "offset": 7}}])
    [letter] = letters(out)
    assert (letter.stage, letter.reason) == ("clean", "schema")
    assert (letter.raw.topic, letter.raw.partition, letter.raw.offset) == ("newsstream.raw-html", 0, 0)
    assert letter.raw.timestamp == datetime(2024, 5, 1, tzinfo=UTC)  # Faust's seconds, not milliseconds
    assert orjson.loads(letter.payload) == {"source": "x.html"}  # replayable without the archive
    [(topic, key, _)] = [s for s in out.sent if s[0] == "cleaned"]
    assert key == b"y.html"


def test_entry_ref_prefers_the_origin_a_resent_page_carries_and_hashes_a_missing_page_id():
    message = Message("newsstream.raw-html", 2, 99, None)
    resent = entry_ref({"page_id": "p", "replace": True, "origin": {"topic": "t", "partition": 0, "offset": 5}},
                       message)
    assert (resent.topic, resent.offset, resent.page_id, resent.replace) == ("t", 5, "p", True)
    doc = RawDocument(source="a.html", url="https://x.test/a", body=b"<p>a</p>", fetched_at=None)
    page = raw_page(doc).model_dump(mode="json")
    expected = page.pop("page_id")
    ref = entry_ref(page, message)
    assert (ref.partition, ref.offset, ref.page_id, ref.timestamp) == (2, 99, expected, None)


def test_carried_ref_of_a_record_without_one_is_none():
    assert carried_ref({"raw": RAW}).offset == 41
    assert carried_ref({"article": {"raw": RAW}}).offset == 41
    assert carried_ref({"raw": {"topic": 1}}) is None
    assert carried_ref("text") is None


def test_a_stage_waits_until_it_is_ready():
    async def scenario():
        ready = asyncio.Event()
        outbox = Outbox()
        runner = StageRunner(STAGE, outbox.send, WorkerMetrics(), ready=ready)
        handled = asyncio.ensure_future(runner.handle({"id": "a", "n": 1}, Message("t", 0, 0, None)))
        for _ in range(5):
            await asyncio.sleep(0)  # let the task run as far as it can
        assert not handled.done() and outbox.sent == []
        ready.set()
        assert await handled == "passed"
        assert outbox.values("entities") == [{"id": "a", "n": 2}]

    asyncio.run(scenario())


@pytest.fixture
def topology_app(tmp_path):
    from streams.pipeline.topology import create_app

    settings = Settings(_env_file=None, data_dir=str(tmp_path), **{"NEWSSTREAM_SINK": False})
    return create_app(settings, "kafka://127.0.0.1:1")


def test_the_topology_turns_pages_into_stories_and_bad_pages_into_dead_letters(topology_app):
    now = datetime(2024, 5, 1, tzinfo=UTC)
    good = sorted(CORPUS.glob("0[1-3]-*.html"))  # one wire story on three sites
    bad = sorted(p for p in BAD.iterdir() if p.is_file())[:3]
    docs = [RawDocument(source=p.name, url=f"https://site{i}.test/{p.stem}", body=p.read_bytes(), fetched_at=now)
            for i, p in enumerate(good + bad)]
    out = run_topology(topology_app, [raw_page(d).model_dump(mode="json", exclude_none=True) for d in docs])
    stories = [StoryArticle.model_validate(v) for v in out.values("stories")]
    dead = letters(out)
    assert len(stories) + len(dead) == len(docs)  # every page: one outcome
    assert {s.article.source for s in stories} == {p.name for p in good}
    assert len({s.story.story_id for s in stories}) == 1  # the copies met in the index
    assert any(m.actor_id == "sergey-lavrov" for s in stories for m in s.mentions)
    assert all(d.stage == "clean" and d.raw is not None and d.raw.page_id for d in dead)
    assert {d.source for d in dead} == {p.name for p in bad}


# ---------------------------------------------------------------- batches (Stage.batch > 1)

def double_many(values, refs):
    """A step_many that records its calls; per value the same result or exception as `double`."""
    CALLS.append(len(values))
    out = []
    for value, ref in zip(values, refs, strict=True):
        try:
            out.append(double(value, ref))
        except Exception as exc:
            out.append(exc)
    return out


CALLS: list[int] = []
BATCHED = Stage("entities", double, "entities", key=lambda r: r.id, step_many=double_many, batch=4)
MIXED = [{"id": "a", "n": 1}, {"id": "b", "n": "boom", "raw": RAW}, {codec.UNDECODABLE: "<x", "error": "bad"},
         {"id": "c", "n": 2}, "not a dict", {"id": "d", "n": "reject"}, {"id": "e", "n": 3}, {"id": "f", "n": 4},
         {"id": "g", "n": 5}]


def run_batched(stage: Stage, values: list, stream: FakeStream | None = None) -> tuple[Outbox, FakeStream]:
    outbox = Outbox()
    stream = stream or FakeStream(values, "newsstream.cleaned", outbox=outbox)
    stream.outbox = outbox
    asyncio.run(asyncio.wait_for(StageRunner(stage, outbox.send, WorkerMetrics()).run(stream), 60))
    return outbox, stream


def comparable(outbox: Outbox) -> list:
    """What was sent, in order, with the dead letters' time stamps left out."""
    return [(t, k, {f: x for f, x in v.items() if f != "at"} if t == "dead-letters" else v) for t, k, v in outbox.sent]


def test_waiting_events_go_through_step_many_in_batches_with_the_same_output_as_one_by_one():
    CALLS.clear()
    metrics = WorkerMetrics()
    batched = Outbox()
    stream = FakeStream(MIXED, "newsstream.cleaned", outbox=batched)
    asyncio.run(asyncio.wait_for(StageRunner(BATCHED, batched.send, metrics).run(stream), 60))
    assert metrics.stage_batch.labels("entities")._sum.get() == len(MIXED)  # batches of 4, 4, 1 on /metrics
    assert metrics.stage_batch.labels("entities")._buckets[2].get() == 2 and \
        metrics.stage_batch.labels("entities")._buckets[0].get() == 1
    one_by_one = run_stage(STAGE, MIXED, topic="newsstream.cleaned")
    assert comparable(batched) == comparable(one_by_one)  # same records and dead letters, same order
    # 9 events all waiting, batches of at most 4; the undecodable one never reaches the step
    assert CALLS == [3, 4]  # [a, b, c] of the first four; then [not a dict, d, e, f]; g alone goes through `step`
    assert [offset for offset, _ in stream.acked] == list(range(len(MIXED)))


def test_an_event_is_acked_only_once_its_batch_was_sent():
    outbox, stream = run_batched(BATCHED, MIXED)
    sent_by = {}  # offset -> records sent once that offset's batch was done: each event sends exactly one
    for position, (offset, sent) in enumerate(stream.acked):
        sent_by[offset] = sent
        batch_end = min(len(MIXED), (position // 4 + 1) * 4)
        assert sent >= batch_end, f"offset {offset} acked before its batch's {batch_end} records were sent"
    assert len(outbox.sent) == len(MIXED)


def test_a_send_that_fails_mid_batch_acks_nothing_of_that_batch():
    """A worker that dies mid-batch (here: the producer fails on the batch's second record) must not have acked
    any event of it: Faust would commit past them and the restarted worker would not read them again."""
    class Broken(Outbox):
        async def send(self, topic, key, value):
            if len(self.sent) == 5:
                raise ConnectionError("broker gone")
            await super().send(topic, key, value)

    outbox = Broken()
    stream = FakeStream(MIXED, "newsstream.cleaned", outbox=outbox)
    with pytest.raises(ConnectionError):
        asyncio.run(asyncio.wait_for(StageRunner(BATCHED, outbox.send, WorkerMetrics()).run(stream), 60))
    assert [offset for offset, _ in stream.acked] == [0, 1, 2, 3]  # the first batch; none of the second (4..7)
    assert len(outbox.sent) == 5


def test_a_lone_event_is_not_held_for_a_batch():
    """An event with nothing waiting behind it goes at once, alone (through `step`): no wait for a batch to fill."""
    CALLS.clear()

    async def scenario():
        outbox = Outbox()
        queue: asyncio.Queue = asyncio.Queue()

        class Trickle(FakeStream):
            async def events(self):
                while (item := await queue.get()) is not None:
                    yield item
                    await self.ack(item) if self.enable_acks else None

        stream = Trickle([], outbox=outbox)
        stream.channel.queue = queue
        task = asyncio.ensure_future(StageRunner(BATCHED, outbox.send, WorkerMetrics()).run(stream))
        queue.put_nowait(Event({"id": "a", "n": 1}, Message("t", 0, 0, None)))
        for _ in range(20):
            await asyncio.sleep(0)
        assert outbox.values("entities") == [{"id": "a", "n": 2}] and stream.acked == [(0, 1)]
        queue.put_nowait(None)
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert CALLS == []


def test_a_step_many_that_fails_as_a_whole_goes_value_by_value():
    def broken_many(values, refs):
        raise RuntimeError("the batch broke")

    def short_many(values, refs):
        return [double(values[0], refs[0])]

    one_by_one = comparable(run_stage(STAGE, MIXED, topic="newsstream.cleaned"))
    for many in (broken_many, short_many):
        stage = Stage("entities", double, "entities", key=lambda r: r.id, step_many=many, batch=4)
        assert comparable(run_batched(stage, MIXED)[0]) == one_by_one


def test_the_topology_s_entities_agent_in_batches_gives_what_one_by_one_gives(topology_app):
    """The entities agent's step_many (entities_many over the waiting events) against its step, event by event."""
    from tests.pipeline_harness import topology_runners

    runner = topology_runners(topology_app)["entities"]
    assert runner.stage.batch == Settings(_env_file=None).entities_batch_size > 1
    docs = [RawDocument(source=p.name, url=f"https://s.test/{p.stem}", body=p.read_bytes(), fetched_at=None)
            for p in sorted(CORPUS.glob("*.html"))]
    cleaned = run_stage(topology_runners(topology_app)["clean"].stage,
                        [raw_page(d).model_dump(mode="json", exclude_none=True) for d in docs]).values("cleaned")
    values = cleaned + [{"not": "an article"}] + cleaned[:2]
    batched, _ = run_batched(runner.stage, values)
    one_by_one = run_stage(dataclasses.replace(runner.stage, batch=1), values, topic="newsstream.cleaned")
    assert comparable(batched) == comparable(one_by_one)
    assert len(batched.values("entities")) == len(cleaned) + 2
