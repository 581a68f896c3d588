"""Start-up CPU of the CLI's commands as whole processes, this tree against a baseline tree, alternated (issue 18).

    python benchmarks/startup.py [--rounds 8] [--baseline DIR] [--source]

Timed per tree: `newsstream --help` (the CLI and its parser), `import streams.runtime.worker` (what the `run`
supervisor imports before it starts the broker and the worker), `process` over an empty folder (imports, the
cleaning children, the language model, the dictionary) and over the labeled set's 25 pages; and once the plain
`trafilatura.extract` loop over the same 25 pages. CPU seconds include waited-for children (the cleaning
processes), so the figures hold on a shared machine better than wall times; both are printed (median and min).
As in process_ratio.py, each tree reads its own cache folder, filled by one untimed run, and is byte-compiled
first unless `--source`.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELED = ROOT / "samples" / "labeled"
PLAIN_LOOP = """
import pathlib, sys
import trafilatura
for f in sorted(p for p in pathlib.Path(sys.argv[1]).iterdir() if p.is_file()):
    trafilatura.extract(f.read_bytes())
"""


def _cpu(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds with waited-for children) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="alternated rounds")
    parser.add_argument("--baseline", type=Path, help="another source tree (e.g. `git archive main`)")
    parser.add_argument("--source", action="store_true", help="do not byte-compile the trees first")
    args = parser.parse_args()
    trees = [("this tree", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        empty, pages = Path(tmp) / "empty", Path(tmp) / "labeled"
        empty.mkdir()
        pages.mkdir()
        for f in sorted(LABELED.glob("*.html*")):
            body = f.read_bytes()
            (pages / f.name.removesuffix(".gz")).write_bytes(gzip.decompress(body) if f.name.endswith(".gz") else body)
        env = os.environ | {"NEWSSTREAM_DATA_DIR": str(Path(tmp) / "data")}
        env.pop("KAFKA_URL", None)
        cli = [sys.executable, "-m", "streams.cli"]
        commands = {"newsstream --help": cli + ["--help"],
                    "import streams.runtime.worker": [sys.executable, "-c", "import streams.runtime.worker"],
                    "process, empty folder": cli + ["process", str(empty), "--out", "-"],
                    f"process, {sum(1 for _ in pages.iterdir())} labeled pages": cli + ["process", str(pages),
                                                                                       "--out", "-"]}
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        timed = []
        for i, (name, tree) in enumerate(trees):
            if not args.source:
                subprocess.run([sys.executable, "-m", "compileall", "-q", "streams", "schemas", "samples"], cwd=tree,
                               check=True, stdout=subprocess.DEVNULL)
            tree_env = env | {"NEWSSTREAM_CACHE_DIR": str(Path(tmp) / f"cache-{i}")}
            _cpu(commands[next(reversed(commands))], tree, tree_env)  # fills this tree's caches, untimed
            timed.append((name, tree, tree_env))
        plain = [sys.executable, "-c", PLAIN_LOOP, str(pages)]
        for r in range(args.rounds):
            runs.setdefault(("plain trafilatura loop", "labeled pages"), []).append(_cpu(plain, ROOT, env))
            for label, cmd in commands.items():
                for name, tree, tree_env in timed if r % 2 == 0 else timed[::-1]:
                    runs.setdefault((label, name), []).append(_cpu(cmd, tree, tree_env))
    print(f"{'trees run from source' if args.source else 'trees byte-compiled first'}; {args.rounds} alternated "
          f"rounds; load average at the end {os.getloadavg()[0]:.1f}")
    for (label, name), rows in runs.items():
        print(f"  {label:<32} {name:<14} CPU median {statistics.median(c for _, c in rows):6.3f} s, "
              f"min {min(c for _, c in rows):6.3f} s; wall median {statistics.median(w for w, _ in rows):6.2f} s, "
              f"min {min(w for w, _ in rows):6.2f} s")


if __name__ == "__main__":
    main()
