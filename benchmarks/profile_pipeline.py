"""Where the time goes: per stage and per hop, offline and streaming, plus whole-process ratios.

    python benchmarks/profile_pipeline.py [--parts offline,hops,process,ready,stream] [--copies 5] [--stream-pages 400]
                                         [--rounds 1] [--baseline TREE]

  offline  cProfile of process_documents (no time budget, one thread) over the sample corpus x copies:
           read, raw_page, clean (trafilatura vs metadata, htmldate, langid, fingerprint, dates, ...),
           entities (normalize, matching, candidates, signature), story, output line + encoding.
  hops     the cost of each Kafka hop on the same records, measured in-process: decode (orjson), validate
           (pydantic), stage (the step), encode (model_dump + orjson), compress (zstd, as the producer does),
           and the sink (rows + a chDB insert into a temporary warehouse).
  process  whole processes, start-up included: `newsstream process` vs a plain `trafilatura.extract` loop in
           one process on the same files, on samples/corpus x copies and on samples/labeled; and
           process_documents with the time-budget child process vs in the calling thread.
  ready    time to ready alone: `newsstream run` with its own broker and a user's defaults until /health says the
           story index is ready, with the worker log's timeline (assignment, migrations, story index) and the CPU
           time of its processes; --rounds N repeats it, alternated with a --baseline tree when given.
  stream   one `newsstream run` worker with the embedded broker (Tansu) and chDB: time to ready, then the same
           pages as `process` (synthetic distinct copies of the corpus) sent at once (with --baseline TREE: that
           tree's `process` and worker too, alternated with this one --rounds times); pages/s against
           `newsstream process` on the same JSONL; the worker's main thread profiled with cProfile on
           thread CPU time (the clean child process and the warehouse thread are not in it). With --py-spy FILE
           the worker runs unprofiled and py-spy samples it and its cleaning children (--subprocesses; --gil:
           only the thread holding the GIL, i.e. Python's own CPU, since py-spy counts a thread waiting in C
           (chDB's query, pebble's poll) as busy) from the burst's start to its last outcome; the samples are
           summed per process and per hop (decode, validate, step, dump, encode, compress, produce, fetch, Faust
           per event, sink, IPC). The CPU per page of each process (supervisor, worker, cleaning children,
           broker) and of the worker's threads by name (chDB's native threads apart from Python's) is printed
           either way.

Figures depend on the machine and its load: compare the ratios printed by one run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / "samples" / "corpus"
LABELED = ROOT / "samples" / "labeled"


# ---------------------------------------------------------------- cProfile helpers

def _cumulative(stats: pstats.Stats) -> dict[tuple[str, str], float]:
    """(module file tail, function name) -> cumulative seconds, summed over same-named entries."""
    out: dict[tuple[str, str], float] = defaultdict(float)
    for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        out[(filename.replace("\\", "/"), name)] += ct
    return out


def _find(cum: dict[tuple[str, str], float], path_part: str, name: str) -> float:
    return sum(v for (f, n), v in cum.items() if n == name and path_part in f)


def _row(label: str, seconds: float, total: float, n: int | None = None) -> str:
    per = f"{seconds / n * 1000:8.2f} ms/doc" if n else ""
    return f"  {label:<46} {seconds:8.3f} s {100 * seconds / total:6.1f} %  {per}"


# ---------------------------------------------------------------- offline breakdown

class _Timers:
    """Inclusive CPU time of named functions, by replacing them in the modules that call them.

    Cheaper than cProfile, which inflates Python loops ~10x (py3langid's per-character loop most of all); CPU
    time rather than wall time because on a loaded machine the wall time of a step is mostly waiting for a core."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._undo: list[tuple[object, str, object]] = []

    def wrap(self, label: str, module, name: str) -> None:
        original = getattr(module, name)
        seconds = self.seconds

        def timed(*args, **kwargs):
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] += time.process_time() - start

        setattr(module, name, timed)
        self._undo.append((module, name, original))

    def restore(self) -> None:
        for module, name, original in reversed(self._undo):
            setattr(module, name, original)
        self._undo.clear()


