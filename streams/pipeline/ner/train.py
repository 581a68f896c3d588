"""Retrain the shipped recognizer from ../shared/ner (one command, a few minutes on one core):

    pip install -e '.[ner-train]' && python -m streams.pipeline.ner.train [--data DIR] [--out PATH]

A linear-chain CRF (CRFsuite, L-BFGS with L1+L2) over word, affix, clitic-stripped stem, gazetteer and
trigger-word attributes in a +-2 window, trained on ANERcorp's training sentences minus the development part
(its last 15 %). Name-list flags of training sentences come from the names of the other folds, so the model
learns how far to trust a list; WikiFANE Gold and the actor dictionary serve as name lists only (as training
sentences WikiFANE follows other annotation rules). The weights are exported to numpy (model.py) and the
development part is scored with the exported model, the one that ships.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from streams.errors import UserError
from streams.pipeline.ner.data import anercorp, conll_scores, data_dir, names, wikifane
from streams.pipeline.ner.features import Gazetteer, normalize_token, sequence_features
from streams.pipeline.ner.model import MODEL_PATH, Recognizer

FOLDS = 5
C1, C2, MAX_ITERATIONS = 0.01, 0.05, 200


def dictionary_names() -> list[tuple[str, list[str]]]:
    """Arabic aliases of the actor dictionary as (PER/ORG/LOC, words)."""
    from streams.pipeline.dictionary import ActorDictionary

    kinds = {"person": "PER", "organization": "ORG", "location": "LOC"}
    out = []
    for actor in ActorDictionary.load().actors.values():
        kind = kinds.get(actor.type)
        if kind:
            for group in (actor.aliases, actor.short):
                for alias in group.get("ar", []):
                    out.append((kind, [normalize_token(w) for w in alias.split()]))
    return out


def gazetteer_of(*name_lists: list[tuple[str, list[str]]], vocabulary=None) -> Gazetteer:
    gaz = Gazetteer()
    if vocabulary:
        gaz.add_vocabulary(*vocabulary)
    for lst in name_lists:
        for kind, words in lst:
            if kind in gaz.words:
                gaz.add(kind, words)
    return gaz


def train(data: Path, out: Path, log=print, c1: float = C1, c2: float = C2) -> dict:
    try:
        import pycrfsuite
    except ImportError:
        raise UserError("training needs python-crfsuite: pip install -e '.[ner-train]'") from None
    started = time.perf_counter()
    train_sents, dev_sents = anercorp(data)
    wiki_names, seen, outside = wikifane(data)
    extra = wiki_names + dictionary_names()
    log(f"ANERcorp: {len(train_sents)} training sentences, {len(dev_sents)} development sentences; "
        f"{len(extra)} names from WikiFANE Gold and the actor dictionary")

    trainer = pycrfsuite.Trainer(verbose=False)
    fold_size = -(-len(train_sents) // FOLDS)
    for k in range(FOLDS):
        fold = train_sents[k * fold_size:(k + 1) * fold_size]
        others = train_sents[:k * fold_size] + train_sents[(k + 1) * fold_size:]
        gaz = gazetteer_of(names(others), extra, vocabulary=(seen, outside))
        cache: dict = {}
        for words, tags in fold:
            trainer.append(sequence_features(words, gaz, cache), tags)
    trainer.set_params({"c1": c1, "c2": c2, "max_iterations": MAX_ITERATIONS,
                        "feature.possible_transitions": True})
    with tempfile.TemporaryDirectory() as tmp:
        crf_path = str(Path(tmp) / "crf.model")
        trainer.train(crf_path)
        tagger = pycrfsuite.Tagger()
        tagger.open(crf_path)
        info = tagger.info()
        labels = sorted(tagger.labels(), key=lambda lab: (lab == "O", lab[2:], lab))
    log(f"CRF trained in {time.perf_counter() - started:.0f} s")

    index = {lab: i for i, lab in enumerate(labels)}
    attributes = sorted({a for a, _ in info.state_features})
    row = {a: i for i, a in enumerate(attributes)}
    weights = np.zeros((len(attributes), len(labels)), dtype=np.float32)
    for (attr, label), w in info.state_features.items():
        weights[row[attr], index[label]] = w
    transitions = np.zeros((len(labels), len(labels)), dtype=np.float32)
    for (a, b), w in info.transitions.items():
        transitions[index[a], index[b]] = w

    full_gaz = gazetteer_of(names(train_sents), extra, vocabulary=(seen, outside))
    digest = hashlib.sha1(weights.tobytes()).hexdigest()[:8]
    model = Recognizer(attributes, weights, transitions, labels, full_gaz, version=f"arner-crf-1+{digest}")
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out, attributes)
    shipped = Recognizer.load(out)  # score what was written (float16 weights), not the trainer's copy
    scores = evaluate(shipped, dev_sents)
    log(f"model {out} ({out.stat().st_size / 1e6:.1f} MB, {len(attributes)} attributes), version {shipped.version}")
    report(scores, log)
    return scores


def evaluate(model: Recognizer, sentences) -> dict:
    predicted = [model.tag(words) for words, _ in sentences]
    return conll_scores([tags for _, tags in sentences], predicted)


def report(scores: dict, log=print) -> None:
    log(f"{'type':<6} {'precision':>9} {'recall':>7} {'F1':>6} {'gold':>5}")
    for kind, s in scores.items():
        log(f"{kind:<6} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f} {s.tp + s.fn:5d}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.pipeline.ner.train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="directory with anercorp-train.txt (default ../shared/ner)")
    parser.add_argument("--out", type=Path, default=MODEL_PATH, help=f"model file (default {MODEL_PATH})")
    parser.add_argument("--c1", type=float, default=C1, help="L1 penalty (sparser, smaller model)")
    parser.add_argument("--c2", type=float, default=C2, help="L2 penalty")
    args = parser.parse_args(argv)
    data = args.data or data_dir()
    if data is None or not (data / "anercorp-train.txt").is_file():
        print("newsstream: no annotated data: pass --data DIR holding anercorp-train.txt "
              "(default ../shared/ner beside the repository)", file=sys.stderr)
        return 2
    try:
        train(data, args.out, c1=args.c1, c2=args.c2)
    except UserError as exc:
        print(f"newsstream: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
