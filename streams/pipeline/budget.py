"""A hard time budget for cleaning one page: the work runs in a child process, killed when it overruns.

A thread cannot be stopped, and trafilatura spends 25-30 s on some 4 MB pages (80,000 link blocks, a
90,000-row table, inline tag soup: measured), so a budget that must hold needs a process. pebble runs
the pool, kills an overrunning worker and starts a fresh one. A worker's clean agent runs NEWSSTREAM_CLEAN_WORKERS
events at once, one child each; the offline `process` runs `--jobs`. In a worker the children are spawned, not
forked, since the parent runs threads and an event loop; the offline `process` (one thread, no loop) forks
it, so the child starts with the steps already imported instead of importing them again at every start (the cost
is in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from pebble import ProcessExpired, ProcessPool

from schemas.records import Article, RawPage, RawRef
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.clean import CleanLimits
from streams.pipeline.stages.siteprofile import SiteProfile
from streams.pipeline.steps import clean_step


def _warm_up(cache_dir: Path | None = None) -> None:
    """Load what loads lazily before the first page's clock starts, in every fresh child (after a timeout too), and
    collect cycles: a parent may fork with its cyclic GC off (`process` does during its start-up)."""
    gc.enable()
    import py3langid

    import streams.pipeline.steps  # noqa: F401  (trafilatura, htmldate)
    from streams.pipeline import langmodel

    langmodel.load(cache_dir)  # its uncompressed cached copy, not py3langid's LZMA file (times: benchmarks/RESULTS.md)
    py3langid.classify("warm up")  # otherwise the language model loads on first use, inside a page's budget


def _ready() -> bool:
    return True


def _start_method() -> str:
    """fork only where it is safe: a single-threaded process with no event loop running (the offline path)."""
    try:
        asyncio.get_running_loop()
        return "spawn"
    except RuntimeError:
        pass
    return "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() else "spawn"


POOL_ATTEMPTS = 3
"""Times a page is queued when the pool breaks under it before its own child ends it (other children killed, the
pool stopped and replaced by another page's failure): the page did nothing wrong, so it is not dead-lettered."""
POOL_BROKE = (BrokenProcessPool, OSError)
"""A page's future failing with these: the pool's machinery failed (a broken pool; its pipes closed under it,
"Bad file descriptor"), not the page. A page whose own child died gets ProcessExpired and is dead-lettered."""


def _pool_died(exc: BaseException) -> Rejected:
    return Rejected("error", f"the cleaning processes kept dying ({type(exc).__name__}: {exc}); "
                             f"the page was queued {POOL_ATTEMPTS} times")


class CleanBudget:
    """`clean(page)` as `clean_step`, but a page that takes longer than `seconds` is rejected as 'timeout'.

    seconds <= 0 runs in the calling thread with no budget. `workers` child processes clean pages side by side
    (the offline `process` runs `--jobs`, a worker NEWSSTREAM_CLEAN_WORKERS: each one page at a time).
    """

    def __init__(self, seconds: float, workers: int = 1, cache_dir: Path | None = None):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, not {workers}")
        self.seconds = seconds
        self.workers = workers
        self.cache_dir = cache_dir  # where the language model's cached copy lives (settings.cache_dir)
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()

    def _workers(self) -> ProcessPool:
        with self._lock:
            if self._pool is None:
                method = _start_method()
                if method == "fork":
                    from streams.pipeline import langmodel

                    langmodel.load(self.cache_dir)  # once here, inherited by every child, instead of once in each
                    # What the parent holds now is inherited, not collected by the children: without this their
                    # cyclic GC walks those objects and copies every page it touches (copy-on-write).
                    gc.freeze()
                self._pool = ProcessPool(max_workers=self.workers, initializer=_warm_up, initargs=(self.cache_dir,),
                                         context=multiprocessing.get_context(method))
            return self._pool

    def prestart(self) -> None:
        """Start the children now (pebble forks them when its pool starts), so they warm up (imports inherited,
        the language model) while this process loads the dictionary and the recognizer, which they never use."""
        if self.seconds > 0:
            self._workers().schedule(_ready)

    def clean(self, page: RawPage, limits: CleanLimits, raw: RawRef | None = None,
              profile: SiteProfile | None = None) -> Article:
        return self.start(page, limits, raw, profile)()

    def start(self, page: RawPage, limits: CleanLimits, raw: RawRef | None = None,
              profile: SiteProfile | None = None) -> Callable[[], Article]:
        """Queue the page and return a function that waits for its Article (or raises `Rejected`).

        The offline path queues the next page before it runs the later steps of this one, so cleaning (in the
        child) and entities/stories (here) overlap. The budget still counts from when the child starts the page."""
        if self.seconds <= 0:
            from streams.pipeline import langmodel

            langmodel.load(self.cache_dir)  # cleaning runs here (no-op once loaded): from the cached copy
            return lambda: clean_step(page, limits, raw, profile)
        return PendingArticle(self, (page, limits, raw, profile))

    async def clean_async(self, page: RawPage, limits: CleanLimits, raw: RawRef | None = None,
                          profile: SiteProfile | None = None) -> Article:
        """`clean`, awaited on the event loop (a worker's clean agent): no executor thread waits on the child, so a
        page costs no thread hand-offs beyond pebble's own. With no budget, cleaning runs in an executor thread."""
        loop = asyncio.get_running_loop()
        if self.seconds <= 0:
            return await loop.run_in_executor(None, self.clean, page, limits, raw, profile)
        args = (page, limits, raw, profile)
        for attempt in range(1, POOL_ATTEMPTS + 1):
            pool, future = self.schedule(args)
            try:
                return self.result(await _settled(future))
            except POOL_BROKE as exc:  # the pool broke under the page: again, in a new pool (joined off the loop)
                await loop.run_in_executor(None, self.replace, pool)
                if attempt == POOL_ATTEMPTS:
                    raise _pool_died(exc) from None
        raise AssertionError("unreachable")

    def schedule(self, args: tuple) -> tuple[ProcessPool, Future]:
        """(the pool, the future of clean_step(*args) in it); a pool that stopped running is replaced first."""
        pool = self._workers()
        try:
            return pool, pool.schedule(clean_step, args=args, timeout=self.seconds)
        except RuntimeError:  # pebble: "the pool is not running" (broken: see replace)
            self.replace(pool)
            pool = self._workers()
            return pool, pool.schedule(clean_step, args=args, timeout=self.seconds)

    def replace(self, pool: ProcessPool) -> None:
        """Drop `pool` (if still ours) so that the next page starts a new one. Pebble declares a pool broken for good
        when its workers die while no task runs on them (killed at once, the OOM killer): every page after would fail
        (BrokenProcessPool), in the stream for ever."""
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.stop()
        try:
            pool.join(timeout=5)
        except TimeoutError:
            pass

    def result(self, future: Future) -> Article:
        """The Article of a scheduled page (waits for it), or `Rejected` for a page over budget or a dead child."""
        try:
            return future.result()
        except FutureTimeout:
            raise Rejected("timeout", f"cleaning took longer than {self.seconds:g} s "
                                      "(NEWSSTREAM_CLEAN_TIMEOUT_SECONDS); the worker was replaced") from None
        except ProcessExpired as exc:
            raise Rejected("error", f"the cleaning process died ({exc}); the worker was replaced") from None

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.stop()
                self._pool.join()
                self._pool = None

    def __enter__(self) -> CleanBudget:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


async def _settled(future: Future) -> Future:
    """`future` once it is done, awaited without a thread. A cancelled caller (the worker stopping) leaves the page
    to finish in its child: cancelling pebble's future would kill the child, which then restarts (~1.5 s CPU)."""
    waiter = asyncio.wrap_future(future)
    waiter.add_done_callback(lambda w: w.cancelled() or w.exception())  # its outcome is read from `future`
    await asyncio.wait([waiter])
    return future


class PendingArticle:
    """A page queued in a cleaning child: call it to wait for its Article; `done()` says whether that would wait."""

    def __init__(self, budget: CleanBudget, args: tuple):
        self._budget, self._args = budget, args
        self._pool, self._future = budget.schedule(args)

    def __call__(self) -> Article:
        for attempt in range(1, POOL_ATTEMPTS + 1):
            try:
                return self._budget.result(self._future)
            except POOL_BROKE as exc:  # the pool broke under the page: again, in a new pool
                self._budget.replace(self._pool)
                if attempt == POOL_ATTEMPTS:
                    raise _pool_died(exc) from None
                self._pool, self._future = self._budget.schedule(self._args)
        raise AssertionError("unreachable")

    def done(self) -> bool:
        return self._future.done()

    @property
    def future(self) -> Future:
        """The page's future in its pool (a new one if it had to be queued again): what a caller waits on."""
        return self._future
