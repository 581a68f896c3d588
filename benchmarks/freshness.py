"""Freshness at a steady rate (issue 18): capacity, then 70 % of it for N minutes, raw-to-queryable latency per hop.

    python benchmarks/freshness.py [--minutes 10] [--fraction 0.7] [--burst-pages 600] [--rate R] [--poll 0.25]
                                   [--parts process,capacity,steady,scaling] [--rounds 1]
                                   [--variant NAME:VAR=VALUE,...]...   (VAR=TREE: workers from another source tree)

  process   `newsstream process` on the burst's pages as a whole process (start-up included): pages/s, CPU.
  capacity  one `newsstream run` worker (the benchmark's own local broker, chDB, the settings' defaults or each
            variant's) gets the burst's pages at once after it is ready: pages/s from the first send to the last
            outcome in the ledger; the first variant's median is the capacity; stream/process on the same pages.
  steady    fresh distinct pages at `fraction` x capacity (or --rate), evenly spaced by one producer, for
            --minutes, on a fresh worker per variant (--variant runs several, alternated, on the same rate;
            `default` is the settings' defaults). For every page that became an article: raw produced ->
            cleaned -> entities -> stories (the Kafka timestamps of each topic's message) -> the sink's
            processed_at (rows built, just before the insert) -> first seen by a poll of the ledger every
            --poll seconds (queryable). p50/p95/p99 of raw->queryable, and of each hop.
  scaling   the burst's pages at once on two workers (one holds the warehouse) against one, same run: one core
            each (each worker pinned to its own core; it then cleans one page at a time), then unpinned.

Every figure is printed with the load average beside it (the machine is shared); speed is also given as CPU time
(user + system of the worker's processes and the broker, from /proc). Not a test: compare ratios of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.runtime.broker import LocalBroker  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.warehouse.client import WorkerWarehouse  # noqa: E402
from tests.stack import WorkerProcess, tree_cpu  # noqa: E402
from tests.synthetic import synthetic_pages, write_jsonl  # noqa: E402

HOPS = ("cleaned", "entities", "stories", "processed", "queryable")
HOP_NAMES = {"cleaned": "raw produced -> cleaned produced", "entities": "cleaned -> entities produced",
             "stories": "entities -> stories produced", "processed": "stories -> sink built rows (processed_at)",
             "queryable": "processed_at -> seen in the ledger"}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} {five:.1f} {fifteen:.1f}"


def quantiles(values: list[float]) -> str:
    if not values:
        return "no values"
    values = sorted(values)

    def q(p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))]
    return f"p50 {q(0.5):6.2f} s  p95 {q(0.95):6.2f} s  p99 {q(0.99):6.2f} s  max {values[-1]:6.2f} s"


@dataclass
class Stack:
    """The benchmark's own local broker and `workers` `newsstream run` workers (the first holds the warehouse)."""

    data: Path
    workers: int = 1
    env: dict[str, str] = field(default_factory=dict)
    pinned: bool = False  # worker i runs on core i only (its cleaning children follow: they start after)

    def __enter__(self) -> Stack:
        self.data.mkdir(parents=True, exist_ok=True)
        self.broker = LocalBroker(self.data).start()
        self.settings = Settings(_env_file=None, kafka_url=self.broker.url, data_dir=self.data)
        procs = [WorkerProcess(self.data, self.broker.url, name="worker-1", NEWSSTREAM_RECONCILE_SECONDS="0",
                               **self.env)]
        procs += [WorkerProcess(self.data, self.broker.url, name=f"worker-{i + 2}", NEWSSTREAM_SINK="false",
                                **self.env) for i in range(self.workers - 1)]
        tree = self.env.get("TREE")  # another source tree (a baseline): its `streams` in the workers
        for w in procs:
            # the tests' shorter flush interval is not a user's default: the settings' own values (or the variant's)
            if "NEWSSTREAM_SINK_FLUSH_SECONDS" not in self.env:
                w.env.pop("NEWSSTREAM_SINK_FLUSH_SECONDS", None)
            if tree:
                w.env["PYTHONPATH"] = tree
                log = open(w.log_path, "ab")
                w.process = subprocess.Popen([sys.executable, "-m", "streams.cli", "run"], env=w.env, stdout=log,
                                             stderr=subprocess.STDOUT, cwd=tree)
                log.close()
            else:
                w.start()
            if self.pinned:  # set while the worker is still importing: it reads its affinity for its default
                # number of cleaning children, which it forks later and which inherit it
                os.sched_setaffinity(w.process.pid, {sorted(os.sched_getaffinity(0))[procs.index(w)]})
        self.procs = procs
        self.web = procs[0].web
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        time.sleep(3 if self.workers == 1 else 10)  # every worker in the group before the load starts
        return self

    def _wait_ready(self) -> None:
        """Every worker's /health answers, and one says the story index is ready (it lives where the single
        `entities` partition was assigned)."""
        import urllib.request

        deadline = time.monotonic() + 300
        while True:
            ready = []
            for w in self.procs:
                try:
                    with urllib.request.urlopen(f"{w.plain_web}/health", timeout=2) as response:
                        ready.append(bool(orjson.loads(response.read()).get("story_index_ready")))
                except OSError:
                    pass
                if w.process.poll() is not None:
                    raise RuntimeError(f"{w.log_path.name} exited:\n{w.log_tail()}")
            if len(ready) == len(self.procs) and any(ready):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready in 300 s:\n{self.procs[0].log_tail()}")
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        for w in self.procs:
            w.stop()
        self.broker.stop()

    def sql(self, query: str) -> list[tuple]:
        return WorkerWarehouse(self.web, timeout=120).query(query)[1]

    def sink_writes(self) -> int:
        """Warehouse writes so far (the sink's batch histogram count, from the worker's /metrics)."""
        import urllib.request

        with urllib.request.urlopen(f"{self.procs[0].plain_web}/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("newsstream_sink_batch_messages_count"):
                    return int(float(line.split()[-1]))
        return 0

    def cpu(self) -> float:
        return sum(tree_cpu(w.process.pid) for w in self.procs) + tree_cpu(self.broker.process.pid)

    def landed(self) -> int:
        try:
            return self.sql("SELECT count() FROM ledger")[0][0]  # re-deliveries would count twice: none expected
        except (OSError, RuntimeError):
            return 0

    def wait_landed(self, target: int, stall: float = 60.0) -> tuple[int, float]:
        last, last_change = -1, time.monotonic()
        while True:
            n = self.landed()
            now = time.monotonic()
            if n != last:
                last, last_change = n, now
            if n >= target or now - last_change > stall:
                return n, now
            time.sleep(0.25)


async def produce(settings: Settings, url: str, jsonl: Path, rate: float | None) -> tuple[int, float]:
    """Send the pages of `jsonl` as `ingest` does (read by iter_documents, archived first, the same record and key),
    all at once or evenly at `rate` pages/s from one producer. Returns (sent, seconds)."""
    from datetime import UTC, datetime

    from streams.inputs.archive import writer_for
    from streams.inputs.ingest import _key
    from streams.inputs.paths import iter_documents
    from streams.pipeline.offline import raw_page
    from streams.pipeline.topics import topic_specs
    from streams.runtime.kafka import KafkaClients

    producer = KafkaClients(settings, url).producer()
    topic = topic_specs(settings)["raw-html"].name
    await producer.start()
    archive = writer_for(settings)
    pending = []
    docs = list(iter_documents([jsonl], max_bytes=settings.max_page_bytes))
    t0 = time.monotonic()
    try:
        for i, doc in enumerate(docs):
            if rate:
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            entered = datetime.now(UTC)
            page = raw_page(doc, entered_at=entered)
            archive.append(page, entered)
            pending.append(await producer.send(topic, orjson.dumps(page.model_dump(mode="json", exclude_none=True)),
                                               key=_key(doc)))
            if len(pending) >= 200:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        archive.close()
        await producer.stop()
    return len(docs), time.monotonic() - t0


def burst(stack: Stack, pages: Path) -> tuple[float, float, int, float]:
    """The pages of `pages` at once: (seconds from first send to last outcome, CPU seconds, outcomes, ingest s).
    Prints the stack's CPU while idle (10 s, before) and the warehouse writes the burst took."""
    idle0, t_idle = stack.cpu(), time.monotonic()
    time.sleep(10)
    idle = (stack.cpu() - idle0) / (time.monotonic() - t_idle)
    before, writes = stack.landed(), stack.sink_writes()
    cpu0, t0 = stack.cpu(), time.monotonic()
    sent, t_ingest = asyncio.run(produce(stack.settings, stack.broker.url, pages, None))
    landed, t_end = stack.wait_landed(before + sent)
    cpu = stack.cpu() - cpu0
    print(f"  idle before the burst: {idle * 1000:.0f} ms CPU per s (worker + broker); the burst took "
          f"{stack.sink_writes() - writes} warehouse writes")
    return t_end - t0, cpu, landed - before, t_ingest


class LedgerPoller(threading.Thread):
    """First time each page id is seen in the ledger, polled every `interval` s (its resolution)."""

    def __init__(self, stack: Stack, interval: float):
        super().__init__(daemon=True)
        self.stack, self.interval = stack, interval
        self.seen: dict[str, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                rows = self.stack.sql("SELECT page_id FROM ledger WHERE processed_at > now64(3) - INTERVAL 120 SECOND")
                now = time.time()
                for (page_id,) in rows:
                    self.seen.setdefault(page_id, now)
            except (OSError, RuntimeError):
                pass
            self.stopping.wait(self.interval)


async def topic_times(settings: Settings, url: str, name: str) -> dict[str, float]:
    """page id -> Kafka timestamp (s) of its first message on topic `name` (cleaned, entities, stories)."""
    from aiokafka import TopicPartition

    from streams.runtime.kafka import KafkaClients

    consumer = KafkaClients(settings, url).reader(fetch_max_wait_ms=200)
    await consumer.start()
    out: dict[str, float] = {}
    try:
        topic = settings.topic(name)
        await consumer.topics()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 3:
            got = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in got.values():
                quiet_since = time.monotonic()
                for m in records:
                    value = orjson.loads(m.value)
                    raw = (value.get("article") or value).get("raw") or {}
                    if raw.get("page_id"):
                        out.setdefault(raw["page_id"], m.timestamp / 1000)
    finally:
        await consumer.stop()
    return out


def steady(stack: Stack, pages: Path, rate: float, poll: float) -> dict:
    """`pages` at `rate` pages/s; per article page the time of each hop; returns the figures."""
    poller = LedgerPoller(stack, poll)
    poller.start()
    load_start = load()
    before = stack.landed()
    cpu0 = stack.cpu()
    sent, t_send = asyncio.run(produce(stack.settings, stack.broker.url, pages, rate))
    landed, _ = stack.wait_landed(before + sent)
    time.sleep(poll * 2)
    poller.stopping.set()
    poller.join()
    cpu = stack.cpu() - cpu0
    load_end = load()
    ledger = stack.sql("SELECT page_id, outcome, toUnixTimestamp64Milli(raw_at), toUnixTimestamp64Milli(processed_at) "
                       "FROM ledger FINAL WHERE raw_at IS NOT NULL")
    times = {name: asyncio.run(topic_times(stack.settings, stack.broker.url, name))
             for name in ("cleaned", "entities", "stories")}
    hops: dict[str, list[float]] = {h: [] for h in HOPS}
    total, total_processed, dead = [], [], []
    for page_id, outcome, raw_at, processed_at in ledger:
        raw_t, processed_t = int(raw_at) / 1000, int(processed_at) / 1000
        seen = poller.seen.get(page_id)
        if seen is None:
            continue
        if outcome != "article":
            dead.append(seen - raw_t)
            continue
        chain = [raw_t, times["cleaned"].get(page_id), times["entities"].get(page_id),
                 times["stories"].get(page_id), processed_t, seen]
        total.append(seen - raw_t)
        total_processed.append(processed_t - raw_t)
        if None not in chain:
            for hop, a, b in zip(HOPS, chain, chain[1:], strict=False):
                hops[hop].append(b - a)
    return {"sent": sent, "landed": landed - before, "send_seconds": t_send, "cpu": cpu, "load": (load_start, load_end),
            "total": total, "total_processed": total_processed, "dead": dead, "hops": hops,
            "unseen": sum(1 for row in ledger if row[0] not in poller.seen)}


def print_steady(name: str, rate: float, r: dict) -> None:
    print(f"  [{name}] {r['sent']} pages at {rate:.1f} pages/s over {r['send_seconds']:.0f} s ({r['load'][0]} -> "
          f"{r['load'][1]}); {r['landed']} outcomes; CPU {r['cpu'] / max(1, r['landed']) * 1000:.1f} ms/page")
    print(f"    raw -> queryable (articles, {len(r['total'])}): {quantiles(r['total'])}")
    print(f"    raw -> processed_at (articles):          {quantiles(r['total_processed'])}")
    print(f"    raw -> queryable (dead letters, {len(r['dead'])}): {quantiles(r['dead'])}")
    for hop in HOPS:
        vals = r["hops"][hop]
        mean = statistics.fmean(vals) if vals else float("nan")
        print(f"      {HOP_NAMES[hop]:<42} mean {mean:6.2f} s  {quantiles(vals)}")
    if r["unseen"]:
        print(f"    ({r['unseen']} ledger rows never seen by the poller)")


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, assignments = text.partition(":")
    env = dict(a.split("=", 1) for a in assignments.split(",") if a)
    return name, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fraction", type=float, default=0.7)
    parser.add_argument("--burst-pages", type=int, default=600)
    parser.add_argument("--rate", type=float, default=None, help="steady pages/s (default: fraction x capacity)")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between two ledger polls")
    parser.add_argument("--parts", default="process,capacity,steady,scaling",
                        help="comma-separated, any of process, capacity, steady, scaling (see above)")
    parser.add_argument("--rounds", type=int, default=1, help="steady runs of each variant, alternated")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME:VAR=VALUE,... worker environment of a steady run (repeatable; default: defaults); "
                        "TREE=DIR runs the workers from another source tree (a baseline)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if unknown := parts - {"process", "capacity", "steady", "scaling"}:
        parser.error(f"--parts: unknown {', '.join(sorted(unknown))} (process, capacity, steady, scaling)")
    variants = [parse_variant(v) for v in args.variant] or [("default", {})]

    with tempfile.TemporaryDirectory(prefix="newsstream-freshness-") as tmp:
        root = Path(tmp)
        pages = synthetic_pages(args.burst_pages)
        jsonl = write_jsonl(root / "burst.jsonl", pages)
        t_process = None
        if "process" in parts:
            env = os.environ | {"NEWSSTREAM_DATA_DIR": str(root / "offline")}
            env.pop("KAFKA_URL", None)
            started, load_start = time.monotonic(), load()
            before = os.times()
            child = subprocess.run([sys.executable, "-m", "streams.cli", "process", "--out", os.devnull, str(jsonl)],
                                   env=env, capture_output=True)
            t_process = time.monotonic() - started
            after = os.times()
            cpu_process = after.children_user + after.children_system - before.children_user - before.children_system
            if child.returncode:
                raise SystemExit(child.stderr.decode(errors="replace")[-2000:])
            print(f"process: {len(pages)} pages in {t_process:.1f} s = {len(pages) / t_process:.1f} pages/s, "
                  f"CPU {cpu_process:.1f} s = {cpu_process / len(pages) * 1000:.1f} ms/page (start-up included) "
                  f"({load_start} -> {load()})")

        capacity = None
        if "capacity" in parts:
            capacities: dict[str, list[float]] = {}
            for i, (name, env) in enumerate(variants * args.rounds):
                with Stack(root / f"burst-{i}", env=env) as stack:
                    load_start = load()
                    seconds, cpu, landed, t_ingest = burst(stack, jsonl)
                    capacities.setdefault(name, []).append(landed / seconds)
                    print(f"[{name}] one worker, burst: {landed} outcomes in {seconds:.1f} s = {landed / seconds:.1f} "
                          f"pages/s (ingest {t_ingest:.1f} s); CPU {cpu / max(1, landed) * 1000:.1f} ms/page (worker + "
                          f"clean child + broker) ({load_start} -> {load()})")
                    if t_process:
                        ratio = landed / seconds / (len(pages) / t_process)
                        print(f"  stream / process on the same pages: {ratio:.2f}x (process's time includes its "
                              f"start-up; the worker was ready before the burst)")
            capacity = statistics.median(capacities[variants[0][0]])
            print(f"capacity ({variants[0][0]}, median of {len(capacities[variants[0][0]])}): {capacity:.1f} pages/s")

        if "steady" in parts:
            rate = args.rate or (args.fraction * capacity if capacity else None)
            if not rate:
                raise SystemExit("steady needs --rate or the capacity part")
            n = int(rate * args.minutes * 60)
            print(f"steady: {rate:.1f} pages/s ({'--rate' if args.rate else f'{args.fraction:.0%} of capacity'}) "
                  f"for {args.minutes:g} min = {n} pages per variant; ledger polled every {args.poll} s")
            fresh = write_jsonl(root / "steady.jsonl", synthetic_pages(args.burst_pages + n)[args.burst_pages:])
            for i, (name, env) in enumerate(variants * args.rounds):
                with Stack(root / f"steady-{i}", env=env) as stack:
                    print_steady(name + (f" {env}" if env else ""), rate, steady(stack, fresh, rate, args.poll))

        if "scaling" in parts:
            # One worker per core, each pinned to its own (the way to scale out now that a worker cleans as many
            # pages at once as it has cores); unpinned, both workers share every core.
            for pinned in (True, False):
                if pinned and len(os.sched_getaffinity(0)) < 2:
                    print("scaling, pinned: skipped (fewer than 2 usable cores)")
                    continue
                results = {}
                for workers in (1, 2):
                    with Stack(root / f"scaling-{workers}-{pinned}", workers=workers, pinned=pinned) as stack:
                        load_start = load()
                        seconds, cpu, landed, _ = burst(stack, jsonl)
                        results[workers] = landed / seconds
                        print(f"{workers} worker(s){', one core each' if pinned else ', unpinned'}, burst: {landed} "
                              f"outcomes in {seconds:.1f} s = {results[workers]:.1f} pages/s; CPU "
                              f"{cpu / max(1, landed) * 1000:.1f} ms/page ({load_start} -> {load()})")
                print(f"  two workers / one ({'one core each' if pinned else 'unpinned'}): "
                      f"{results[2] / results[1]:.2f}x (the broker and the shared machine's other users: {load()})")


if __name__ == "__main__":
    main()