def offline(copies: int) -> None:
    import orjson
    import py3langid

    import streams.pipeline.offline as process
    import streams.pipeline.stages.clean as clean
    import streams.pipeline.stages.stories as stories
    import streams.pipeline.steps as steps
    from streams.pipeline.dictionary import ActorDictionary
    from streams.inputs.paths import iter_documents
    from streams.pipeline.stages.clean import CleanLimits

    limits = CleanLimits()
    dictionary = ActorDictionary.load()
    paths = [str(CORPUS)] * copies
    list(process.process_documents(iter_documents([str(CORPUS)], max_bytes=limits.max_page_bytes), limits=limits,
                                   dictionary=dictionary))  # warm-up: language model, lazy imports

    def run(docs) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for line in process.process_documents(docs, limits=limits, dictionary=dictionary):
            timers.seconds["output encoding (orjson.dumps)"] += _time(orjson.dumps, line)
        return time.perf_counter() - wall, time.process_time() - cpu

    def _time(fn, *args) -> float:
        start = time.process_time()
        fn(*args)
        return time.process_time() - start

    start = time.process_time()
    docs = list(iter_documents(paths, max_bytes=limits.max_page_bytes))
    read = time.process_time() - start
    timers = _Timers()
    plain_wall, plain_cpu = run(docs)
    timers.seconds.clear()
    layout = [
        ("raw_page (record + base64)", process, "raw_page"),
        ("clean_step", process, "clean_step"),
        ("  decode_html (charset)", clean, "decode_html"),
        ("  load_html (lxml parse)", clean, "load_html"),
        ("  count_listed_articles", clean, "count_listed_articles"),
        ("  _metadata (meta tags, JSON-LD, title, author, htmldate)", clean, "_metadata"),
        ("    of which htmldate find_date", clean, "find_date"),
        ("  _unwrap_layout_tables", clean, "_unwrap_layout_tables"),
        ("  trafilatura bare_extraction (_extract, incl. recall retries)", clean, "_extract"),
        ("  _body_lines", clean, "_body_lines"),
        ("  _mostly_links", clean, "_mostly_links"),
        ("  fingerprint_text (normalization #1)", clean, "fingerprint_text"),
        ("  _publication_time (<time>, datelines)", clean, "_publication_time"),
        ("  py3langid.classify (prefix)", py3langid, "classify"),
        ("  Article(...) (pydantic)", clean, "Article"),
        ("entities_step", process, "entities_step"),
        ("  normalize_with_map", steps, "normalize_with_map"),
        ("  extract_mentions (matching)", steps, "extract_mentions"),
        ("  find_candidates (discovery)", steps, "find_candidates"),
        ("  signature (MinHash)", steps, "signature"),
        ("    of which shingles (normalization #2)", stories, "shingles"),
        ("  ArticleEntities(...) (pydantic)", steps, "ArticleEntities"),
        ("story_step", process, "story_step"),
        ("  assign_story", steps, "assign_story"),
        ("output line (ok_line: model_dump of mentions)", process, "ok_line"),
    ]
    for label, module, name in layout:
        timers.wrap(label, module, name)
    try:
        _wall, total = run(docs)
    finally:
        timers.restore()
    n = len(docs)
    print(f"\n== offline path: process_documents over samples/corpus x{copies} ({n} docs), no time budget, warm")
    print(f"   unwrapped: {n / plain_wall:.1f} docs/s wall ({plain_wall:.3f} s), {n / plain_cpu:.1f} docs/s of CPU "
          f"({plain_cpu:.3f} s CPU); with the timers {total:.3f} s CPU = 100 % below (inclusive CPU time of each "
          "function; indented rows are parts of the row above)")
    print(_row("read (iter_documents, separate pass)", read, total, n))
    for label, *_ in layout + [("output encoding (orjson.dumps)",)]:
        print(_row(label, timers.seconds[label], total, n))
    accounted = sum(timers.seconds[k] for k in ("raw_page (record + base64)", "clean_step", "entities_step",
                                                "story_step", "output line (ok_line: model_dump of mentions)",
                                                "output encoding (orjson.dumps)"))
    print(_row("process_documents loop itself (rest)", total - accounted, total, n))
    clean_parts = sum(timers.seconds[label] for label, *_ in layout
                      if label.startswith("  ") and not label.startswith("    ")
                      and layout.index(next(x for x in layout if x[0] == label)) < 15)
    print(_row("  clean_step outside the parts listed", timers.seconds["clean_step"] - clean_parts, total, n))


# ---------------------------------------------------------------- per-hop costs

