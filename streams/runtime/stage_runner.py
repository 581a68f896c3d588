"""The stage runner: one event in, one record or one dead letter out; an exception never escapes.

Faust acks an event whose agent raised (and the agent dies), so every failure, from decoding to encoding the
result, becomes a dead letter with the stage, the reason and the page's raw reference. The runner knows nothing
of Faust beyond `event.value` / `event.message`, its stream's `enable_acks` / `ack` and its channel's queue; tests
drive `handle` directly (tests/test_stage_runner.py).

A stage with `batch > 1` takes the events already waiting in its stream's queue, up to `batch`, as one batch: one
`step_many` call (the entities step is cheaper per article over many), then the batch's records sent, then its
events acked. It never waits for a batch to fill: a lone event goes alone, at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from schemas.records import RawPage, RawRef
from streams.pipeline import codec
from streams.pipeline.identity import page_id_for
from streams.pipeline.stages import Rejected
from streams.pipeline.steps import dead_letter, origin
from streams.runtime.metrics import WorkerMetrics

log = logging.getLogger("newsstream")

Send = Callable[[str, bytes | None, dict], Awaitable[Any]]
"""`await send(topic key, message key, value)`: produce to one of the topology's topics."""
Step = Callable[[Any, RawRef | None], BaseModel]
AsyncStep = Callable[[Any, RawRef | None], Awaitable[BaseModel]]
StepMany = Callable[[list[Any], list[RawRef | None]], Sequence[BaseModel | Exception]]
"""`step_many(values, refs)`: each value's result or its own exception, in order (one that fails fails alone)."""
RefOf = Callable[[Any, Any], RawRef | None]
"""`ref_of(value, message)`: the raw page reference a dead letter of this stage carries."""


