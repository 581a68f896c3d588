"""The cyclic garbage collector's work inside the entities step: collections per generation and their CPU time per
article (gc.callbacks) over entities_many in batches, this tree and another source tree alternately in child
processes, each after a warm-up.

    git archive main | tar -x -C /tmp/base   # a tree to compare with
    python benchmarks/entities_gc.py --base /tmp/base [--pairs 2] [--batches 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from child_articles import LOAD_ARTICLES  # noqa: E402

# Prints "collections_gen0 us_gen0 collections_gen1 us_gen1 collections_gen2 us_gen2 us_total" (per article).
CHILD = LOAD_ARTICLES + """
import gc, itertools, time
from streams.pipeline.steps import entities_many
count = int(sys.argv[3])
stream = list(itertools.islice(itertools.cycle(articles), 64 * count))
batches = [stream[i:i + 64] for i in range(0, len(stream), 64)]
for b in batches:
    entities_many(b, dictionary)  # warm-up: model load, per-word score blocks, kept names
stats = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
started = [0.0]
def timed(phase, info):
    if phase == "start":
        started[0] = time.process_time()
    else:
        stats[info["generation"]][0] += 1
        stats[info["generation"]][1] += time.process_time() - started[0]
gc.callbacks.append(timed)
start = time.process_time()
for b in batches:
    entities_many(b, dictionary)
total = time.process_time() - start
gc.callbacks.remove(timed)
n = len(stream)
print(*(f"{stats[g][0]} {stats[g][1] / n * 1e6:.1f}" for g in range(3)), f"{total / n * 1e6:.0f}")
"""


def run(tree: Path, corpus: Path, batches: int) -> str:
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(corpus), str(batches)], check=True,
                         capture_output=True, text=True, cwd=tree)
    c0, t0, c1, t1, c2, t2, total = out.stdout.strip().splitlines()[-1].split()
    return (f"gen0 {c0:>4} collections {t0:>6} us   gen1 {c1:>3} {t1:>6} us   gen2 {c2:>2} {t2:>6} us   "
            f"step {total:>5} us/article")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other source tree (a checkout or archive)")
    parser.add_argument("--corpus", type=Path, default=ROOT / "samples" / "corpus")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--batches", type=int, default=20, help="batches of 64 articles measured in each child")
    args = parser.parse_args()
    if not (args.base / "streams" / "pipeline" / "steps.py").is_file():
        sys.exit(f"entities_gc: {args.base} is not a source tree (no streams/pipeline/steps.py)")
    if args.pairs < 1 or args.batches < 1:
        sys.exit("entities_gc: --pairs and --batches must be at least 1")
    print(f"entities_many x64, {args.batches} batches; CPU per article in collections (gc.callbacks); load average "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    for n in range(args.pairs):
        print(f"pair {n + 1}: base       {run(args.base, args.corpus, args.batches)}")
        print(f"pair {n + 1}: this tree  {run(ROOT, args.corpus, args.batches)}")


if __name__ == "__main__":
    main()