def hops(copies: int) -> None:
    import orjson
    from aiokafka.codec import zstd_encode

    from schemas.records import Article, ArticleEntities, RawPage, StoryArticle
    from streams.pipeline.dictionary import ActorDictionary
    from streams.inputs.paths import iter_documents
    from streams.pipeline.offline import raw_page
    from streams.warehouse.rows import batch_rows
    from streams.pipeline.stages import Rejected
    from streams.pipeline.stages.clean import CleanLimits
    from streams.pipeline.stages.stories import StoryIndex
    from streams.pipeline.steps import clean_step, entities_step, story_step
    from streams.warehouse.client import Warehouse

    limits = CleanLimits()
    dictionary = ActorDictionary.load()
    docs = [d for d in iter_documents([str(CORPUS)] * copies, max_bytes=limits.max_page_bytes) if d.body]
    raw = [orjson.dumps(raw_page(d).model_dump(mode="json", exclude_none=True)) for d in docs]
    clean_step(RawPage.model_validate(orjson.loads(raw[0])), limits)  # warm-up
    index = StoryIndex()
    timing: dict[tuple[str, str], float] = defaultdict(float)
    sizes: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)

    def hop(stage: str, messages: list[bytes], model, step) -> list[bytes]:
        out = []
        for message in messages:
            t0 = time.process_time()
            value = orjson.loads(message)
            t1 = time.process_time()
            record = model.model_validate(value)
            t2 = time.process_time()
            try:
                result = step(record)
            except Rejected:
                timing[(stage, "stage")] += time.process_time() - t2
                continue
            t3 = time.process_time()
            dumped = result.model_dump(mode="json")
            t4 = time.process_time()
            encoded = orjson.dumps(dumped)
            t5 = time.process_time()
            zstd_encode(encoded)
            t6 = time.process_time()
            for part, seconds in (("decode", t1 - t0), ("validate", t2 - t1), ("stage", t3 - t2),
                                  ("model_dump", t4 - t3), ("orjson.dumps", t5 - t4), ("zstd", t6 - t5)):
                timing[(stage, part)] += seconds
            sizes[stage] += len(message)
            counts[stage] += 1
            out.append(encoded)
        return out

    cleaned = hop("clean", raw, RawPage, lambda p: clean_step(p, limits))
    entities = hop("entities", cleaned, Article, lambda a: entities_step(a, dictionary))
    stories = hop("stories", entities, ArticleEntities, lambda e: story_step(e, index))

    with tempfile.TemporaryDirectory(prefix="profile-sink-") as tmp:
        warehouse = Warehouse(f"chdb://{tmp}/ch")
        warehouse.migrate()
        t0 = time.process_time()
        items = [StoryArticle.model_validate(orjson.loads(m)) for m in stories]
        t1 = time.process_time()
        rows = batch_rows(items)
        t2 = time.process_time()
        for table, table_rows in rows.items():
            warehouse.insert_rows(table, table_rows)
        t3 = time.process_time()
        warehouse.close()
    timing[("sink", "decode+validate")] = t1 - t0
    timing[("sink", "batch_rows")] = t2 - t1
    timing[("sink", "chDB insert (one batch)")] = t3 - t2
    counts["sink"] = len(items)
    sizes["sink"] = sum(map(len, stories))

    total = sum(timing.values())
    print(f"\n== per hop, in-process, samples/corpus x{copies} ({len(raw)} pages): CPU seconds, share of all hops, ms/msg")
    for stage in ("clean", "entities", "stories", "sink"):
        n = max(1, counts[stage])
        print(f"  {stage} ({counts[stage]} messages in, mean {sizes[stage] / n / 1024:.1f} KiB)")
        for (s, part), seconds in timing.items():
            if s == stage:
                print(f"    {part:<26} {seconds:8.3f} s {100 * seconds / total:6.1f} %  {seconds / n * 1000:8.3f} ms")
    overhead = sum(v for (s, p), v in timing.items() if p not in ("stage",) and s != "sink")
    print(f"  all hop overhead outside the steps (decode+validate+dump+encode+zstd): {overhead:.3f} s = "
          f"{100 * overhead / total:.1f} % of all hops")


# ---------------------------------------------------------------- whole processes

PLAIN_LOOP = """
import sys, time, pathlib
import trafilatura
for path in sys.argv[1:]:
    p = pathlib.Path(path)
    files = sorted(f for f in p.rglob('*') if f.is_file() and not f.name.startswith('.')) if p.is_dir() else [p]
    for f in files:
        trafilatura.extract(f.read_bytes())
"""


