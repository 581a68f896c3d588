"""The named-entity recognizer of this tree against another source tree's (e.g. main's), alternately in child
processes: CPU microseconds per article of `Recognizer.recognize` over the sample corpus (normalized beforehand,
as the entities step passes its normalization on), and, where the tree has it, of `recognize_many` over batches.

    git archive main | tar -x -C /tmp/base   # a tree to compare with
    python benchmarks/recognizer_ab.py --base /tmp/base [--pairs 3] [--batch 70]

On a loaded shared machine wall-clock figures of two separate runs are not comparable; alternating the two
trees and taking CPU time (time.process_time, best of several rounds) is what makes the ratio mean something.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run in a child with the tree to measure first on sys.path; prints "recognize <us>" and maybe "batch <us>".
CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
from streams.inputs.paths import iter_documents
from streams.pipeline.arabic import normalize_with_map
from streams.pipeline.ner.model import shipped
from streams.pipeline.offline import raw_page
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.clean import CleanLimits
from streams.pipeline.steps import clean_step
limits = CleanLimits()
texts = []
for doc in iter_documents([sys.argv[2]], max_bytes=limits.max_page_bytes):
    try:
        texts.append(clean_step(raw_page(doc), limits).text)
    except Rejected:
        pass
normalized = [normalize_with_map(t) for t in texts]
recognizer = shipped()
for text, norm in zip(texts, normalized):
    recognizer.recognize(text, norm)  # warm-up: model load, per-word score blocks
def best_of(run, articles, rounds=7):
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        run()
        best = min(best, (time.process_time() - start) / articles)
    return best * 1e6
def one_by_one():
    for _ in range(20):
        for text, norm in zip(texts, normalized):
            recognizer.recognize(text, norm)
print("recognize", best_of(one_by_one, 20 * len(texts)))
if hasattr(recognizer, "recognize_many"):
    size = int(sys.argv[3])
    batch_texts = (texts * (size // len(texts) + 1))[:size]
    batch_norms = (normalized * (size // len(texts) + 1))[:size]
    def batches():
        for _ in range(max(1, 140 // size)):
            recognizer.recognize_many(batch_texts, batch_norms)
    print("batch", best_of(batches, max(1, 140 // size) * size))
"""


def cpu_us_per_article(tree: Path, corpus: Path, batch: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(corpus), str(batch)], check=True,
                         capture_output=True, text=True, cwd=tree)
    return {line.split()[0]: float(line.split()[1]) for line in out.stdout.strip().splitlines()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other source tree (a checkout or archive)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=70, help="texts per recognize_many call")
    args = parser.parse_args()
    if not (args.base / "streams" / "pipeline" / "ner" / "model.py").is_file():
        sys.exit(f"recognizer_ab: {args.base} is not a source tree (no streams/pipeline/ner/model.py)")
    if args.batch < 1 or args.pairs < 1:
        sys.exit("recognizer_ab: --batch and --pairs must be at least 1")
    corpus = ROOT / "samples" / "corpus"
    for n in range(args.pairs):
        base, this = cpu_us_per_article(args.base, corpus, args.batch), cpu_us_per_article(ROOT, corpus, args.batch)
        line = (f"pair {n + 1}: recognize base {base['recognize']:5.0f} us/article   this tree "
                f"{this['recognize']:5.0f} us/article   ratio {base['recognize'] / this['recognize']:.2f}x")
        if "batch" in this:
            line += (f"   recognize_many x{args.batch} {this['batch']:5.0f} us/article "
                     f"(ratio {base['recognize'] / this['batch']:.2f}x)")
        print(line)


if __name__ == "__main__":
    main()
