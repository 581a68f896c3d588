"""How many cores this process may use: the default number of pages cleaned side by side (`process --jobs`, a
worker's NEWSSTREAM_CLEAN_WORKERS). Kept free of heavy imports: the CLI's parser reads it."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
MOST_BY_DEFAULT = 4  # each cleaning process holds ~150 MB; more side by side is a choice, not a default


def cgroup_cpu_limit(cpu_max: Path = CGROUP_CPU_MAX) -> int | None:
    """Whole cores allowed by a cgroup v2 quota (`docker run --cpus 1.5` -> 2), None when unlimited or unknown.
    Written by hand: os.process_cpu_count (3.13) reads the affinity mask only, and a container's quota is not in it."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota == "max":
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError, ZeroDivisionError):
        return None


def available_cores(cap: int = MOST_BY_DEFAULT, cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Cores this process may run on (its affinity mask, then its cgroup's quota), at least 1, at most `cap`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = cgroup_cpu_limit(cpu_max)
    if limit is not None:
        cores = min(cores, limit)
    return max(1, min(cap, cores))
