"""An in-process harness for the runtime's parts, no broker (after quix-streams' `sdf.test()` and bytewax's testing
sources/sinks): feed values into a StageRunner, or into the real topology's three stages chained, and look at
what they sent to each topic."""

from __future__ import annotations

import asyncio
from collections import namedtuple
from types import SimpleNamespace
from typing import Any

from streams.runtime.metrics import WorkerMetrics
from streams.runtime.stage_runner import Stage, StageRunner

Message = namedtuple("Message", "topic partition offset timestamp")
Event = namedtuple("Event", "value message")


class Outbox:
    """Stands for the topics a runner sends to: (topic key, message key, value) in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, dict]] = []

    async def send(self, topic: str, key: bytes | None, value: dict) -> None:
        self.sent.append((topic, key, value))

    def values(self, topic: str) -> list[dict]:
        return [value for t, _, value in self.sent if t == topic]


class FakeStream:
    """What a Faust agent is given: `events()` yields events with `.value` and `.message`; as Faust, it acks an
    event when the agent asks for the next one (unless `enable_acks` was turned off: then `ack(event)` does),
    and its `channel.queue` holds the events not yet taken (all of them are waiting: a burst)."""

    def __init__(self, values: list[Any], topic: str = "newsstream.raw-html", outbox: Outbox | None = None):
        self.items = [Event(v, Message(topic, 0, i, 1_714_521_600.0)) for i, v in enumerate(values)]
        self.enable_acks = True
        self.acked: list[tuple[int, int]] = []  # (offset, records the outbox held when it was acked)
        self.outbox = outbox
        self._next = 0
        self.channel = SimpleNamespace(queue=SimpleNamespace(empty=lambda: self._next >= len(self.items)))

    async def events(self):
        for item in self.items:
            self._next += 1
            yield item
            if self.enable_acks:
                await self.ack(item)

    async def ack(self, event: Event) -> bool:
        self.acked.append((event.message.offset, len(self.outbox.sent) if self.outbox else 0))
        return True


def run_stage(stage: Stage, values: list[Any], *, topic: str = "newsstream.raw-html",
              metrics: WorkerMetrics | None = None) -> Outbox:
    """Every value through one stage, as its agent would run it; the runner must return, never raise."""
    outbox = Outbox()
    runner = StageRunner(stage, outbox.send, metrics or WorkerMetrics())
    asyncio.run(asyncio.wait_for(runner.run(FakeStream(values, topic)), 60))
    return outbox


def topology_runners(app: Any) -> dict[str, StageRunner]:
    """The StageRunner behind each agent of an app made by streams.pipeline.topology.create_app."""
    return {name: agent.fun.runner for name, agent in app.agents.items()}


def run_topology(app: Any, raw_values: list[dict]) -> Outbox:
    """Raw pages through clean -> entities -> stories of the real topology, each stage's output fed to the next.

    The stories index starts empty (its owner's rebuild needs the warehouse); everything sent lands in one Outbox."""
    runners = topology_runners(app)
    outbox = Outbox()
    for runner in runners.values():
        runner.send = outbox.send
    runners["stories"].ready.set()

    async def chain() -> None:
        await runners["clean"].run(FakeStream(raw_values, "newsstream.raw-html"))
        await runners["entities"].run(FakeStream(outbox.values("cleaned"), "newsstream.cleaned"))
        await runners["stories"].run(FakeStream(outbox.values("entities"), "newsstream.entities"))

    asyncio.run(asyncio.wait_for(chain(), 120))
    return outbox