def page_id_of(value: Any) -> str | None:
    """The page's id as it entered; a raw message produced without one gets the same hash here."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("page_id"), str) and value["page_id"]:
        return value["page_id"]
    try:
        page = RawPage.model_validate(value)
    except Exception:
        return None  # the clean stage dead-letters it; the ledger then knows it by its offset
    return page_id_for(page.url, page.source, page.body())


def entry_ref(value: Any, message: Any) -> RawRef:
    """The ledger key of a raw message: its page id, with its own offset (or the one it re-sends) as provenance."""
    page_id = page_id_of(value)
    sent_from = value.get("origin") if isinstance(value, dict) else None
    replace = isinstance(value, dict) and value.get("replace") is True
    if sent_from:
        try:
            return RawRef.model_validate(sent_from).model_copy(update={"page_id": page_id, "replace": replace})
        except Exception:
            pass
    # Faust gives the Kafka timestamp in seconds (aiokafka's records carry milliseconds).
    stamp = datetime.fromtimestamp(message.timestamp, UTC) if message.timestamp else None
    return RawRef(topic=message.topic, partition=message.partition, offset=message.offset, timestamp=stamp,
                  page_id=page_id, replace=replace)


def carried_ref(value: Any, message: Any = None) -> RawRef | None:
    """The raw reference a downstream record carries (an Article's `raw`, or its `article.raw`)."""
    try:
        raw = value.get("raw") or value.get("article", {}).get("raw")
        return RawRef.model_validate(raw) if raw else None
    except Exception:
        return None


@dataclass(frozen=True)
class Stage:
    """What a stage is: its step, where results go and how they are keyed, and what its dead letters carry."""

    name: str
    step: Step | AsyncStep  # an AsyncStep with `awaited`
    out: str
    key: Callable[[Any], str]
    ref_of: RefOf = carried_ref
    keep_payload: bool = False  # dead letters carry the input itself (raw pages: replayable as they came)
    offload: bool = False  # CPU-bound step: run in a thread, off the event loop
    awaited: bool = False  # the step is a coroutine function whose work runs elsewhere (a cleaning child)
    step_many: StepMany | None = None  # the step over a batch (default: `step` value by value)
    batch: int = 1  # events taken at once from those already waiting (1: one at a time)


def _waiting(stream: Any) -> Callable[[], bool]:
    """Whether another event of this Faust stream is already queued (its channel's queue), so that taking it now
    costs no wait; a stream without a queue (an iterable, a test's) says no: every event goes alone."""
    queue = getattr(getattr(stream, "channel", None), "queue", None)
    empty = getattr(queue, "empty", None)
    if empty is None:
        return lambda: False
    return lambda: not empty()


class StageRunner:
    def __init__(self, stage: Stage, send: Send, metrics: WorkerMetrics, ready: asyncio.Event | None = None):
        self.stage = stage
        self.send = send
        self.metrics = metrics
        self.ready = ready  # set while the stage may run (the stories index is rebuilt when it is clear)

    def agent(self) -> Callable[[Any], Awaitable[None]]:
        """The agent body for Faust, named after the stage (Faust's log lines name an agent by its function)."""
        async def run(stream: Any) -> None:
            await self.run(stream)

        run.__name__ = run.__qualname__ = f"{self.stage.name}_stage"
        run.runner = self  # type: ignore[attr-defined]  # the harness (tests) finds the runner behind an agent
        return run

    async def run(self, stream: Any) -> None:
        """The agent's body: every event of a Faust stream through `handle`, or, with `batch > 1`, through
        `handle_many` in batches of the events already waiting."""
        if self.stage.batch <= 1:
            async for event in stream.events():
                await self.handle(event.value, event.message)
            return
        # At-least-once: Faust commits an offset once every event up to it is acked; here an event is acked only
        # after its batch's records (or dead letters) were handed to the producer, as Faust acks one event after its
        # agent body ran. A worker that dies mid-batch re-reads the whole batch. (Faust's own `take_events` fills
        # its buffer from a background task; a stream that stalled with it is why this reads the queue instead.)
        stream.enable_acks = False
        more = _waiting(stream)
        batch: list[Any] = []
        async for event in stream.events():
            batch.append(event)
            if len(batch) < self.stage.batch and more():
                continue
            self.metrics.stage_batch.labels(self.stage.name).observe(len(batch))
            await self.handle_many([(e.value, e.message) for e in batch])
            for done in batch:
                await stream.ack(done)
            batch.clear()

    async def handle(self, value: Any, message: Any) -> str:
        """One event: 'passed' (a record sent to the stage's topic) or 'dead_letter'."""
        return (await self.handle_many([(value, message)]))[0]

    async def handle_many(self, events: list[tuple[Any, Any]]) -> list[str]:
        """(value, message) pairs, in order: each 'passed' or 'dead_letter', its record or dead letter sent in order."""
        if self.ready is not None and not self.ready.is_set():
            await self.ready.wait()
        stage = self.stage
        refs: list[RawRef | None] = []
        for value, message in events:
            try:
                refs.append(stage.ref_of(value, message))
            except Exception:
                refs.append(None)
        results: list[BaseModel | Exception | None] = [None] * len(events)
        todo: list[int] = []
        for i, (value, _message) in enumerate(events):
            if isinstance(value, dict) and codec.UNDECODABLE in value:
                results[i] = Rejected("bad message", f"not JSON: {value['error']}")
            else:
                todo.append(i)
        if todo:
            values, step_refs = [events[i][0] for i in todo], [refs[i] for i in todo]
            if stage.awaited:
                done = []
                for value, ref in zip(values, step_refs, strict=True):
                    try:
                        done.append(await stage.step(value, ref))  # type: ignore[misc]
                    except Exception as exc:
                        done.append(exc)
            elif stage.offload:
                done = await asyncio.get_running_loop().run_in_executor(None, self._results, values, step_refs)
            else:
                done = self._results(values, step_refs)
            for i, result in zip(todo, done, strict=True):
                results[i] = result
        outcomes = []
        for (value, _message), ref, result in zip(events, refs, results, strict=True):
            try:
                if isinstance(result, Exception):
                    raise result
                key, out = stage.key(result).encode(), result.model_dump(mode="json")  # type: ignore[union-attr]
            except Exception as exc:
                source, url = origin(value)
                letter = dead_letter(stage.name, exc, source=source, url=url, raw=ref,
                                     payload=value if stage.keep_payload else None)
                await self.send("dead-letters", None, letter.model_dump(mode="json"))
                self.metrics.stage_outcomes.labels(stage.name, "dead_letter").inc()
                outcomes.append("dead_letter")
                continue
            await self.send(stage.out, key, out)
            self.metrics.stage_outcomes.labels(stage.name, "passed").inc()
            outcomes.append("passed")
        return outcomes

    def _results(self, values: list[Any], refs: list[RawRef | None]) -> list[BaseModel | Exception]:
        """The step's result or exception for each value: `step_many` when there is one and more than one value
        (if it fails as a whole, or answers with the wrong count, value by value); else `step` value by value."""
        stage = self.stage
        if stage.step_many is not None and len(values) > 1:
            try:
                many = list(stage.step_many(values, refs))
                if len(many) == len(values):
                    return many
                log.error("%s: step_many gave %d results for %d values; going one by one", stage.name, len(many),
                          len(values))
            except Exception:
                log.exception("%s: step_many failed as a whole; going one by one", stage.name)
        out: list[BaseModel | Exception] = []
        for value, ref in zip(values, refs, strict=True):
            try:
                out.append(stage.step(value, ref))  # type: ignore[arg-type]
            except Exception as exc:
                out.append(exc)
        return out
