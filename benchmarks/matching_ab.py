"""The entities step's matching part, function by function, in this tree against another source tree (e.g. main's),
alternately in child processes: microseconds of CPU time per sample article (best of several rounds in a child),
then each function's median over the pairs and the ratio.

    git archive main | tar -x -C /tmp/base   # a tree to compare with
    python benchmarks/matching_ab.py --base /tmp/base [--pairs 4] [--rounds 5]

Functions: normalize_with_map + original_index (once per article in the step), extract_mentions (of it the
dictionary hits, _accepted_hits), find_candidates, the MinHash signature, the signatures of the corpus x9 as
entities_many computes them (stories.signatures in one call where the tree has it, else text by text), and the whole
entities_step for scale.
On a loaded shared machine only figures measured side by side mean something: read the medians and ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from child_articles import LOAD_ARTICLES  # noqa: E402

FUNCTIONS = ("normalize_with_map+original_index", "_accepted_hits", "extract_mentions", "find_candidates",
             "signature", "signatures of a batch", "entities_step")

# Run in a child with the tree to measure first on sys.path; prints one JSON object of microseconds per article.
CHILD = LOAD_ARTICLES + """
import json, time
from streams.pipeline.arabic import normalize_with_map
from streams.pipeline.offsets import original_index
from streams.pipeline.stages.candidates import find_candidates
from streams.pipeline.stages.entities import _accepted_hits, extract_mentions
from streams.pipeline.stages.stories import signature
from streams.pipeline.steps import entities_step
texts = [a.text for a in articles]
for a in articles:
    entities_step(a, dictionary)  # warm-up: model load, tables, caches
prepared = []
for t in texts:
    norm, index = normalize_with_map(t)
    prepared.append((t, (norm, original_index(t, index))))
mentions = [extract_mentions(t, dictionary, n) for t, n in prepared]


def normalization():
    for t in texts:
        original_index(t, normalize_with_map(t)[1])


def hits():
    for _, (norm, _) in prepared:
        _accepted_hits(norm, dictionary)


def matching():
    for t, n in prepared:
        extract_mentions(t, dictionary, n)


def candidates():
    for (t, n), m in zip(prepared, mentions):
        find_candidates(t, m, n)


def signatures():
    for t, (norm, _) in prepared:
        signature(t, normalized=norm)


try:
    from streams.pipeline.stages.stories import signatures as batched
except ImportError:  # a tree from before stories.signatures: entities_many signed text by text
    batched = None
batch = [norm for _, (norm, _) in prepared] * 9


def batch_signatures():
    if batched is None:
        for norm in batch:
            signature(norm, normalized=norm)
    else:
        batched(batch)


def step():
    for a in articles:
        entities_step(a, dictionary)


out = {}
repeat, rounds = int(sys.argv[3]), int(sys.argv[4])
for name, run in zip(sys.argv[5].split(","), (normalization, hits, matching, candidates, signatures, batch_signatures,
                                              step)):
    best = float("inf")
    per = 9 if run is batch_signatures else 1
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeat):
            run()
        best = min(best, (time.process_time() - start) / (repeat * len(texts) * per))
    out[name] = best * 1e6
print(json.dumps(out))
"""


def measure(tree: Path, corpus: Path, repeat: int, rounds: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(corpus), str(repeat), str(rounds),
                          ",".join(FUNCTIONS)], check=True, capture_output=True, text=True, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other source tree (a checkout or archive)")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per function in a child (the best is kept)")
    parser.add_argument("--repeat", type=int, default=10, help="passes over the corpus per round")
    args = parser.parse_args()
    if not (args.base / "streams" / "pipeline" / "steps.py").is_file():
        sys.exit(f"matching_ab: {args.base} is not a source tree (no streams/pipeline/steps.py)")
    if args.pairs < 1 or args.rounds < 1 or args.repeat < 1:
        sys.exit("matching_ab: --pairs, --rounds and --repeat must be at least 1")
    corpus = ROOT / "samples" / "corpus"
    base: list[dict[str, float]] = []
    this: list[dict[str, float]] = []
    for n in range(args.pairs):
        base.append(measure(args.base, corpus, args.repeat, args.rounds))
        this.append(measure(ROOT, corpus, args.repeat, args.rounds))
        print(f"pair {n + 1}: " + "  ".join(f"{name} {base[-1][name]:.0f}/{this[-1][name]:.0f}"
                                            for name in FUNCTIONS), flush=True)
    print(f"\nus of CPU per article (sample corpus, {len(base)} alternating pairs, median of each tree's bests; "
          "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg()) + ")")
    print(f"{'function':<36}{'base':>8}{'this':>8}{'ratio':>8}")
    for name in FUNCTIONS:
        b, t = statistics.median(r[name] for r in base), statistics.median(r[name] for r in this)
        print(f"{name:<36}{b:8.1f}{t:8.1f}{b / t:7.2f}x")


if __name__ == "__main__":
    main()
