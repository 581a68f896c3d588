"""The named-entity recognizer of this tree against another tree's `streams/pipeline/ner/model.py` (e.g. main's),
in one process, rounds alternated: CPU microseconds per article of `recognize` over the sample corpus (normalized
beforehand, as the entities step passes its normalization on) and of this tree's `recognize_many` over batches.

    git archive main | tar -x -C /tmp/base   # a tree to compare with
    python benchmarks/recognizer_ab.py --base /tmp/base [--rounds 15] [--batch 70]

The other tree's model.py is loaded as a module of its own beside this tree's (its imports, normalization and
features, come from this tree: compare trees whose other recognizer files are the same). On a loaded shared
machine two separate runs are not comparable; rounds alternated in one process, in CPU time
(time.process_time), with best and median of each side, are what make the ratio mean something.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.inputs.paths import iter_documents  # noqa: E402
from streams.pipeline.arabic import normalize_with_map  # noqa: E402
from streams.pipeline.ner.model import Recognizer  # noqa: E402
from streams.pipeline.offline import raw_page  # noqa: E402
from streams.pipeline.stages import Rejected  # noqa: E402
from streams.pipeline.stages.clean import CleanLimits  # noqa: E402
from streams.pipeline.steps import clean_step  # noqa: E402


def other_model(tree: Path):
    """The other tree's model module, loaded under a name of its own."""
    path = tree / "streams" / "pipeline" / "ner" / "model.py"
    if not path.is_file():
        sys.exit(f"recognizer_ab: {tree} is not a source tree (no streams/pipeline/ner/model.py)")
    spec = importlib.util.spec_from_file_location("base_recognizer_model", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other source tree (a checkout or archive)")
    parser.add_argument("--rounds", type=int, default=15, help="alternated rounds of 10 passes over the corpus")
    parser.add_argument("--batch", type=int, default=70, help="texts per recognize_many call")
    args = parser.parse_args()
    if args.batch < 1 or args.rounds < 1:
        sys.exit("recognizer_ab: --batch and --rounds must be at least 1")
    limits = CleanLimits()
    texts = []
    for doc in iter_documents([ROOT / "samples" / "corpus"], max_bytes=limits.max_page_bytes):
        try:
            texts.append(clean_step(raw_page(doc), limits).text)
        except Rejected:
            pass
    normalized = [normalize_with_map(t) for t in texts]
    base, this = other_model(args.base).Recognizer.load(), Recognizer.load()
    for text, norm in zip(texts, normalized, strict=True):  # warm-up, and the same names from both
        if [tuple(vars(s).values()) if hasattr(s, "__dict__") else tuple(s) for s in base.recognize(text, norm)] \
                != [tuple(s) for s in this.recognize(text, norm)]:
            sys.exit("recognizer_ab: the two trees find different names")
    batch_texts = [texts[i % len(texts)] for i in range(args.batch)]
    batch_norms = [normalized[i % len(texts)] for i in range(args.batch)]
    this.recognize_many(batch_texts, batch_norms)
    calls = max(1, 10 * len(texts) // args.batch)

    def one_by_one(recognizer: Recognizer) -> float:
        start = time.process_time()
        for _ in range(10):
            for text, norm in zip(texts, normalized, strict=True):
                recognizer.recognize(text, norm)
        return (time.process_time() - start) / (10 * len(texts)) * 1e6

    def batches() -> float:
        start = time.process_time()
        for _ in range(calls):
            this.recognize_many(batch_texts, batch_norms)
        return (time.process_time() - start) / (calls * args.batch) * 1e6

    times: dict[str, list[float]] = {"base": [], "this": [], "batch": []}
    for _ in range(args.rounds):
        times["base"].append(one_by_one(base))
        times["this"].append(one_by_one(this))
        times["batch"].append(batches())
    best = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"{len(texts)} articles, {args.rounds} alternated rounds; CPU us per article, best / median")
    print(f"recognize, base tree          {best['base']:6.0f} / {median['base']:6.0f}")
    print(f"recognize, this tree          {best['this']:6.0f} / {median['this']:6.0f}   ratio "
          f"{best['base'] / best['this']:.2f}x / {median['base'] / median['this']:.2f}x")
    print(f"recognize_many x{args.batch:<4d} this tree  {best['batch']:6.0f} / {median['batch']:6.0f}   ratio "
          f"{best['base'] / best['batch']:.2f}x / {median['base'] / median['batch']:.2f}x")


if __name__ == "__main__":
    main()