def _timed(cmd: list[str], env: dict | None = None, cwd: str | None = None) -> float:
    """Wall seconds of a whole process; its CPU seconds (with its waited-for children) go to LAST_CPU."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU[0] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall


LAST_CPU = [0.0]


def _newsstream(data: Path) -> list[str]:
    return [sys.executable, "-m", "streams.cli"]


def _env(data: Path, **extra: str) -> dict:
    env = os.environ | {"NEWSSTREAM_DATA_DIR": str(data)} | extra
    env.pop("KAFKA_URL", None)
    return env


def _html_copies(source: Path, target: Path, copies: int) -> int:
    target.mkdir(parents=True)
    n = 0
    for i in range(copies):
        for f in sorted(source.glob("*.html")):
            shutil.copy(f, target / f"{i:02d}-{f.name}")
            n += 1
    return n


def whole_processes(copies: int, baseline: str | None = None) -> None:
    from streams.pipeline.dictionary import ActorDictionary
    from streams.pipeline.budget import CleanBudget
    from streams.inputs.paths import iter_documents
    from streams.pipeline.offline import process_documents
    from streams.pipeline.stages.clean import CleanLimits

    print("\n== whole processes, start-up included (newsstream process vs plain trafilatura.extract loop)")
    with tempfile.TemporaryDirectory(prefix="profile-process-") as tmp:
        tmp_path = Path(tmp)
        sets = {f"samples/corpus x{copies}": (tmp_path / "corpus", _html_copies(CORPUS, tmp_path / "corpus", copies)),
                "samples/labeled": (tmp_path / "labeled", _html_copies(LABELED, tmp_path / "labeled", 1))}
        for name, (folder, n) in sets.items():
            plain = _timed([sys.executable, "-c", PLAIN_LOOP, str(folder)])
            plain_cpu = LAST_CPU[0]
            process = _timed(_newsstream(tmp_path) + ["process", "--out", "-", str(folder)], env=_env(tmp_path / "data"))
            process_cpu = LAST_CPU[0]
            unbudgeted = _timed(_newsstream(tmp_path) + ["process", "--out", "-", str(folder)],
                                env=_env(tmp_path / "data", NEWSSTREAM_CLEAN_TIMEOUT_SECONDS="0"))
            unbudgeted_cpu = LAST_CPU[0]
            if baseline:
                base = _timed(_newsstream(tmp_path) + ["process", "--out", "-", str(folder)], env=_env(tmp_path / "data"),
                              cwd=baseline)
                base_cpu = LAST_CPU[0]
                print(f"  {name}: baseline tree {baseline}: process {base:.2f} s / {base_cpu:.2f} s CPU "
                      f"= {plain / base:.2f}x plain (CPU {plain_cpu / base_cpu:.2f}x); this tree is {base / process:.2f}x "
                      f"faster in wall time, {base_cpu / process_cpu:.2f}x in CPU")
            print(f"  {name}: {n} pages; plain loop {plain:.2f} s wall / {plain_cpu:.2f} s CPU "
                  f"({n / plain:.1f} pages/s); process {process:.2f} s / {process_cpu:.2f} s CPU "
                  f"({n / process:.1f} pages/s) = {plain / process:.2f}x plain (CPU {plain_cpu / process_cpu:.2f}x); "
                  f"process with no time budget {unbudgeted:.2f} s / {unbudgeted_cpu:.2f} s CPU = "
                  f"{plain / unbudgeted:.2f}x plain (CPU {plain_cpu / unbudgeted_cpu:.2f}x)")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import trafilatura"], check=True)
        traf = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import streams.pipeline.steps, streams.cli, streams.pipeline.dictionary as a; a.ActorDictionary.load()"],
                       check=True, cwd=ROOT)
        ours = time.perf_counter() - start
        print(f"  start-up: python {bare:.2f} s; import trafilatura {traf:.2f} s; import the steps + load the "
              f"dictionary {ours:.2f} s")

    limits = CleanLimits()
    dictionary = ActorDictionary.load()
    docs = list(iter_documents([str(CORPUS)] * copies, max_bytes=limits.max_page_bytes))
    list(process_documents(docs[:5], limits=limits, dictionary=dictionary))

    class Serial:
        """The budget as before the overlap: each page cleaned to the end before the next is queued."""

        def __init__(self, budget: CleanBudget):
            self.budget = budget

        def start(self, page, limits):
            try:
                article = self.budget.clean(page, limits)
            except Exception as exc:
                def fail(exc=exc):  # bound now: `exc` is unset once the except block ends
                    raise exc
                return fail
            return lambda: article

    runs: dict[str, list[float]] = defaultdict(list)
    outputs = {}
    with CleanBudget(30) as budget:
        list(process_documents(docs[:1], limits=limits, dictionary=dictionary, budget=budget))  # pool warm
        for _ in range(2):  # alternated, twice: the machine's load changes by the second
            for name, runner in (("in the calling thread", None), ("budget, serial (before)", Serial(budget)),
                                 ("budget, one page ahead (now)", budget)):
                start = time.perf_counter()
                outputs[name] = list(process_documents(docs, limits=limits, dictionary=dictionary, budget=runner))
                runs[name].append(time.perf_counter() - start)
    reference = outputs["in the calling thread"]
    same = all(v == reference for v in outputs.values())
    for name, lines in outputs.items():
        for mine, theirs in zip(lines, reference):
            if mine != theirs:
                print(f"  DIFFERENT: {name}: {mine['source']}: "
                      f"{ {k: (str(mine[k])[:60], str(theirs[k])[:60]) for k in mine if mine[k] != theirs[k]} }")
                break
    print(f"  process_documents, {len(docs)} docs, warm, best of 2 alternated runs (same output: {same}):")
    for name, seconds in runs.items():
        print(f"    {name:<30} {min(seconds):6.2f} s  {len(docs) / min(seconds):6.1f} docs/s  "
              f"(runs: {', '.join(f'{x:.2f}' for x in seconds)})")


# ---------------------------------------------------------------- one streaming worker

WORKER_PROFILED = """
import cProfile, runpy, sys, time
profile = cProfile.Profile(time.thread_time)
sys.argv = ["newsstream", "run"]
profile.enable()
try:
    runpy.run_module("streams.cli", run_name="__main__")
except SystemExit:
    pass
finally:
    profile.disable()
    profile.dump_stats(%r)
