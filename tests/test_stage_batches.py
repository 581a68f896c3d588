"""A stage with a batch step (the entities agent): events taken in batches give each its own record or dead letter, in
order, exactly as one at a time; a batch's events are acked only after all its outputs were sent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from schemas.records import DeadLetter, StoryArticle
from streams.inputs.paths import RawDocument
from streams.pipeline import codec
from streams.pipeline.offline import raw_page
from streams.runtime.metrics import WorkerMetrics
from streams.runtime.stage_runner import Batching, Stage, StageRunner
from streams.settings import Settings
from tests.conftest import BAD, CORPUS
from tests.pipeline_harness import FakeStream, Outbox, run_topology
from tests.test_stage_runner import RAW, Doubled, double

VALUES = [{"id": "a", "n": 1, "raw": RAW}, {"id": "b", "n": "boom", "url": "https://x.test/b"},
          {codec.UNDECODABLE: "<htm", "error": "unexpected character"}, {"id": "c", "n": "reject"}, "not a dict",
          {"id": "d", "n": 5}, {"id": "e", "n": 6}]


def double_many(pairs):
    """double() over a batch, one outcome each; counts its calls."""
    double_many.calls.append(len(pairs))
    out = []
    for value, ref in pairs:
        try:
            out.append(double(value, ref))
        except Exception as exc:
            out.append(exc)
    return out


def run(stage: Stage, values, batching: Batching | None, stream_class=FakeStream) -> tuple[Outbox, WorkerMetrics]:
    outbox, metrics = Outbox(), WorkerMetrics()
    runner = StageRunner(stage, outbox.send, metrics, batching=batching)
    asyncio.run(asyncio.wait_for(runner.run(stream_class(values, "newsstream.cleaned")), 60))
    return outbox, metrics


def outcome(outbox: Outbox) -> list[tuple]:
    """What was sent, dead letters without their time."""
    return [(t, k, {**v, "at": None} if t == "dead-letters" else v) for t, k, v in outbox.sent]


@pytest.mark.parametrize("size", [2, 3, 64])
def test_a_batched_stage_sends_what_the_one_at_a_time_stage_sends(size):
    double_many.calls = []
    one, one_metrics = run(Stage("entities", double, "entities", key=lambda r: r.id), VALUES, None)
    many, metrics = run(Stage("entities", double, "entities", key=lambda r: r.id, batch_step=double_many), VALUES,
                        Batching(size, 0.05))
    assert outcome(many) == outcome(one)
    assert [v["id"] for v in many.values("entities")] == ["a", "d", "e"]
    assert len(many.values("dead-letters")) == 4
    assert double_many.calls and max(double_many.calls) <= size and sum(double_many.calls) == 6  # not the undecodable
    assert metrics.stage_outcomes.labels("entities", "passed")._value.get() == 3
    assert metrics.stage_outcomes.labels("entities", "dead_letter")._value.get() == 4


def test_a_batch_step_that_fails_whole_falls_back_to_the_step_per_record():
    def broken(pairs):
        raise MemoryError("the whole batch")

    def miscounted(pairs):
        return [Doubled(id="x", n=0)]

    one, _ = run(Stage("entities", double, "entities", key=lambda r: r.id), VALUES, None)
    for batch_step in (broken, miscounted):
        many, _ = run(Stage("entities", double, "entities", key=lambda r: r.id, batch_step=batch_step), VALUES,
                      Batching(4, 0.05))
        assert outcome(many) == outcome(one)


def test_batching_needs_a_batch_step_and_more_than_one_record():
    stage = Stage("entities", double, "entities", key=lambda r: r.id)
    assert StageRunner(stage, Outbox().send, WorkerMetrics(), batching=Batching(64, 0.1)).batching is None
    batched = Stage("entities", double, "entities", key=lambda r: r.id, batch_step=double_many)
    assert StageRunner(batched, Outbox().send, WorkerMetrics(), batching=Batching(1, 0.1)).batching is None
    assert StageRunner(batched, Outbox().send, WorkerMetrics(), batching=Batching(8, 0.1)).batching == Batching(8, 0.1)


class AckingStream(FakeStream):
    """take_events as Faust runs it: a batch's events are acked when the agent asks for the next batch (or leaves)."""

    def __init__(self, values, topic):
        super().__init__(values, topic)
        self.acked: list[int] = []
        self.sent_at_ack: list[int] = []
        self.outbox: Outbox | None = None

    async def events(self):
        raise AssertionError("a batched stage must not iterate events one by one (each is acked at the next)")
        yield

    async def take_events(self, max_, within):
        for i in range(0, len(self.items), max_):
            batch = self.items[i:i + max_]
            try:
                yield batch
            finally:
                self.sent_at_ack.append(len(self.outbox.sent))
                self.acked.extend(e.message.offset for e in batch)


def test_a_batch_is_acked_only_after_each_of_its_events_has_its_output():
    stream = AckingStream(VALUES, "newsstream.cleaned")
    outbox = stream.outbox = Outbox()
    runner = StageRunner(Stage("entities", double, "entities", key=lambda r: r.id, batch_step=double_many),
                         outbox.send, WorkerMetrics(), batching=Batching(3, 0.05))
    asyncio.run(asyncio.wait_for(runner.run(stream), 60))
    assert stream.acked == list(range(len(VALUES)))
    assert stream.sent_at_ack == [3, 6, 7]  # when batch k is acked, the outputs of its events (and before) are out


def test_the_topology_batches_the_entities_stage_with_the_same_outcome(tmp_path):
    from streams.pipeline.topology import create_app

    now = datetime(2024, 5, 1, tzinfo=UTC)
    pages = sorted(CORPUS.glob("*.html")) + sorted(p for p in BAD.iterdir() if p.is_file())[:3]
    docs = [RawDocument(source=p.name, url=f"https://site{i}.test/{p.stem}", body=p.read_bytes(), fetched_at=now)
            for i, p in enumerate(pages)]
    values = [raw_page(d).model_dump(mode="json", exclude_none=True) for d in docs]
    got = {}
    for size in (1, 4):
        settings = Settings(_env_file=None, data_dir=str(tmp_path / str(size)), entities_agent_batch=size,
                            **{"NEWSSTREAM_SINK": False})
        app = create_app(settings, "kafka://127.0.0.1:1")
        assert (app.agents["entities"].fun.runner.batching is None) == (size == 1)
        out = run_topology(app, values)
        got[size] = ([StoryArticle.model_validate(v).model_dump() for v in out.values("stories")],
                     sorted(DeadLetter.model_validate(v).source for v in out.values("dead-letters")))
    assert got[4] == got[1]
    assert len(got[4][0]) > 5


def test_the_entities_agent_takes_one_event_at_a_time_unless_told(tmp_path):
    """Off by default: the stream batching failed the external-broker-restart test (docs/throughput.md)."""
    from streams.pipeline.topology import create_app

    settings = Settings(_env_file=None, data_dir=str(tmp_path), **{"NEWSSTREAM_SINK": False})
    assert settings.entities_agent_batch == 1 and settings.entities_batch_size == 64
    assert create_app(settings, "kafka://127.0.0.1:1").agents["entities"].fun.runner.batching is None
