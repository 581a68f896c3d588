"""`newsstream process` against a plain `trafilatura.extract` loop, both timed as whole processes (start-up included:
interpreter, imports, dictionary and model load), on the public benchmark pages and on the labeled Arabic set.

    python benchmarks/process_ratio.py [--aeb /work/data/aeb/html] [--rounds 3] [--baseline DIR]

The goal (issue 18) is `process` >= 0.9x the plain loop's pages/s. Both commands read the same plain .html files
(the benchmark's .html.gz are unpacked into a temporary folder first); the rounds alternate the two commands so
the shared machine's load hits both alike. Printed per set: the load average before and after, wall and CPU seconds
of each round (CPU includes waited-for children: the cleaning processes) with CPU median and minimum, and the ratio
of the best rounds and of the medians. `--baseline DIR`
(another source tree, e.g. `git archive main`; a copy of it is run, so the tree itself is never written to) times that
tree's `process` in the same rounds. Each tree gets its own
cache folder (NEWSSTREAM_CACHE_DIR: the compiled dictionary, the language model), filled by one untimed run first.
Each tree is byte-compiled first (`compileall`, as `pip install` does for the plain loop's trafilatura): with
PYTHONDONTWRITEBYTECODE set, as on the shared machine, every run would otherwise compile the project's ~60 modules
from source (~0.25 s measured); `--source` times that case instead.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELED = ROOT / "samples" / "labeled"
AEB = Path("/work/data/aeb/html")

PLAIN_LOOP = """
import pathlib, sys
import trafilatura
for f in sorted(p for p in pathlib.Path(sys.argv[1]).iterdir() if p.is_file()):
    trafilatura.extract(f.read_bytes())
"""


def _run(cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float, bytes]:
    """Wall seconds, CPU seconds (with waited-for children) and stdout of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


def _pages(source: Path, target: Path) -> int:
    """Plain .html copies of the set's pages in `target` (gzip unpacked): what both commands read."""
    target.mkdir(parents=True)
    n = 0
    for f in sorted(source.iterdir()):
        if f.name.endswith(".html.gz"):
            (target / f.name[:-3]).write_bytes(gzip.decompress(f.read_bytes()))
        elif f.name.endswith(".html"):
            (target / f.name).write_bytes(f.read_bytes())
        else:
            continue
        n += 1
    return n


def _copy_tree(tree: Path, target: Path) -> Path:
    """What `python -m streams.cli` runs from (the packages and their data), without caches or a virtualenv."""
    for part in ("streams", "schemas", "samples", "pyproject.toml"):
        source = tree / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, target / part)
    return target


loads: list[float] = []  # 1-minute load average before and after each set's rounds


def _load(after: bool = False) -> str:
    return f"{loads[-1 if after else -2]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aeb", type=Path, default=AEB, help="the article-extraction-benchmark html folder")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds per set")
    parser.add_argument("--baseline", type=Path, help="another source tree whose `process` is timed too")
    parser.add_argument("--source", action="store_true", help="do not byte-compile the trees first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="process-ratio-") as tmp:
        if args.baseline is not None:  # a copy: the baseline tree is often someone's read-only snapshot
            args.baseline = _copy_tree(args.baseline, Path(tmp) / "baseline")
        for tree in (ROOT, args.baseline):
            if tree is not None and not args.source:
                subprocess.run([sys.executable, "-m", "compileall", "-q", "streams", "schemas", "samples"], cwd=tree,
                               check=True, stdout=subprocess.DEVNULL)
        print("trees run from source (no .pyc)" if args.source else "trees byte-compiled first (compileall)")
        env = os.environ | {"NEWSSTREAM_DATA_DIR": str(Path(tmp) / "data")}
        env.pop("KAFKA_URL", None)
        sets = {}
        if args.aeb.is_dir():
            sets["public benchmark pages (aeb)"] = Path(tmp) / "aeb"
            _pages(args.aeb, sets["public benchmark pages (aeb)"])
        else:
            print(f"skipped the public benchmark pages: {args.aeb} is not a folder")
        sets["labeled Arabic set (samples/labeled)"] = Path(tmp) / "labeled"
        _pages(LABELED, sets["labeled Arabic set (samples/labeled)"])

        for name, folder in sets.items():
            n = sum(1 for _ in folder.iterdir())
            plain_cmd = [sys.executable, "-c", PLAIN_LOOP, str(folder)]
            process_cmd = [sys.executable, "-m", "streams.cli", "process", "--out", "-", str(folder)]
            plain, process, baseline = [], [], []
            trees = [(runs, cwd, env | {"NEWSSTREAM_CACHE_DIR": str(Path(tmp) / f"cache-{i}")})
                     for i, (runs, cwd) in enumerate(((process, ROOT), (baseline, args.baseline))) if cwd is not None]
            for _, cwd, tree_env in trees:  # each tree's own caches, primed once: one tree's cache names cannot
                _run(process_cmd, tree_env, cwd)  # make the other's stale (other users' runs neither)
            loads.append(os.getloadavg()[0])
            for _ in range(args.rounds):
                plain.append(_run(plain_cmd, env)[:2])
                for runs, cwd, tree_env in trees:
                    wall, cpu, out = _run(process_cmd, tree_env, cwd)
                    lines = out.count(b"\n")
                    if lines != n:
                        raise SystemExit(f"process in {cwd} wrote {lines} lines for {n} pages")
                    runs.append((wall, cpu))
            loads.append(os.getloadavg()[0])
            print(f"{name}: {n} pages, {args.rounds} alternated rounds; load average {_load()} before, "
                  f"{_load(after=True)} after")
            shown = [("plain trafilatura loop", plain), ("newsstream process", process)]
            if baseline:
                shown.append(("process, baseline tree", baseline))
            for label, runs in shown:
                rounds = ", ".join(f"{w:.2f} s/{c:.2f} s CPU" for w, c in runs)
                best = min(w for w, _ in runs)
                cpus = [c for _, c in runs]
                print(f"  {label:<24} best {best:6.2f} s wall ({n / best:6.1f} pages/s); CPU median "
                      f"{statistics.median(cpus):.2f} s, min {min(cpus):.2f} s; rounds: {rounds}")
            best_ratio = min(w for w, _ in plain) / min(w for w, _ in process)
            median_ratio = statistics.median(w for w, _ in plain) / statistics.median(w for w, _ in process)
            cpu_ratio = statistics.median(c for _, c in plain) / statistics.median(c for _, c in process)
            print(f"  process / plain pages/s: {best_ratio:.2f}x (best rounds), {median_ratio:.2f}x (medians); "
                  f"CPU {cpu_ratio:.2f}x (medians)   goal >= 0.9x")
            if baseline:
                base_best = min(w for w, _ in plain) / min(w for w, _ in baseline)
                base_median = statistics.median(w for w, _ in plain) / statistics.median(w for w, _ in baseline)
                base_cpu = statistics.median(c for _, c in plain) / statistics.median(c for _, c in baseline)
                print(f"  baseline / plain pages/s: {base_best:.2f}x (best rounds), {base_median:.2f}x (medians); "
                      f"CPU {base_cpu:.2f}x (medians)")


if __name__ == "__main__":
    main()
