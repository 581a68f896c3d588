"""The annotated data in ../shared/ner (ANERcorp training part, WikiFANE Gold): reading, the development part
carved from the training data, and entity-level (CoNLL) scoring.

The data is third-party (CC BY-SA) and read from where it lies, never copied into the repository.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from streams.pipeline.ner.features import normalize_token

REPO = Path(__file__).resolve().parents[3]
ANERCORP = "anercorp-train.txt"
WIKIFANE = "wikifane-gold-500k.txt"
DEV_FRACTION = 0.15  # the last 15 % of ANERcorp's training sentences: held out for tuning and the benchmark

Sentence = tuple[list[str], list[str]]  # (normalized tokens, IOB tags)

# WikiFANE's fine classes mapped to the three coarse types (its PER-Group, e.g. "the Muslims", is no name).
WIKIFANE_TYPES = {
    **dict.fromkeys("Politician Religious_PER Artist Other_PER Scientist Athlete Businessperson Engineer Lawyer "
                    "Police".split(), "PER"),
    **dict.fromkeys("Population-Center Nation State-or-Province Continent County-or-District GPE-Cluster Water-Body "
                    "Land-Region-Natural Celestial Address Boundary Land Water".split(), "LOC"),
    **dict.fromkeys("Government Commercial Educational Media Non-Governmental Sports Religious_ORG Medical-Science "
                    "Entertainment".split(), "ORG"),
}


def data_dir() -> Path | None:
    """NEWSSTREAM_NER_DATA, else ../shared/ner beside the repository; None when absent."""
    path = Path(os.environ.get("NEWSSTREAM_NER_DATA") or REPO.parent / "shared" / "ner")
    return path if (path / ANERCORP).is_file() else None


def read_conll(path: Path, sep: str | None = None) -> list[Sentence]:
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            parts = line.rstrip("\n").split(sep) if sep else line.split()
            if len(parts) < 2 or not parts[0].strip("\u200e "):
                if words:
                    sentences.append((words, tags))
                    words, tags = [], []
                continue
            word = normalize_token(parts[0].strip())
            if not word:
                continue
            words.append(word)
            tags.append(parts[-1].strip().replace("PERS", "PER"))
    if words:
        sentences.append((words, tags))
    return sentences


def anercorp(directory: Path) -> tuple[list[Sentence], list[Sentence]]:
    """(training sentences, development sentences): the development part is the corpus's last 15 %."""
    sentences = read_conll(directory / ANERCORP)
    cut = int(len(sentences) * (1 - DEV_FRACTION))
    return sentences[:cut], sentences[cut:]


def spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, start, end) entities of an IOB sequence, CoNLL style (an I- after another type starts one)."""
    out: list[tuple[str, int, int]] = []
    kind: str | None = None
    start = 0
    for i, tag in enumerate(list(tags) + ["O"]):
        if tag == "O" or tag.startswith("B-") or (tag.startswith("I-") and tag[2:] != kind):
            if kind is not None:
                out.append((kind, start, i))
            kind, start = (tag[2:], i) if tag != "O" else (None, i)
    return out


def names(sentences: list[Sentence]) -> list[tuple[str, list[str]]]:
    return [(kind, words[s:e]) for words, tags in sentences for kind, s, e in spans(tags)]


def wikifane(directory: Path) -> tuple[list[tuple[str, list[str]]], Counter, Counter]:
    """Names in WikiFANE Gold mapped to PER/LOC/ORG (its clitics are split off, so names stand bare), and how
    often each word occurs there at all and outside any name: what tells a common word from a rare name."""
    path = directory / WIKIFANE
    if not path.is_file():
        return [], Counter(), Counter()
    sentences = read_conll(path, sep="\t")
    out = []
    for kind, words in names(sentences):
        coarse = WIKIFANE_TYPES.get(kind)
        if coarse:
            out.append((coarse, words))
    seen: Counter[str] = Counter()
    outside: Counter[str] = Counter()
    for words, tags in sentences:
        seen.update(words)
        outside.update(w for w, t in zip(words, tags, strict=False) if t == "O")
    return out, seen, outside


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def conll_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, Score]:
    """Entity-level exact-match precision/recall/F1 per type and overall ('ALL'), as conlleval counts them."""
    scores: dict[str, Score] = {}
    for g_tags, p_tags in zip(gold, predicted, strict=True):
        g, p = set(spans(g_tags)), set(spans(p_tags))
        for kind in {k for k, _, _ in g | p}:
            s = scores.setdefault(kind, Score())
            gk = {x for x in g if x[0] == kind}
            pk = {x for x in p if x[0] == kind}
            s.tp += len(gk & pk)
            s.fp += len(pk - gk)
            s.fn += len(gk - pk)
    total = Score(*(sum(getattr(s, a) for s in scores.values()) for a in ("tp", "fp", "fn")))
    return {**dict(sorted(scores.items())), "ALL": total}


def tag_counts(sentences: list[Sentence]) -> Counter:
    return Counter(kind for kind, _ in names(sentences))
