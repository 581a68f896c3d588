"""Python's cyclic garbage collector, set for this pipeline's processes (every command: the worker, `process` and the
cleaning children `process` forks; a worker's cleaning children are spawned and keep Python's default).

A young-generation collection starts after 700 net new containers by default: the entities step makes ~100 a page
(mentions, entities and their models) and a batch's results stay alive until they are sent, so every collection walked
a batch's thousands of live models for nothing: ~5 % of the step's CPU time (benchmarks/RESULTS.md). Reference
counting frees nearly everything here; the collector only finds the rare cycle (an exception with its traceback),
which can wait for 100,000 new containers.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 100_000  # net new containers before a young collection (CPython's default: 700)


def set_thresholds() -> None:
    """Raise the young generation's threshold; the older generations' stay as they are."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
