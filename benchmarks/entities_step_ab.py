"""The entities step of this tree against another source tree's (e.g. main's), alternately in child processes:
articles per second of CPU time (best of several rounds) over the sample corpus, and the ratio of each pair.

    git archive main | tar -x -C /tmp/base   # a tree to compare with
    python benchmarks/entities_step_ab.py --base /tmp/base [--pairs 3] [--distinct]
    python benchmarks/entities_step_ab.py --batch 64 [--pairs 3]   # this tree: entities_step vs entities_many
    python benchmarks/entities_step_ab.py --base /tmp/base --batch 64   # both trees' entities_many in batches of 64

On a loaded shared machine wall-clock figures of two separate runs are not comparable; alternating the two
trees and taking CPU time (time.process_time) is what makes the ratio mean something.
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

# Run in a child with the tree to measure first on sys.path; prints microseconds of CPU per article.
CHILD = LOAD_ARTICLES + """
import re, time
from streams.pipeline.steps import entities_step
distinct = sys.argv[3] == "1"  # re's cache emptied before each article, as when no two articles are alike
size = int(sys.argv[4])  # 0: entities_step article by article; N: entities_many over batches of N
if size:
    from streams.pipeline.steps import entities_many
    n = max(size, len(articles)) * 4 // size * size  # whole batches, each article as often as the others
    stream = [articles[i % len(articles)] for i in range(n)]
    batches = [stream[i:i + size] for i in range(0, n, size)]
    for b in batches:
        entities_many(b, dictionary)  # warm-up: model load, per-word score blocks
for a in articles:
    entities_step(a, dictionary)  # warm-up: model load, per-word score blocks
best = float("inf")
for _ in range(7):
    start = time.process_time()
    if size:
        for _ in range(5):
            for b in batches:
                if distinct:
                    re.purge()
                entities_many(b, dictionary)
        best = min(best, (time.process_time() - start) / (5 * n))
        continue
    for _ in range(20):
        for a in articles:
            if distinct:
                re.purge()
            entities_step(a, dictionary)
    best = min(best, (time.process_time() - start) / (20 * len(articles)))
print(best * 1e6)
"""

# Single (entities_step per article) against batched (entities_many over batches of N), alternating rounds in one
# child; prints "single_us batched_us" of CPU per article, each the best of its rounds.
BATCH_CHILD = LOAD_ARTICLES + """
import itertools, time
from streams.pipeline.steps import entities_many, entities_step
size = int(sys.argv[3])
n = max(size, len(articles)) * 4 // size * size  # whole batches, each article as often as the others
stream = list(itertools.islice(itertools.cycle(articles), n))
batches = [stream[i:i + size] for i in range(0, n, size)]
for a in stream:
    entities_step(a, dictionary)  # warm-up: model load, per-word score blocks
for b in batches:
    entities_many(b, dictionary)
single = batched = float("inf")
for _ in range(7):
    start = time.process_time()
    for _ in range(5):
        for a in stream:
            entities_step(a, dictionary)
    single = min(single, (time.process_time() - start) / (5 * n))
    start = time.process_time()
    for _ in range(5):
        for b in batches:
            entities_many(b, dictionary)
    batched = min(batched, (time.process_time() - start) / (5 * n))
print(single * 1e6, batched * 1e6)
"""


def cpu_us_per_article(tree: Path, corpus: Path, distinct: bool = False, batch: int = 0) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(corpus), "1" if distinct else "0", str(batch)],
                         check=True, capture_output=True, text=True, cwd=tree)
    return float(out.stdout.strip().splitlines()[-1])


def single_and_batched_us(tree: Path, corpus: Path, size: int) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", BATCH_CHILD, str(tree), str(corpus), str(size)], check=True,
                         capture_output=True, text=True, cwd=tree)
    single, batched = map(float, out.stdout.strip().splitlines()[-1].split())
    return single, batched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, help="the other source tree (a checkout or archive)")
    parser.add_argument("--batch", type=int, metavar="N",
                        help="instead: this tree's entities_step against entities_many in batches of N articles; "
                        "with --base, both trees' entities_many in batches of N")
    parser.add_argument("--corpus", type=Path, default=ROOT / "samples" / "corpus",
                        help="HTML pages to clean and measure on (default: the sample corpus)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--distinct", action="store_true",
                        help="empty re's pattern cache before each article: the corpus repeats its 7 articles, so "
                        "a pattern compiled per article is otherwise compiled once, unlike on a real stream")
    args = parser.parse_args()
    corpus = args.corpus
    if args.batch is not None and args.batch < 1:
        sys.exit("entities_step_ab: --batch must be at least 1")
    if args.batch is not None and args.base is None:
        for n in range(args.pairs):
            single, batched = single_and_batched_us(ROOT, corpus, args.batch)
            print(f"round {n + 1}: entities_step {1e6 / single:6.0f} articles/s CPU ({single:5.0f} us)   "
                  f"entities_many x{args.batch} {1e6 / batched:6.0f} articles/s CPU ({batched:5.0f} us)   "
                  f"ratio {single / batched:.2f}x")
        return
    if args.base is None:
        sys.exit("entities_step_ab: --base TREE or --batch N")
    if not (args.base / "streams" / "pipeline" / "steps.py").is_file():
        sys.exit(f"entities_step_ab: {args.base} is not a source tree (no streams/pipeline/steps.py)")
    batch = args.batch or 0
    what = f"entities_many x{batch}" if batch else "entities_step"
    print(f"{what}, CPU time per article, best of 7 rounds in each child; load average "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    for n in range(args.pairs):
        base = cpu_us_per_article(args.base, corpus, args.distinct, batch)
        this = cpu_us_per_article(ROOT, corpus, args.distinct, batch)
        print(f"pair {n + 1}: base {1e6 / base:6.0f} articles/s CPU ({base:5.0f} us)   "
              f"this tree {1e6 / this:6.0f} articles/s CPU ({this:5.0f} us)   ratio {base / this:.2f}x")


if __name__ == "__main__":
    main()
