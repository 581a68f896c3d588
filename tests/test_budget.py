"""The per-page time budget: a page that overruns is rejected as 'timeout' and the next page still cleans."""

from __future__ import annotations

import pytest

from schemas.records import RawPage
from streams.pipeline.budget import CleanBudget
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.clean import CleanLimits
from tests.conftest import CORPUS

# 20,000 link blocks: trafilatura needs seconds on this page (80,000 take 25 s), far beyond the budget below.
SLOW = RawPage(source="slow", html="<html><body>" + "".join(
    f'<div><a href="/{i}">كلمة {i}</a></div>' for i in range(20_000)) + "</body></html>")
GOOD = RawPage(source="good", html=(CORPUS / "01-rt-lavrov-west-signals.html").read_text(encoding="utf-8"))


def test_an_overrunning_page_is_rejected_and_the_worker_replaced():
    with CleanBudget(1.0) as budget:
        assert budget.clean(GOOD, CleanLimits()).title  # starts the worker
        with pytest.raises(Rejected) as info:
            budget.clean(SLOW, CleanLimits())
        assert info.value.reason == "timeout"
        assert budget.clean(GOOD, CleanLimits()).title, "a fresh worker takes the next page"


def test_reasons_cross_the_process_boundary_intact():
    with CleanBudget(30.0) as budget:
        with pytest.raises(Rejected) as info:
            budget.clean(RawPage(source="t", html="<html><head><title>t</title></head></html>"), CleanLimits())
    assert (info.value.reason, info.value.detail) == ("no article text", "the extractor found no main text")


def test_no_budget_cleans_in_the_calling_thread():
    assert CleanBudget(0).clean(GOOD, CleanLimits()).title


def test_a_fresh_child_loads_the_language_model_before_its_first_page_is_timed():
    # Loading it took 1.4 s on a loaded machine: inside a page's budget it turned normal pages into timeouts.
    import subprocess
    import sys

    check = ("import py3langid.langid as langid, streams.pipeline.steps; before = langid.IDENTIFIER is None; "
             "from streams.pipeline.budget import _warm_up; _warm_up(); print(before, langid.IDENTIFIER is not None)")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "True"], out.stderr


def test_a_pool_whose_child_died_idle_is_replaced():
    """Pebble declares a pool broken for good when its workers die with no task running (the OOM killer, a kill of
    the idle child): every later page failed ("Unexpected error within the Pool"), in the stream for ever."""
    import os
    import signal
    import time

    with CleanBudget(30.0, workers=1) as budget:
        assert budget.clean(GOOD, CleanLimits()).title  # starts the worker, which then waits idle
        for pid in list(budget._workers()._pool_manager.worker_manager.workers):
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)  # pebble's manager sees the death and breaks the pool
        for _ in range(2):
            assert budget.clean(GOOD, CleanLimits()).title, "a new pool takes the next pages"


def test_clean_async_gives_what_clean_gives_and_keeps_the_budget_and_the_reasons():
    """The worker's clean agent awaits the child on the event loop (no executor thread waits on it)."""
    import asyncio

    async def scenario(budget: CleanBudget):
        article = await budget.clean_async(GOOD, CleanLimits())
        with pytest.raises(Rejected) as slow:
            await budget.clean_async(SLOW, CleanLimits())
        with pytest.raises(Rejected) as empty:
            await budget.clean_async(RawPage(source="t", html="<html><head><title>t</title></head></html>"),
                                     CleanLimits())
        return article, slow.value.reason, (empty.value.reason, empty.value.detail), \
            await budget.clean_async(GOOD, CleanLimits())

    with CleanBudget(1.0) as budget:
        article, slow, empty, after = asyncio.run(scenario(budget))
        assert article == budget.clean(GOOD, CleanLimits()) == after  # a fresh child took the page after the timeout
    assert slow == "timeout"
    assert empty == ("no article text", "the extractor found no main text")
    assert asyncio.run(CleanBudget(0).clean_async(GOOD, CleanLimits())) == article  # no budget: in a thread


def test_clean_async_after_every_child_died_idle_goes_on_in_a_new_pool():
    import asyncio
    import os
    import signal
    import time

    with CleanBudget(30.0, workers=1) as budget:
        assert asyncio.run(budget.clean_async(GOOD, CleanLimits())).title
        for pid in list(budget._workers()._pool_manager.worker_manager.workers):
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)  # pebble notices the dead idle worker
        assert asyncio.run(budget.clean_async(GOOD, CleanLimits())).title


def test_a_cancelled_clean_async_leaves_the_child_alive():
    """A worker stopping cancels its agents: the page in the child finishes there; the child is not killed."""
    import asyncio

    async def scenario(budget: CleanBudget):
        task = asyncio.ensure_future(budget.clean_async(SLOW, CleanLimits()))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with CleanBudget(30.0, workers=1) as budget:
        budget.clean(GOOD, CleanLimits())
        children = set(budget._workers()._pool_manager.worker_manager.workers)
        asyncio.run(scenario(budget))
        assert budget.clean(GOOD, CleanLimits()).title
        assert set(budget._workers()._pool_manager.worker_manager.workers) == children


@pytest.mark.parametrize("broke", [OSError(9, "Bad file descriptor"), "BrokenProcessPool"])
def test_a_page_the_pool_broke_under_is_queued_again_not_dead_lettered(broke, monkeypatch):
    """Cleaning children killed while a worker ran: pages only waiting in the pool were dead-lettered with "OSError:
    [Errno 9] Bad file descriptor" or "All workers expired" (found by the fault injector). Twice broken, then
    cleaned; broken every time, one readable reason."""
    import asyncio
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from streams.pipeline import budget as module

    error = BrokenProcessPool("All workers expired") if broke == "BrokenProcessPool" else broke
    real, failures = CleanBudget.schedule, []

    def schedule(self, args):
        if len(failures) < self.failing:
            failures.append(error)
            future: Future = Future()
            future.set_exception(error)
            return self._workers(), future
        return real(self, args)

    monkeypatch.setattr(CleanBudget, "schedule", schedule)
    with CleanBudget(30.0, workers=1) as budget:
        budget.failing = module.POOL_ATTEMPTS - 1  # type: ignore[attr-defined]
        assert asyncio.run(budget.clean_async(GOOD, CleanLimits())).title
        failures.clear()
        assert budget.start(GOOD, CleanLimits())().title  # the offline path (process)
        failures.clear()
        budget.failing = module.POOL_ATTEMPTS  # type: ignore[attr-defined]
        for attempt in (lambda: asyncio.run(budget.clean_async(GOOD, CleanLimits())),
                        lambda: budget.start(GOOD, CleanLimits())()):
            failures.clear()
            with pytest.raises(Rejected) as rejected:
                attempt()
            assert rejected.value.reason == "error" and "kept dying" in rejected.value.detail
            assert type(error).__name__ in rejected.value.detail
