"""Memory through a burst: one worker (it holds chDB) on the local broker, every process sampled as pages go through.

    python benchmarks/memory.py [--pages 3000] [--every 5] [--env NAME=VALUE ...] [--trace FILE]
                                [--plain-worker [--plain-env NAME=VALUE ...]]

Sends --pages synthetic pages at once (from a thread) and, from the start of sending, every --every seconds
prints from /proc/PID/status RssAnon, RssFile and RSS of the worker (the process that runs the agents and chDB), of
its cleaning children (the time budget's processes, NEWSSTREAM_CLEAN_WORKERS of them: summed), of its supervisor and of the broker (Tansu), with the outcomes landed
in the ledger so far and chDB's own MemoryTracking. At the end (or at `kill PID`: the figures so far): peak RSS of
each, the worker's and the broker's growth per page processed (least-squares slope of RSS over outcomes once every
page is sent, past the first fifth of the outcomes) and chDB's caches. `--env` passes settings to the worker
(e.g. --env NEWSSTREAM_STREAM_BUFFER=64 --env MALLOC_ARENA_MAX=2) to compare shapes; `--trace FILE`
sets NEWSSTREAM_MEMORY_TRACE so the worker writes tracemalloc diffs there (slow: for finding a cause, not figures).
`--plain-worker` starts a second worker beside it with NEWSSTREAM_SINK=false, which never loads chDB (the shape of
every worker on a ClickHouse server, as in compose), and samples it too: its own pages (its /metrics: pages it
cleaned, articles its stories stage indexed) are printed with it.
Not a test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.inputs.ingest import ingest  # noqa: E402
from streams.runtime.broker import LocalBroker  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.warehouse.client import WorkerWarehouse  # noqa: E402
from tests.stack import WorkerProcess  # noqa: E402
from tests.synthetic import synthetic_pages, write_jsonl  # noqa: E402

MIB = 1024
STOP = threading.Event()


def status(pid: int | None) -> dict[str, float]:
    """RssAnon, RssFile, VmRSS and VmHWM of a process, MiB (empty when it is gone)."""
    if pid is None:
        return {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("RssAnon", "RssFile", "RssShmem", "VmRSS", "VmHWM"):
            out[name] = int(rest.split()[0]) / MIB
    return out


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def processes(supervisor: int) -> dict[str, int | list[int] | None]:
    """The supervisor's child is the worker (`streams.cli run` again); the worker's children are the clean budget's
    (NEWSSTREAM_CLEAN_WORKERS of them)."""
    worker = next((p for p in children(supervisor) if "streams.cli" in cmdline(p)), None)
    clean = [p for p in children(worker) if "spawn_main" in cmdline(p)] if worker else []
    return {"supervisor": supervisor, "worker": worker, "clean child": clean}


def memory_of(pids: int | list[int] | None) -> dict[str, float]:
    """status() of one process, or the sum over several (the cleaning children)."""
    if not isinstance(pids, list):
        return status(pids)
    total: dict[str, float] = {}
    for pid in pids:
        for name, mib in status(pid).items():
            total[name] = total.get(name, 0.0) + mib
    return total


def stage_counts(plain_web: str) -> dict[str, int]:
    """Messages each stage of a worker handled so far (its /metrics: newsstream_stage_messages, all outcomes)."""
    try:
        with urllib.request.urlopen(f"{plain_web}/metrics", timeout=30) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    counts: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("newsstream_stage_messages_total{"):
            labels, _, value = line.rpartition(" ")
            stage = labels.split('stage="', 1)[1].split('"', 1)[0]
            counts[stage] = counts.get(stage, 0) + int(float(value))
    return counts


def answers(plain_web: str) -> bool:
    """The worker's web server is up (its /metrics answers)."""
    try:
        with urllib.request.urlopen(f"{plain_web}/metrics", timeout=5):
            return True
    except OSError:
        return False


def sql(web: str, query: str, parameters: dict | None = None):
    return WorkerWarehouse(web, timeout=120).query(query, parameters)[1]


def landed(web: str) -> int | None:
    try:
        return sql(web, "SELECT count() FROM ledger FINAL")[0][0]
    except (OSError, RuntimeError):
        return None


JEMALLOC = ("SELECT {name:String}, toUInt64OrZero(extract(stats, {pattern:String})) FROM system.jemalloc_stats")


