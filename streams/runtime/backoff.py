"""Retry with capped exponential backoff: the one loop the sink, the story-index rebuild and the archive heal share.

Hand-written (a dozen lines) rather than tenacity/backoff: the callers need their own metrics and log lines at
each retry and an async sleep that tests can replace, which is all this is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def retry(attempt: Callable[[], Awaitable[T]], *, first: float, cap: float, retries: int | None = None,
                retryable: Callable[[Exception], bool] = lambda exc: True,
                on_retry: Callable[[Exception, int, float], None] | None = None) -> T:
    """`await attempt()` until it returns. A failure `retryable` accepts is retried after `first` seconds, then
    twice as long each time up to `cap`; `retries` bounds how many times (None: until it works or is cancelled).
    `on_retry(exc, number, wait)` runs before each wait (log line, metrics). Anything else, and the last failure
    once the retries are spent, is raised; cancellation always passes through."""
    wait = first
    number = 0
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not retryable(exc) or (retries is not None and number >= retries):
                raise
            number += 1
            if on_retry is not None:
                on_retry(exc, number, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, cap)