"""


def _wait_ready(web: str, timeout: float = 120) -> tuple[float, float]:
    """(seconds until /health answers, seconds until the story index is ready), from now."""
    import json
    import urllib.request

    start = time.monotonic()
    web_up = None
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(f"{web}/health", timeout=2) as response:
                web_up = web_up or time.monotonic() - start
                if json.loads(response.read()).get("story_index_ready"):
                    return web_up, time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError("worker not ready")


def time_to_ready(ready_dir: Path, tree: Path = ROOT, timeline: bool = True) -> tuple[float, float, float]:
    """`newsstream run` of `tree` with its own broker and a user's defaults, from exec until /health says the story
    index is ready: (seconds to /health, seconds to ready, CPU seconds of its process tree by then: supervisor,
    worker, broker, clean child). Prints the worker log's timeline."""
    import re
    from datetime import datetime as _dt

    from tests.stack import WorkerProcess, tree_cpu

    ready_dir.mkdir(parents=True)
    worker = WorkerProcess(ready_dir, "", name="ready")
    worker.env.pop("KAFKA_URL")
    worker.env.pop("NEWSSTREAM_GROUP_SESSION_TIMEOUT")  # the tests' value; a user runs with the defaults
    worker.env["PYTHONPATH"] = str(tree)
    wall_start = time.time()
    log = open(worker.log_path, "ab")
    worker.process = subprocess.Popen([sys.executable, "-m", "streams.cli", "run"], env=worker.env, stdout=log,
                                      stderr=subprocess.STDOUT, cwd=tree)
    log.close()
    try:
        web_up, ready = _wait_ready(worker.plain_web)
        cpu = tree_cpu(worker.process.pid)
    finally:
        worker.stop()
    if timeline:
        print(f"  `newsstream run` (own broker, fresh data dir): /health answers after {web_up:.1f} s, ready to "
              f"consume (story index rebuilt) after {ready:.1f} s; CPU of its processes by then {cpu:.1f} s")
        for line in worker.log_path.read_text(errors="replace").splitlines():
            stamp = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+)\]", line)
            if stamp and re.search(r"(?i)assigned|story index|migrations|rebalanc|recovery\]: starting|ready", line):
                at = _dt.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() - wall_start
                print(f"    +{at:5.1f} s  {line[stamp.end():].strip()[:130]}")
    return web_up, ready, cpu


def ready_rounds(rounds: int, baseline: str | None) -> None:
    """Time to ready of this tree, alternated with `baseline` (another source tree) when given, `rounds` each."""
    import statistics

    trees = [("this tree", ROOT)] + ([("baseline", Path(baseline).resolve())] if baseline else [])
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in trees}
    with tempfile.TemporaryDirectory(prefix="profile-ready-") as tmp:
        for i in range(rounds):
            for name, tree in trees if i % 2 == 0 else list(reversed(trees)):
                print(f"  round {i + 1}, {name} ({tree}):")
                results[name].append(time_to_ready(Path(tmp) / f"{name.replace(' ', '-')}-{i}", tree))
    print(f"  time to ready, {rounds} round(s){', alternated' if baseline else ''}:")
    for name, rows in results.items():
        runs = ", ".join(f"{r:.1f} s ({c:.1f} s CPU)" for _, r, c in rows)
        print(f"    {name:<10} /health median {statistics.median(w for w, _, _ in rows):.1f} s, ready median "
              f"{statistics.median(r for _, r, _ in rows):.1f} s, CPU median {statistics.median(c for *_, c in rows):.1f} "
              f"s; runs: {runs}")


def stream(pages: int, profiled: bool, keep_profile: str | None, py_spy: str | None = None,
           baseline: str | None = None, rounds: int = 1) -> None:
    """`process` then one streaming worker on the same pages, per tree (this one, and `baseline` alternated with it
    when given), `rounds` times; CPU per page of each process of the worker's tree, and stream / process."""
    from tests.synthetic import synthetic_pages, write_jsonl

    print(f"\n== one streaming worker (embedded broker + chDB) vs `newsstream process`, {pages} distinct pages")
    trees = [("this tree", ROOT)] + ([("baseline", Path(baseline).resolve())] if baseline else [])
    with tempfile.TemporaryDirectory(prefix="profile-stream-") as tmp:
        data = Path(tmp)
        jsonl = write_jsonl(data / "pages.jsonl", synthetic_pages(pages))
        if not baseline:
            time_to_ready(data / "ready")
        for round_ in range(rounds):
            for label, tree in (trees if round_ % 2 == 0 else trees[::-1]):
                spy = None
                if py_spy:
                    spy = py_spy if len(trees) == 1 and rounds == 1 else f"{py_spy}.{label.split()[0]}.{round_}"
                _stream_once(label, tree, data / f"{round_}-{label.split()[0]}", jsonl, pages,
                             profiled and tree == ROOT, keep_profile, spy)