def chdb_memory(web: str) -> dict[str, float]:
    """chDB's own accounting, MiB (chDB has no system.asynchronous_metrics), and its allocator's: jemalloc's
    `allocated` (what chDB holds, tracked or not) and `resident` (its share of the worker's anonymous memory; the rest
    is the Python side's)."""
    try:
        rows = sql(web, "SELECT metric, value FROM system.metrics WHERE metric IN ('MemoryTracking', "
                        "'MarkCacheBytes', 'UncompressedCacheBytes', 'QueryConditionCacheBytes') UNION ALL "
                        "SELECT 'PrimaryKeyBytes', sum(primary_key_bytes_in_memory_allocated) FROM system.parts")
    except (OSError, RuntimeError):
        return {}
    for name, pattern in (("JemallocAllocated", r"Allocated: (\d+)"), ("JemallocResident", r" resident: (\d+)")):
        try:
            rows += sql(web, JEMALLOC, {"name": name, "pattern": pattern})
        except (OSError, RuntimeError):  # an engine built without jemalloc
            pass
    return {name: float(value) / MIB / MIB for name, value in rows}


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return float("nan")
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else float("nan")


def sample_until(web, worker, broker, samples: list[dict], t0: float, sent_so_far, every: float,
                 stall: float, plain=None) -> int:
    """Sample every `every` seconds until every page sent has an outcome (or none came for `stall` seconds)."""
    last, last_change = -1, time.monotonic()
    while True:
        procs = processes(worker.process.pid)
        mem = {name: memory_of(pid) for name, pid in procs.items()}
        mem["broker"] = status(broker.process.pid)
        stages = {}
        if plain is not None:
            plain_procs = processes(plain.process.pid)
            mem["plain worker"] = memory_of(plain_procs["worker"])
            mem["plain clean child"] = memory_of(plain_procs["clean child"])
            stages = {"plain": stage_counts(plain.plain_web), "holder": stage_counts(worker.plain_web)}
        count = landed(web) or 0
        chdb = chdb_memory(web)
        now = time.monotonic()
        sent = sent_so_far()
        samples.append({"t": now - t0, "count": count, "mem": mem, "chdb": chdb, "sending": sent is None,
                        "stages": stages})
        w, c = mem["worker"], mem["clean child"]
        line = (f"{now - t0:6.0f} {count:8d} | {w.get('RssAnon', 0):6.0f} / {w.get('RssFile', 0):5.0f} / "
                f"{w.get('VmRSS', 0):6.0f}       | {c.get('RssAnon', 0):6.0f} / {c.get('VmRSS', 0):6.0f}"
                f"          | {mem['supervisor'].get('VmRSS', 0):10.0f} | {mem['broker'].get('VmRSS', 0):7.0f}"
                f" | {chdb.get('MemoryTracking', float('nan')):8.0f} {chdb.get('JemallocResident', float('nan')):6.0f}")
        if plain is not None:
            p, pc, own = mem["plain worker"], mem["plain clean child"], stages.get("plain", {})
            line += (f" | {p.get('RssAnon', 0):6.0f} / {p.get('RssFile', 0):5.0f} / {p.get('VmRSS', 0):6.0f}"
                     f" {pc.get('VmRSS', 0):6.0f} | {own.get('clean', 0):6d} {own.get('stories', 0):6d}")
        print(line + ("" if sent is not None else "  (sending)") + f"  load {load()}", flush=True)
        if count != last:
            last, last_change = count, now
        if (sent is not None and (count >= sent or now - last_change > stall) or worker.process.poll() is not None
                or plain is not None and plain.process.poll() is not None
                or STOP.wait(every)):
            return sent if sent is not None else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the worker")
    parser.add_argument("--trace", type=Path, default=None, help="tracemalloc diffs from the worker to this file")
    parser.add_argument("--plain-worker", action="store_true",
                        help="a second worker with NEWSSTREAM_SINK=false (never loads chDB), sampled too")
    parser.add_argument("--plain-env", action="append", default=[], help="NAME=VALUE for the plain worker")
    parser.add_argument("--stall", type=float, default=90.0, help="stop after this long without a new outcome")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())  # `kill PID`: the figures so far, then stop everything
    for item in args.env + args.plain_env:
        if "=" not in item or not item.split("=", 1)[0]:
            parser.error(f"--env/--plain-env takes NAME=VALUE, not {item!r}")
    env = dict(item.split("=", 1) for item in args.env)
    env["NEWSSTREAM_RECONCILE_SECONDS"] = "0"
    plain_env = dict(item.split("=", 1) for item in args.plain_env) | {"NEWSSTREAM_SINK": "false",
                                                                       "NEWSSTREAM_RECONCILE_SECONDS": "0"}
    if args.trace:
        env["NEWSSTREAM_MEMORY_TRACE"] = str(args.trace.resolve())

    with tempfile.TemporaryDirectory(prefix="newsstream-memory-") as tmp:
        data = Path(tmp)
        pages = write_jsonl(data / "pages.jsonl", synthetic_pages(args.pages))
        with LocalBroker(data) as broker:
            settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=data)
            worker = WorkerProcess(data, broker.url, name="worker", **env).start()
            assert worker.process is not None
            web = worker.web
            plain = None
            samples: list[dict] = []
            try:
                while landed(web) is None:
                    if worker.process.poll() is not None:
                        sys.exit(f"the worker exited: {worker.log_tail()}")
                    time.sleep(0.5)
                if args.plain_worker:
                    plain = WorkerProcess(data, broker.url, name="plain", **plain_env).start()
                    while not answers(plain.plain_web):
                        if plain.process.poll() is not None:
                            sys.exit(f"the plain worker exited: {plain.log_tail()}")
                        time.sleep(0.5)
                    time.sleep(8)  # the rebalance that shares the partitions
                time.sleep(8)  # the group joins before the load starts
                print(f"env: {' '.join(args.env) or '(defaults)'}; {args.pages} pages at once"
                      + (f"; plain worker (NEWSSTREAM_SINK=false) env: {' '.join(args.plain_env) or '(defaults)'}"
                         if plain else ""), flush=True)
                print(f"{'t s':>6} {'outcomes':>8} | worker anon / file / total | clean children anon / total | "
                      f"supervisor | broker  | chDB tracked, jemalloc resident MiB"
                      + (" | plain worker anon / file / total, its clean children | pages it cleaned, indexed"
                         if plain else ""), flush=True)
                t0 = time.monotonic()
                # Sent from a thread, so the samples cover the ingest too (the backlog builds up then); a daemon: a
                # run stopped while sending does not wait for the rest.
                report: list = []
                sending = threading.Thread(target=lambda: report.append(
                    asyncio.run(ingest([pages], settings, broker.url, progress=False))), daemon=True)
                sending.start()
                sent = sample_until(web, worker, broker, samples, t0, lambda: report[0].sent if report else None,
                                    args.every, args.stall, plain)
                elapsed = time.monotonic() - t0
                final = samples[-1]
                chdb = chdb_memory(web)
            finally:
                if plain is not None:
                    plain.stop()
                worker.stop()

    print(f"\n{final['count']} of {sent} outcomes in {elapsed:.0f} s")
    print(f"load at the end: {load()}")
    for name in ("worker", "clean child", "supervisor", "broker", "plain worker", "plain clean child"):
        peaks = [s["mem"][name] for s in samples if s["mem"].get(name)]
        if peaks:
            label = name.replace("clean child", "clean children (sum)")
            print(f"{label:<12} peak sampled RSS {max(p['VmRSS'] for p in peaks):6.0f} MiB (anon "
                  f"{max(p['RssAnon'] for p in peaks):6.0f}, file {max(p['RssFile'] for p in peaks):5.0f}); "
                  f"VmHWM {peaks[-1]['VmHWM']:6.0f} MiB; last RSS {peaks[-1]['VmRSS']:6.0f} MiB")
    resident = [(s["chdb"]["JemallocResident"], s["mem"]["worker"]["RssAnon"]) for s in samples
                if s["chdb"].get("JemallocResident") is not None and s["mem"].get("worker")]
    if resident:
        (first, first_anon), (last, last_anon) = resident[0], resident[-1]
        print(f"worker anonymous = chDB's allocator (jemalloc resident) + the rest (Python, libraries): at start "
              f"{first:.0f} + {first_anon - first:.0f} MiB, peak chDB {max(r for r, _ in resident):.0f} / rest "
              f"{max(a - r for r, a in resident):.0f} MiB, end {last:.0f} + {last_anon - last:.0f} MiB")
    # Growth per page processed: least-squares slope once every page is sent (the broker then only gains what the
    # later topics carry) and a fifth of the outcomes are in (start-up and first batches do not count).
    steady = [s for s in samples if not s["sending"] and s["count"] >= 0.2 * final["count"]]
    for name, key in (("worker", "RssAnon"), ("worker", "VmRSS"), ("broker", "VmRSS"), ("plain worker", "RssAnon"),
                      ("plain worker", "VmRSS")):
        if name not in final["mem"]:
            continue
        points = [(s["count"], s["mem"][name][key]) for s in steady if s["mem"].get(name)]
        if len(points) < 2:
            print(f"growth {name} {key}: not measured ({len(points)} sample(s) once all pages were sent and a fifth of "
                  "the outcomes were in: more pages or a shorter --every)")
            continue
        print(f"growth {name} {key}: {slope(points) * MIB:7.2f} KiB per page processed "
              f"(slope over {len(points)} samples, all pages sent, from {0.2 * final['count']:.0f} outcomes)")
    sending = [s for s in samples if s["sending"] and s["mem"].get("broker")]
    if sending and len(samples) > len(sending):
        print(f"broker while {sent} pages were sent: {sending[0]['mem']['broker']['VmRSS']:.0f} -> "
              f"{samples[len(sending)]['mem']['broker']['VmRSS']:.0f} MiB")
    if final.get("stages"):
        for who, counts in final["stages"].items():
            print(f"{who} worker handled: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print("chDB at the end (MiB): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(chdb.items())))


if __name__ == "__main__":
    main()
