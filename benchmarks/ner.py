"""Entity-level (CoNLL) precision/recall/F1 per type of the shipped Arabic recognizer on the development part
carved from ANERcorp's training data (its last 15 %; see streams/pipeline/ner/data.py), three ways: the recognizer alone,
sentence by sentence; the entities stage with an empty dictionary (recognizer + document consistency + title
patterns, windows of 10 sentences as articles); and the stage with the shipped actor dictionary.

    python benchmarks/ner.py [--data ../shared/ner] [--model streams/pipeline/ner/model/arner.npz]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.pipeline.dictionary import ActorDictionary  # noqa: E402
from streams.pipeline.ner.data import anercorp, data_dir  # noqa: E402
from streams.pipeline.ner.evaluate import recognizer_scores, stage_scores  # noqa: E402
from streams.pipeline.ner.model import MODEL_PATH, Recognizer  # noqa: E402
from streams.pipeline.ner.train import report  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    data = args.data or data_dir()
    if data is None or not (data / "anercorp-train.txt").is_file():
        print("no annotated data (../shared/ner or --data): nothing to score", file=sys.stderr)
        return 2
    model = Recognizer.load(args.model)
    _, dev = anercorp(data)
    print(f"model {args.model.name} ({args.model.stat().st_size / 1e6:.2f} MB), version {model.version}; "
          f"development part: {len(dev)} sentences, {sum(len(w) for w, _ in dev)} tokens\n")
    start = time.perf_counter()
    print("recognizer alone, sentence by sentence:")
    report(recognizer_scores(model, dev))
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "actors.yaml"
        empty.write_text("version: empty\nactors: []\n", encoding="utf-8")
        print("\nentities stage, empty dictionary (recognizer + document consistency + title patterns):")
        report(stage_scores(dev, ActorDictionary.load(empty), model))
    exact = Recognizer.load(args.model, prune_margin=None)
    differ = sum(int((model.tag_ids(w) != exact.tag_ids(w)).sum()) for w, _ in dev)
    print(f"\ndecoding with prune margin {model.prune_margin} vs exact Viterbi: {differ} of "
          f"{sum(len(w) for w, _ in dev)} development tags differ")
    dictionary = ActorDictionary.load()
    print(f"\nentities stage with the shipped dictionary ({len(dictionary.actors)} actors):")
    report(stage_scores(dev, dictionary, model))
    print(f"\n({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