def _stream_once(label: str, tree: Path, data: Path, jsonl: Path, pages: int, profiled: bool,
                 keep_profile: str | None, py_spy: str | None) -> None:
    import asyncio

    from streams.inputs.ingest import ingest
    from streams.runtime.broker import LocalBroker
    from streams.settings import Settings
    from streams.warehouse.client import WorkerWarehouse
    from tests.stack import WorkerProcess

    def query_worker(web: str, sql: str) -> tuple[list[str], list[tuple]]:
        return WorkerWarehouse(web).query(sql)

    data.mkdir(parents=True)
    code = {"PYTHONPATH": str(tree)}  # the tree under test, before the installed one
    load = os.getloadavg()
    t_process = _timed(_newsstream(data) + ["process", "--out", "-", str(jsonl)], env=_env(data / "offline", **code),
                       cwd=str(tree))
    cpu_process = LAST_CPU[0]
    print(f"  [{label}] process: {t_process:.1f} s ({pages / t_process:.1f} pages/s, start-up included); CPU "
          f"{cpu_process:.1f} s = {cpu_process / pages * 1000:.1f} ms/page (start-up included) (load {load[0]:.1f})")
    with LocalBroker(data / "stack") as broker:
        settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=data / "stack")
        # The user's default flush interval (tests.stack's workers flush every 0.5 s, for quicker tests).
        worker = WorkerProcess(data / "stack", broker.url, name="worker", NEWSSTREAM_RECONCILE_SECONDS="0",
                               NEWSSTREAM_SINK_FLUSH_SECONDS=str(Settings(_env_file=None).sink_flush_seconds), **code)
        profile_out = data / "worker.prof"
        command = ["-c", WORKER_PROFILED % str(profile_out)] if profiled else ["-m", "streams.cli", "run"]
        with open(worker.log_path, "ab") as log:  # started in the tree: `-m` puts the current folder first
            worker.process = subprocess.Popen([sys.executable, *command], env=worker.env, stdout=log,
                                              stderr=subprocess.STDOUT, cwd=tree)
        try:
            _wait_ready(worker.plain_web)
            time.sleep(2)
            roles0 = _cpu_by_role(worker.process.pid, broker.process.pid)
            worker_pid = _worker_child(worker.process.pid) or worker.process.pid
            threads0 = _threads_cpu(worker_pid)
            spy = None
            if py_spy:
                spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                                        str(worker.process.pid), "--subprocesses", "--gil", "--nonblocking", "--rate",
                                        "100", "--format", "raw", "-o", py_spy], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
                time.sleep(1)  # py-spy attaches
            load0 = os.getloadavg()
            t0 = time.monotonic()
            report = asyncio.run(ingest([jsonl], settings, broker.url, progress=False))
            t_ingest = time.monotonic() - t0
            landed = 0
            while time.monotonic() - t0 < 1800:
                landed = query_worker(worker.web, "SELECT count() FROM ledger FINAL")[1][0][0]
                if landed >= report.sent:
                    break
                time.sleep(0.25)
            t_stream = time.monotonic() - t0
            roles1 = _cpu_by_role(worker.process.pid, broker.process.pid)
            threads1 = _threads_cpu(worker_pid)
            load1 = os.getloadavg()
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            p50, p95 = query_worker(worker.web, "SELECT quantiles(0.5, 0.95)(dateDiff('millisecond', raw_at, "
                                                "processed_at)) FROM ledger FINAL")[1][0][0]
            batches = _stage_batches(worker.plain_web)
        finally:
            worker.stop()
    cpu = {role: roles1.get(role, 0.0) - roles0.get(role, 0.0) for role in roles1}
    cpu_stream = sum(cpu.values())
    print(f"  [{label}] stream CPU, start-up excluded: {cpu_stream / pages * 1000:.1f} ms/page = "
          + ", ".join(f"{role} {cpu.get(role, 0.0) / pages * 1000:.1f}"
                      for role in ("worker", "cleaning children", "broker", "supervisor"))
          + f" (load {load0[0]:.1f} -> {load1[0]:.1f}); stream / process CPU per page: "
            f"{cpu_process / cpu_stream:.2f}x")
    threads = sorted(((threads1[name] - threads0.get(name, 0.0), name) for name in threads1), reverse=True)
    print(f"  [{label}] the worker's threads by name, CPU per page: " + ", ".join(
        f"{name} {cpu_t / pages * 1000:.2f}" for cpu_t, name in threads if cpu_t >= 0.005 * pages / 1000) + " ms/page")
    print(f"  [{label}] stream:  {t_stream:.1f} s ({landed / t_stream:.1f} pages/s, ingest {t_ingest:.1f} s, sent at "
          f"once, {landed}/{report.sent} outcomes) = {t_process / t_stream:.2f}x process; raw->warehouse p50 "
          f"{p50 / 1000:.1f} s, p95 {p95 / 1000:.1f} s (queueing: all sent at once)"
          + (" [worker under cProfile: slower than unprofiled]" if profiled else ""))
    if batches:
        print(f"  [{label}] events per batch (newsstream_stage_batch_events): " + ", ".join(
            f"{stage} {n} batches, mean {total / n:.1f}" for stage, (total, n) in sorted(batches.items()) if n))
    if py_spy and Path(py_spy).exists():
        _py_spy_breakdown(Path(py_spy), landed, worker_pid=worker_pid)
    if profiled and profile_out.exists():
        if keep_profile:
            shutil.copy(profile_out, keep_profile)
        _worker_breakdown(pstats.Stats(str(profile_out)), landed)


