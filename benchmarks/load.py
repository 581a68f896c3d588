"""Load run on the embedded stack: N distinct pages, two worker processes, the local broker and chDB.

    python benchmarks/load.py [--pages 20000] [--workers 2] [--rate PAGES_PER_SECOND]

Without --rate all pages are sent at once (a burst: latency then includes queueing); with it, at a
steady rate, which is what the freshness target (p95 under 30 s) is about.

Prints throughput, raw-topic-to-warehouse latency (p50/p95/p99, from the ledger), peak memory of
each process, and lost / duplicated counts before and after reconcile. Not a test: figures depend
on the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.runtime.broker import LocalBroker  # noqa: E402
from streams.inputs.ingest import ingest  # noqa: E402
from streams.warehouse.client import WorkerWarehouse, connect  # noqa: E402
from streams.settings import Settings  # noqa: E402
from tests.stack import WorkerProcess  # noqa: E402
from tests.synthetic import synthetic_pages, write_jsonl  # noqa: E402


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the process's peak resident set so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_tree(pid: int) -> list[tuple[int, str, float]]:
    """(pid, command line, CPU seconds: user + system) of a process and each of its live descendants, from /proc:
    the supervisor, the worker it runs and the worker's cleaning child are separate processes."""
    out = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            todo += [int(c) for task in Path(f"/proc/{p}/task").iterdir()
                     for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
        out.append((p, command, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")))
    return out


def sql(web: str, query: str):
    return WorkerWarehouse(web, timeout=120).query(query)[1]


def wait_for(web: str, target: int, stall_seconds: float, timeout: float) -> tuple[int, float]:
    """Poll the ledger until `target` outcomes or no progress for `stall_seconds`; returns (count, time)."""
    start = last_change = time.monotonic()
    last = -1
    while time.monotonic() - start < timeout:
        try:
            count = sql(web, "SELECT count() FROM ledger FINAL")[0][0]
        except (OSError, RuntimeError):
            count = 0
        now = time.monotonic()
        if count != last:
            last, last_change = count, now
        if count >= target or (count > 0 and now - last_change > stall_seconds):
            return count, now
        time.sleep(1)
    return last, time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=None, help="pages per second (default: all at once)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="newsstream-load-") as tmp:
        data = Path(tmp)
        all_pages = synthetic_pages(args.pages)
        step = max(1, int(args.rate)) if args.rate else len(all_pages)
        chunks = [write_jsonl(data / f"pages-{i:05d}.jsonl", all_pages[i:i + step])
                  for i in range(0, len(all_pages), step)]
        with LocalBroker(data) as broker:
            settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=data)
            workers = [WorkerProcess(data, broker.url, name="worker-1", NEWSSTREAM_RECONCILE_SECONDS="0")]
            workers += [WorkerProcess(data, broker.url, name=f"worker-{i + 2}", NEWSSTREAM_SINK="false")
                        for i in range(args.workers - 1)]
            for worker in workers:
                worker.start()
            web = workers[0].web
            try:
                while True:
                    try:
                        sql(web, "SELECT 1")
                        break
                    except (OSError, RuntimeError):
                        time.sleep(0.5)
                time.sleep(8)  # let every worker join the group before the load starts
                t0 = time.monotonic()
                report = None
                for n, chunk in enumerate(chunks):
                    sent = asyncio.run(ingest([chunk], settings, broker.url, progress=not args.rate))
                    if report is None:
                        report = sent
                    else:
                        report.sent += sent.sent
                        report.dead_lettered += sent.dead_lettered
                    if args.rate:  # one chunk a second
                        time.sleep(max(0.0, t0 + n + 1 - time.monotonic()))
                t_ingest = time.monotonic() - t0
                landed, t_end = wait_for(web, report.sent, stall_seconds=45, timeout=3600)
                elapsed = t_end - t0
                lost_before = report.sent - landed
                resent = 0
                for _ in range(5):
                    if landed >= report.sent:
                        break
                    result = connect(Settings(_env_file=None, data_dir=data)).post("reconcile", {"grace_seconds": "0"})
                    resent += result["resent"] + result["dead_lettered"]
                    landed, _ = wait_for(web, report.sent, stall_seconds=30, timeout=600)
                p50, p95, p99 = sql(web, "SELECT quantiles(0.5, 0.95, 0.99)(dateDiff('millisecond', raw_at, "
                                         "processed_at)) FROM ledger FINAL WHERE raw_at IS NOT NULL")[0][0]
                outcomes = dict(sql(web, "SELECT outcome, count() FROM ledger FINAL GROUP BY outcome"))
                articles_final, articles_rows = sql(web, "SELECT (SELECT count() FROM articles FINAL), "
                                                         "(SELECT count() FROM articles)")[0]
                expected_articles = sql(web, "SELECT uniqExact(article_id) FROM ledger FINAL "
                                             "WHERE outcome = 'article'")[0][0]
                weekly, mentions = sql(web, "SELECT (SELECT sum(mentions) FROM mentions_per_actor_week), "
                                            "(SELECT count() FROM mentions FINAL)")[0]
                memory = {w.log_path.stem: peak_rss_mib(w.process.pid) for w in workers}
                memory["broker (Tansu)"] = peak_rss_mib(broker.process.pid)
                cpu = {w.log_path.stem: cpu_tree(w.process.pid) for w in workers}
            finally:
                for worker in workers:
                    worker.stop()

    print(f"\npages: {report.sent} sent ({report.dead_lettered} rejected at ingest), {args.workers} workers "
          f"(one holds the warehouse), 4 partitions, "
          + (f"steady {args.rate:.0f} pages/s" if args.rate else "all at once"))
    print(f"ingest:        {t_ingest:8.1f} s  {report.sent / t_ingest:8.0f} pages/s")
    print(f"end to end:    {elapsed:8.1f} s  {landed / elapsed:8.0f} pages/s (ingest start to last outcome)")
    print(f"latency raw topic -> warehouse: p50 {p50 / 1000:.1f} s, p95 {p95 / 1000:.1f} s, p99 {p99 / 1000:.1f} s")
    print(f"outcomes: {outcomes}")
    print(f"lost before reconcile: {lost_before}; re-sent by reconcile: {resent}; "
          f"lost after: {report.sent - landed}")
    print(f"duplicated: articles {articles_final - expected_articles} (rows before merge: {articles_rows}, "
          f"after FINAL: {articles_final}); weekly mentions {weekly} vs mention rows {mentions} -> "
          f"{weekly - mentions} counted twice")
    for name, processes in cpu.items():
        for pid, command, seconds in processes:
            print(f"CPU {name} pid {pid}: {seconds:6.1f} s {1000 * seconds / max(1, landed):6.2f} ms per page "
                  f"{command[-70:]}")
    for name, mib in memory.items():
        print(f"peak RSS {name:<15} {mib:8.0f} MiB")


if __name__ == "__main__":
    main()
