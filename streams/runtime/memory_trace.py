"""A diagnostic switch: NEWSSTREAM_MEMORY_TRACE=FILE makes the worker trace its Python allocations (tracemalloc) and
append, every NEWSSTREAM_MEMORY_TRACE_SECONDS, the lines that grew most since the first snapshot to FILE, with the
process's RssAnon and RssFile beside them. It finds where resident memory goes (benchmarks/memory.py --trace);
tracemalloc costs CPU and memory itself, so it is off unless asked for, and not for production.
"""

from __future__ import annotations

import logging
import threading
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from streams.errors import UserError

log = logging.getLogger("newsstream")
FRAMES = 4  # enough to see which caller of a library allocates


def rss_kib() -> dict[str, int]:
    """RssAnon and RssFile of this process, KiB (Linux; empty elsewhere)."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                out[name] = int(rest.split()[0])
    except OSError:
        pass
    return out


class MemoryTrace(threading.Thread):
    def __init__(self, path: Path, seconds: float, top: int = 25):
        super().__init__(name="memory-trace", daemon=True)
        self.path, self.seconds, self.top = path, seconds, top

    def start(self) -> None:
        try:
            with self.path.open("a") as out:  # a path that cannot be written is the user's one-line error, at start
                out.write(f"== trace started {datetime.now(UTC).isoformat(timespec='seconds')}, every "
                          f"{self.seconds:g} s\n")  # written and flushed here: a full disk (/dev/full) fails now
        except OSError as exc:
            raise UserError(f"NEWSSTREAM_MEMORY_TRACE={self.path}: cannot write there ({exc.strerror})") from exc
        tracemalloc.start(FRAMES)
        self.first = tracemalloc.take_snapshot()
        super().start()

    def write_diff(self) -> None:
        snapshot = tracemalloc.take_snapshot()  # unfiltered: filter_traces runs fnmatch per trace, minutes on a worker
        traced, peak = tracemalloc.get_traced_memory()
        lines = [f"== {datetime.now(UTC).isoformat(timespec='seconds')} rss {rss_kib()} KiB; traced "
                 f"{traced / 2**20:.1f} MiB (peak {peak / 2**20:.1f})"]
        for stat in snapshot.compare_to(self.first, "traceback")[: self.top]:
            where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback)
            lines.append(f"{stat.size_diff / 1024:+10.0f} KiB {stat.count_diff:+8d} blocks  {where}")
        with self.path.open("a") as out:
            out.write("\n".join(lines) + "\n")

    def run(self) -> None:
        while True:
            time.sleep(self.seconds)
            try:
                self.write_diff()
            except OSError as exc:  # the file went away or the disk filled: the worker goes on, untraced from here
                log.error("memory trace: could not write %s (%s); stopping the trace", self.path, exc.strerror or exc)
                tracemalloc.stop()
                return