def _stage_batches(web: str) -> dict[str, tuple[float, float]]:
    """stage -> (events, batches) from the worker's /metrics (empty for a tree without the metric)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{web}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "newsstream_stage_batch_events_sum":
                out[sample.labels["stage"]][0] = sample.value
            elif sample.name == "newsstream_stage_batch_events_count":
                out[sample.labels["stage"]][1] = sample.value
    return {stage: (v[0], v[1]) for stage, v in out.items()}


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command line, CPU seconds so far), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out[int(entry.name)] = (int(fields[1]), cmd, (int(fields[11]) + int(fields[12])) / tick)
    return out


def _threads_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of a process's threads, summed by thread name (Python's threads are all `python`)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = defaultdict(float)
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm, rest = (task / "stat").read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, ValueError):
            continue
        fields = rest.split()
        name = "python (every Python thread)" if comm.startswith("python") else comm.rstrip("0123456789") + "*"
        out[name] += (int(fields[11]) + int(fields[12])) / tick
    return out


def _worker_child(supervisor: int) -> int | None:
    """The worker's process: the supervisor's child that runs `streams.cli run` (None: the supervisor is the worker)."""
    return next((pid for pid, (parent, cmd, _) in _processes().items()
                 if parent == supervisor and "streams.cli" in cmd), None)


def _cpu_by_role(supervisor: int, broker: int) -> dict[str, float]:
    """CPU seconds so far of the supervisor, the worker, its descendants (the cleaning children) and the broker."""
    procs = _processes()
    worker = _worker_child(supervisor) or supervisor
    out = {"supervisor": procs[supervisor][2] if worker != supervisor else 0.0, "worker": procs[worker][2],
           "broker": procs.get(broker, (0, "", 0.0))[2]}
    stack, children = [worker], 0.0
    while stack:
        pid = stack.pop()
        for child, (parent, _cmd, cpu) in procs.items():
            if parent == pid:
                children += cpu
                stack.append(child)
    out["cleaning children"] = children
    return out


# Where a py-spy sample goes: the innermost frame (leaf first) that names one of the HOPS, else the innermost that
# names one of the PLACES, else "other".
HOPS = [
    ("decode (codec orjson.loads)", ("_loads (streams/pipeline/codec.py",)),
    ("encode (codec orjson.dumps)", ("_dumps (streams/pipeline/codec.py",)),
    ("validate (pydantic model_validate)", ("model_validate (",)),
    ("dump (pydantic model_dump)", ("model_dump (",)),
    ("compress/decompress (aiokafka codec)", ("aiokafka/codec.py",)),
    ("step: clean (clean_step)", ("clean_step (",)),
    ("step: entities", ("entities_step (", "entities_many (")),
    ("step: stories", ("story_step (",)),
    ("sink (streams/warehouse, chDB, clickhouse_connect)", ("streams/warehouse/", "chdb/", "clickhouse_connect/",
                                                          "warehouse_thread.py")),
    ("cleaning IPC (pebble, pickle, multiprocessing)", ("pebble/", "multiprocessing/", "pickle", "copyreg",
                                                        "streams/pipeline/budget.py")),
    ("produce (aiokafka producer)", ("aiokafka/producer/",)),
    ("fetch (aiokafka consumer)", ("aiokafka/consumer/", "aiokafka/conn.py", "aiokafka/client.py",
                                   "aiokafka/protocol/", "aiokafka/record/")),
]
PLACES = [
    ("Faust per event (faust/, mode/)", ("faust/", "mode/")),
    ("stage runner, ledger, metrics (other streams/ code)", ("streams/", "schemas/", "prometheus_client/")),
    ("event loop (asyncio)", ("asyncio/", "selectors.py")),
]


def _hop_of(frames: list[str]) -> str:
    for table in (HOPS, PLACES):
        for frame in reversed(frames):
            for label, marks in table:
                if any(mark in frame for mark in marks):
                    return label
    return "other"


def _py_spy_breakdown(path: Path, n: int, worker_pid: int | None) -> None:
    """Samples (py-spy raw: `frame;frame;... count`, root first, `process PID:"cmd"` as the root with
    --subprocesses) per process and per hop, as ms of CPU per page (100 samples/s: one sample = 10 ms)."""
    by_process: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        process = "worker"
        while frames and frames[0].startswith("process "):  # nested: supervisor;worker;cleaning child
            head = frames.pop(0)
            pid = int(head.split()[1].split(":")[0])
            process = ("worker" if pid == worker_pid else "cleaning children" if "multiprocessing" in head
                       else "supervisor")
        by_process[process][_hop_of(frames)] += int(count)
    print(f"  py-spy --gil, {path.name}: per process and hop, ms per page of samples holding the GIL (100/s; a thread "
          f"holding the GIL while the machine runs something else is sampled too: compare shares, not totals):")
    for process, hops in sorted(by_process.items(), key=lambda kv: -sum(kv[1].values())):
        total = sum(hops.values())
        print(f"    {process}: {total * 10 / max(1, n):.2f} ms/page")
        for label, samples in sorted(hops.items(), key=lambda kv: -kv[1]):
            print(f"      {label:<52} {samples * 10 / max(1, n):6.2f} ms/page  {100 * samples / total:5.1f} %")


def _worker_breakdown(stats: pstats.Stats, n: int) -> None:
    cum = _cumulative(stats)
    total = sum(tt for (_cc, _nc, tt, _ct, _c) in stats.stats.values())
    parts = [
        ("start-up: imports", _find(cum, "importlib._bootstrap", "_find_and_load")),
        ("start-up: dictionary load", _find(cum, "streams/pipeline/dictionary", "load")),
        ("story index rebuild (fill_from_rows/stories)", _find(cum, "streams/runtime/story_index_loader", "fill_from_rows")
         + _find(cum, "streams/runtime/story_index_loader", "fill_from_stories")),
        ("decode (codec orjson.loads)", _find(cum, "streams/pipeline/codec", "_loads")),
        ("validate (model_validate, all agents)", _find(cum, "pydantic/main", "model_validate")),
        ("entities_step", _find(cum, "streams/pipeline/steps", "entities_step")),
        ("story_step", _find(cum, "streams/pipeline/steps", "story_step")),
        ("encode: model_dump(mode=json)", _find(cum, "pydantic/main", "model_dump")),
        ("encode: codec orjson.dumps", _find(cum, "streams/pipeline/codec", "_dumps")),
        ("produce: faust Topic.send (incl. encode)", _find(cum, "faust/topics", "send")),
        ("produce: aiokafka send_and_wait/_send_produce_req", _find(cum, "aiokafka/producer/sender", "_send_produce_req")
         + _find(cum, "aiokafka/producer/producer", "send")),
        ("clean hop in the loop (run_in_executor wait not counted)", _find(cum, "streams/pipeline/budget", "clean")),
        ("sink: decode (warehouse_sink.decode)", _find(cum, "streams/warehouse/sink", "decode")),
        ("sink: batch_rows", _find(cum, "streams/warehouse/rows", "batch_rows")),
        ("sink: fetch (aiokafka getmany)", _find(cum, "aiokafka/consumer/consumer", "getmany")),
        ("consumer fetch + Faust conductor/stream", _find(cum, "faust/transport/consumer", "getmany")),
        ("event loop select (idle, thread CPU)", _find(cum, "selectors", "select")),
    ]
    print(f"  worker main thread, cProfile on thread CPU time: {total:.2f} s CPU for {n} pages "
          f"({total / max(1, n) * 1000:.1f} ms/page); cumulative per part (parts overlap):")
    for label, seconds in parts:
        print(_row(label, seconds, total, n))
    by_package: dict[str, float] = defaultdict(float)
    for (f, _l, name), (_cc, _nc, tt, _ct, _c) in stats.stats.items():
        f = f.replace("\\", "/")
        if "site-packages/" in f:
            package = f.split("site-packages/", 1)[1].split("/", 1)[0]
        elif "/streams/" in f or "/schemas/" in f:
            package = "newsstream (streams/, schemas/)"
        elif f.startswith("<frozen") or f == "~" and name.startswith("<built-in method marshal"):
            package = "imports (frozen importlib, marshal)"
        elif f == "~":
            package = "C builtins (len, isinstance, re, hashlib, ...)"
        else:
            package = "stdlib: " + Path(f).parent.name + "/" + Path(f).stem
        by_package[package] += tt
    print("  main-thread self time by package (start-up included: yaml and imports are start-up):")
    for package, tt in sorted(by_package.items(), key=lambda kv: -kv[1])[:16]:
        print(f"    {tt:7.3f} s {100 * tt / total:5.1f} %  {package}")
    top = sorted(((tt, f"{Path(f).parent.name}/{Path(f).name}:{name}") for (f, _l, name), (_cc, _nc, tt, _ct, _c)
                  in stats.stats.items()), reverse=True)[:15]
    print("  top self time in the main thread:")
    for tt, name in top:
        print(f"    {tt:7.3f} s {100 * tt / total:5.1f} %  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="offline,hops,process,stream")
    parser.add_argument("--copies", type=int, default=5, help="times the sample corpus is repeated")
    parser.add_argument("--stream-pages", type=int, default=400)
    parser.add_argument("--no-worker-profile", action="store_true", help="time the worker without cProfile")
    parser.add_argument("--keep-profile", help="copy the worker's cProfile stats to this file")
    parser.add_argument("--py-spy", help="sample the worker and its cleaning children with py-spy into this file "
                                         "(raw collapsed stacks) and print CPU per page per hop; the worker runs "
                                         "without cProfile")
    parser.add_argument("--baseline", help="another source tree (e.g. an export of main) whose `process` and time "
                                           "to ready are timed in the same run, alternated, for a before/after")
    parser.add_argument("--rounds", type=int, default=1, help="time-to-ready runs per tree, and stream runs per tree")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    os.chdir(ROOT)
    if "offline" in parts:
        offline(args.copies)
    if "hops" in parts:
        hops(args.copies)
    if "process" in parts:
        whole_processes(args.copies, args.baseline)
    if "ready" in parts:
        print("\n== time to ready")
        ready_rounds(args.rounds, args.baseline)
    if "stream" in parts:
        stream(args.stream_pages, profiled=not (args.no_worker_profile or args.py_spy),
               keep_profile=args.keep_profile, py_spy=args.py_spy and str(Path(args.py_spy).resolve()),
               baseline=args.baseline, rounds=args.rounds)


if __name__ == "__main__":
    main()
