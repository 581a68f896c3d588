"""Sink insert latency on chDB while a runaway analyst query runs: own lane (the worker's design) vs shared thread.

    .venv/bin/python benchmarks/analyst_lane.py [--seconds 30] [--rows 500]

Three phases, each inserting a batch of `--rows` rows every 50 ms the way the sink does (one client, one thread):
  idle      no analyst query;
  own lane  `SELECT count() FROM numbers(1e12)` stopped by max_execution_time, on a second client in another
            thread (streams.warehouse.sql_door.AnalystLane);
  shared    the same query queued on the sink's own single-thread executor first (the old WarehouseGate /sql),
            so the next insert waits for it.
Prints p50 / p95 / max insert latency and the number of inserts per phase.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.warehouse.sql_door import AnalystLane, Limits, QueryFailed  # noqa: E402
from streams.warehouse.client import Warehouse  # noqa: E402

RUNAWAY = "SELECT count() FROM numbers(1e12)"


def inserts_while(warehouse: Warehouse, executor: ThreadPoolExecutor, running, rows: int) -> list[float]:
    """Sink-like inserts through `executor` (one thread) until `running()` is false; latencies in seconds."""
    batch = [{"x": i} for i in range(rows)]
    latencies = []
    while running():
        start = time.perf_counter()
        executor.submit(warehouse.insert_rows, "lane_probe", batch).result()
        latencies.append(time.perf_counter() - start)
        time.sleep(0.05)
    return latencies


def summary(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"{name:9s} inserts={len(ordered):4d}  p50={statistics.median(ordered) * 1000:7.1f} ms  "
            f"p95={p95 * 1000:7.1f} ms  max={ordered[-1] * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0, help="the analyst query's max_execution_time")
    parser.add_argument("--rows", type=int, default=500)
    args = parser.parse_args()
    limits = Limits(max_execution_seconds=args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"chdb://{tmp}/ch"
        warehouse = Warehouse(url)
        warehouse.client.command("CREATE TABLE lane_probe (x UInt64) ENGINE = MergeTree ORDER BY x")
        sink = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")

        deadline = time.monotonic() + min(args.seconds, 10)
        print(summary("idle", inserts_while(warehouse, sink, lambda: time.monotonic() < deadline, args.rows)))

        lane = AnalystLane(url, limits, concurrency=2)
        done = threading.Event()

        def analyst():
            import asyncio

            try:
                asyncio.run(lane.run(RUNAWAY))
            except QueryFailed as exc:
                print(f"          analyst query stopped: {exc}")
            done.set()

        start = time.monotonic()
        threading.Thread(target=analyst).start()
        own = inserts_while(warehouse, sink, lambda: not done.is_set(), args.rows)
        print(summary("own lane", own) + f"  (query ran {time.monotonic() - start:.1f} s)")
        lane.close()

        from streams.warehouse.sql_door import SqlDoor

        door = SqlDoor(warehouse.client, limits)
        start = time.monotonic()
        queued = sink.submit(lambda: _stopped(door))
        shared = inserts_while(warehouse, sink, lambda: not queued.done(), args.rows)
        shared += inserts_while(warehouse, sink, iter([True, False]).__next__, args.rows)  # the insert after it
        print(summary("shared", shared) + f"  (query ran {time.monotonic() - start:.1f} s)")
        sink.shutdown()
        warehouse.close()


def _stopped(door) -> None:
    try:
        door.run(RUNAWAY)
    except QueryFailed:
        pass


if __name__ == "__main__":
    main()
