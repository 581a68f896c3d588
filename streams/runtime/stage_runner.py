"""The stage runner: one event in, one record or one dead letter out; an exception never escapes.

Faust acks an event whose agent raised (and the agent dies), so every failure, from decoding to encoding the
result, becomes a dead letter with the stage, the reason and the page's raw reference. The runner knows nothing
of Faust beyond `event.value` / `event.message`; tests drive `handle` directly (tests/test_stage_runner.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
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
    step: Step
    out: str
    key: Callable[[Any], str]
    ref_of: RefOf = carried_ref
    keep_payload: bool = False  # dead letters carry the input itself (raw pages: replayable as they came)
    offload: bool = False  # CPU-bound step: run in a thread, off the event loop


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
        """The agent's body: every event of a Faust stream through `handle`."""
        async for event in stream.events():
            await self.handle(event.value, event.message)

    async def handle(self, value: Any, message: Any) -> str:
        """One event: 'passed' (a record sent to the stage's topic) or 'dead_letter'."""
        if self.ready is not None and not self.ready.is_set():
            await self.ready.wait()
        stage = self.stage
        try:
            ref = stage.ref_of(value, message)
        except Exception:
            ref = None
        try:
            if isinstance(value, dict) and codec.UNDECODABLE in value:
                raise Rejected("bad message", f"not JSON: {value['error']}")
            if stage.offload:
                result = await asyncio.get_running_loop().run_in_executor(None, stage.step, value, ref)
            else:
                result = stage.step(value, ref)
            key, out = stage.key(result).encode(), result.model_dump(mode="json")
        except Exception as exc:
            source, url = origin(value)
            letter = dead_letter(stage.name, exc, source=source, url=url, raw=ref,
                                 payload=value if stage.keep_payload else None)
            await self.send("dead-letters", None, letter.model_dump(mode="json"))
            self.metrics.stage_outcomes.labels(stage.name, "dead_letter").inc()
            return "dead_letter"
        await self.send(stage.out, key, out)
        self.metrics.stage_outcomes.labels(stage.name, "passed").inc()
        return "passed"
