"""A hard time budget for cleaning one page: the work runs in a child process, killed when it overruns.

A thread cannot be stopped, and trafilatura spends 25-30 s on some 4 MB pages (80,000 link blocks, a
90,000-row table, inline tag soup: measured), so a budget that must hold needs a process. pebble runs
the pool, kills an overrunning worker and starts a fresh one. One worker is enough: the clean agent
handles one event at a time. The child is spawned, not forked, since the parent runs threads and an event loop.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import TimeoutError as FutureTimeout

from pebble import ProcessExpired, ProcessPool

from schemas.records import Article, RawPage, RawRef
from streams.stages import Rejected
from streams.stages.clean import CleanLimits
from streams.stages.siteprofile import SiteProfile
from streams.steps import clean_step


def _warm_up() -> None:
    import py3langid

    import streams.steps  # noqa: F401  (trafilatura and the models load before the first page's clock starts)

    py3langid.classify("warm up")  # the language model loads on first use: seconds on a busy machine


class CleanBudget:
    """`clean(page)` as `clean_step`, but a page that takes longer than `seconds` is rejected as 'timeout'.

    seconds <= 0 runs in the calling thread with no budget.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()

    def _workers(self) -> ProcessPool:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPool(max_workers=1, initializer=_warm_up,
                                         context=multiprocessing.get_context("spawn"))
            return self._pool

    def clean(self, page: RawPage, limits: CleanLimits, raw: RawRef | None = None,
              profile: SiteProfile | None = None) -> Article:
        if self.seconds <= 0:
            return clean_step(page, limits, raw, profile)
        future = self._workers().schedule(clean_step, args=(page, limits, raw, profile), timeout=self.seconds)
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

    def __enter__(self) -> "CleanBudget":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
