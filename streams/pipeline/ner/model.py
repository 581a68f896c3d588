"""The recognizer at run time: a linear-chain CRF's weights in numpy arrays, no training library needed.

Each distinct word is turned once into a (5 offsets x labels) block of scores (the sum of its attributes'
weights at each window offset) and cached; a text's emission scores are then gathers and adds over its word
ids, and Viterbi runs only between tokens whose best label is O whatever their neighbours (most of a text),
so a page costs a few array operations instead of a Python loop over feature dicts per token.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from streams.pipeline.arabic import code_points, normalize_with_map
from streams.pipeline.ner.features import OFFSETS, PAD, PERSON_TRIGGERS, TOKEN, Gazetteer, _bare, word_attributes

MODEL_PATH = Path(__file__).with_name("model") / "arner.npz"
TYPES = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "other"}
# A token of ASCII letters and digits with a letter (a Latin-script word), as a search over a span's text.
_LATIN_WORD = re.compile(r"(?<!\w)[0-9A-Za-z]*[A-Za-z][0-9A-Za-z]*(?!\w)")
_CACHE_WORDS = 200_000  # distinct words kept with their score blocks (about 180 bytes each)
# A token whose O score beats every other label's by this much is taken as O without asking its neighbours.
# The exact bound (the most the transitions could gain) is far larger and leaves ~99 % of a text undecided;
# with this margin 70 % of the development part's tokens are decided alone and 7 of its 18,909 tags change
# against exact Viterbi (benchmarks/ner.py prints the count).
PRUNE_MARGIN = 4.0


@dataclass(frozen=True)
class Span:
    """A recognized name: type (PER/ORG/LOC/MISC) and offsets into the normalized text, with its tokens."""

    kind: str
    start: int
    end: int
    words: tuple[str, ...]


class Recognizer:
    def __init__(self, attributes: list[str], weights: np.ndarray, transitions: np.ndarray, labels: list[str],
                 gazetteer: Gazetteer, version: str, prune_margin: float | None = PRUNE_MARGIN):
        """`prune_margin`: None decodes exactly (the bound below); a number also takes as O every token whose
        O score leads by that margin."""
        self.labels = labels
        self.version = version
        self.gazetteer = gazetteer
        self._row = {a: i for i, a in enumerate(attributes)}
        self._weights = weights.astype(np.float32)
        self._trans = transitions.astype(np.float32)
        self._o = labels.index("O")
        self._iob = all(lab == "O" or "-" in lab for lab in labels)
        n = len(labels)
        # An O at t is optimal whatever its neighbours when its emission margin over y beats the most the
        # transitions into and out of t can gain by y instead of O (each term at least 0: a sequence's ends).
        t, o = self._trans, self._o
        self._swing = np.array([max(0.0, float((t[:, y] - t[:, o]).max())) + max(0.0, float((t[y, :] - t[o, :]).max()))
                                for y in range(n)], dtype=np.float32)
        self.prune_margin = prune_margin
        self._margin = self._swing if prune_margin is None else np.minimum(self._swing, np.float32(prune_margin))
        self._reset_cache()

    def _reset_cache(self) -> None:
        self._ids: dict[str, int] = {}
        self._blocks = np.zeros((1024, len(OFFSETS), len(self.labels)), dtype=np.float32)
        self._word_id(PAD)

    def _word_id(self, word: str) -> int:
        got = self._ids.get(word)
        if got is not None:
            return got
        if len(self._ids) >= _CACHE_WORDS:
            self._reset_cache()
        i = len(self._ids)
        if i == len(self._blocks):
            self._blocks = np.concatenate([self._blocks, np.zeros_like(self._blocks)])
        own, ctx = word_attributes(word, self.gazetteer)
        row, w = self._row, self._weights
        for k, o in enumerate(OFFSETS):
            names = own if o == 0 else [f"{o}:{a}" for a in ctx]
            rows = [row[a] for a in names if a in row]
            if rows:
                self._blocks[i, k] = w[rows].sum(axis=0)
        self._ids[word] = i
        return i

    def emissions(self, words: list[str]) -> np.ndarray:
        """Scores (tokens x labels) of a sequence, gathered from the per-word blocks."""
        ids = list(map(self._ids.get, words))
        if None in ids:
            ids = [self._word_id(w) if i is None else i for w, i in zip(words, ids, strict=False)]
        padded = np.array([0, 0, *ids, 0, 0], dtype=np.int64)
        n = len(words)
        window = self._blocks[padded]  # one gather; then each offset's scores, added in the same order as ever
        e = window[2:n + 2, 2].copy()
        for k, o in ((0, -2), (1, -1), (3, 1), (4, 2)):
            e += window[2 + o:n + 2 + o, k]
        return e

    def tag(self, words: list[str]) -> list[str]:
        """Best label sequence as IOB tags (Viterbi over the runs between tokens taken as O: exact with
        prune_margin None). A PAD in `words` separates two sequences and is always O."""
        labels, out, prev = self.labels, [], None
        for i in self.tag_ids(words).tolist():
            label = labels[i]
            if label == "O" or "-" in label:  # IO models: the first of a run begins a name
                out.append(label)
            else:
                out.append(("I-" if prev == label else "B-") + label)
            prev = label
        return out

    def tag_ids(self, words: list[str], pads: list[int] | None = None) -> np.ndarray:
        """Label ids of the best sequence; `pads`: positions of PAD words when the caller knows them."""
        n = len(words)
        best = np.full(n, self._o, dtype=np.int64)
        if n == 0:
            return best
        e = self.emissions(words)
        if pads is None:
            pads = [i for i, w in enumerate(words) if w == PAD]
        if pads:
            e[pads] = -1e4
            e[pads, self._o] = 1e4
        margin = e[:, self._o:self._o + 1] - e - self._margin
        margin[:, self._o] = 1.0
        uncertain = np.flatnonzero((margin <= 0).any(axis=1))
        if len(uncertain):
            # Runs of uncertain tokens, each bounded by certain-O tokens (or the sequence's ends).
            breaks = np.flatnonzero(np.diff(uncertain) > 1)
            starts = np.concatenate([uncertain[:1], uncertain[breaks + 1]])
            ends = np.concatenate([uncertain[breaks], uncertain[-1:]]) + 1
            self._viterbi_runs(e, starts, ends, best)
        return best

    def _viterbi_runs(self, e: np.ndarray, starts: np.ndarray, ends: np.ndarray, best: np.ndarray) -> None:
        """Viterbi over all runs at once, longest first, so the runs still going at step t are a prefix."""
        n, o, trans = len(e), self._o, self._trans
        order = np.argsort(starts - ends, kind="stable")  # longest first
        starts, ends = starts[order], ends[order]
        lengths = ends - starts
        width = int(lengths[0])
        active = np.searchsorted(-lengths, -np.arange(width), side="left")  # runs longer than t
        score = e[starts] + np.where((starts > 0)[:, None], trans[o][None, :], 0.0)
        back = np.empty((len(starts), width, len(self.labels)), dtype=np.int64)
        for t in range(1, width):
            k = int(active[t])
            cand = score[:k, :, None] + trans
            back[:k, t] = cand.argmax(axis=1)
            score[:k] = cand.max(axis=1) + e[starts[:k] + t]  # the value at the argmax
        score += np.where((ends < n)[:, None], trans[:, o][None, :], 0.0)
        current = score.argmax(axis=1)
        for t in range(width - 1, 0, -1):
            k = int(active[t])
            best[starts[:k] + t] = current[:k]
            current[:k] = back[np.arange(k), t, current[:k]]
        best[starts] = current

    def recognize(self, text: str, normalized: tuple[str, object] | None = None) -> list[Span]:
        """Names in a text, one sequence per line; offsets index the normalized text."""
        norm, _ = normalized or normalize_with_map(text)
        words, offsets, pads = line_tokens(norm)
        if not words:
            return []
        ids = self.tag_ids(words, pads)
        named = np.flatnonzero(ids != self._o).tolist()
        if not named:
            return []
        labels = self.labels
        tags = dict(zip(named, map(labels.__getitem__, ids[named].tolist()), strict=True))
        if not self._iob:  # IO model: a run of one label is one name
            for i in named:
                label = tags[i]
                tags[i] = ("I-" if i - 1 in tags and tags[i - 1][2:] == label else "B-") + label
        tidy(words, tags, self.gazetteer.words.get("PER", frozenset()))
        out: list[Span] = []
        run: list[int] = []
        kind = ""  # the run's entity type, set when a run starts
        for i in sorted(tags) + [-2]:
            tag = tags.get(i, "O")
            if run and (tag == "O" or tag.startswith("B-") or tag[2:] != kind or i != run[-1] + 1):
                start, end = offsets[run[0]][0], offsets[run[-1]][1]
                if _LATIN_WORD.search(norm, start, end) is None:
                    # trained on Arabic: Latin-script text gets no names from it (the dictionary covers it)
                    out.append(Span(kind, start, end, tuple(words[run[0]:run[-1] + 1])))  # a run is contiguous
                run = []
            if tag != "O":
                if not run:
                    kind = tag[2:]
                run.append(i)
        return out

    def save(self, path: Path, attributes: list[str]) -> None:
        gaz = {k: sorted(v) for k, v in self.gazetteer.words.items()}
        meta = {"labels": self.labels, "version": self.version, "gazetteer": gaz}
        np.savez_compressed(
            path, weights=self._weights.astype(np.float16), transitions=self._trans,
            attributes=np.frombuffer("\n".join(attributes).encode("utf-8"), dtype=np.uint8),
            meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8))

    @classmethod
    def load(cls, path: Path | None = None, prune_margin: float | None = PRUNE_MARGIN) -> Recognizer:
        path = Path(path or MODEL_PATH)
        with np.load(io.BytesIO(path.read_bytes())) as data:
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
            attributes = data["attributes"].tobytes().decode("utf-8").split("\n")
            weights, transitions = data["weights"].astype(np.float32), data["transitions"]
        gazetteer = Gazetteer({k: set(v) for k, v in meta["gazetteer"].items()})
        return cls(attributes, weights, transitions, meta["labels"], gazetteer, meta["version"], prune_margin)


@lru_cache(maxsize=1)
def _char_classes() -> np.ndarray:
    """Per Basic-Multilingual-Plane character: 1 if TOKEN's \\w matches it, 2 if its \\s does, else 0 (taken
    from the regex itself, so the array tokenizer splits exactly as TOKEN does)."""
    plane = "".join(map(chr, range(0x10000)))
    classes = np.zeros(0x10000, dtype=np.uint8)
    classes[[m.start() for m in re.finditer(r"\w", plane)]] = 1
    classes[[m.start() for m in re.finditer(r"\s", plane)]] = 2
    return classes


def line_tokens(norm: str) -> tuple[list[str], list[tuple[int, int]], list[int]]:
    """TOKEN's tokens of each line, a PAD pair between two lines that have tokens: (words, (start, end) of each
    word in norm, PAD positions). Found with array operations over the characters' classes; Python's regex
    engine spent ~0.1 us per character on \\w in Arabic text, more than the whole recognizer's arithmetic."""
    codes = code_points(norm)
    if codes.size and int(codes.max()) > 0xFFFF:  # outside the BMP (rare): the regex itself
        spans = [(m.start(), m.end()) for m in TOKEN.finditer(norm)]
        starts = np.array([a for a, _ in spans], dtype=np.int64)
        ends = np.array([b for _, b in spans], dtype=np.int64)
    else:
        classes = _char_classes()[codes]
        word = np.concatenate([[False], classes == 1, [False]])
        other = np.flatnonzero(classes == 0)
        edges = np.flatnonzero(word[1:] != word[:-1])  # word runs: [edges[0], edges[1]), [edges[2], edges[3]) ...
        starts = np.concatenate([edges[0::2], other])
        ends = np.concatenate([edges[1::2], other + 1])
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
    if not len(starts):
        return [], [], []
    line = np.searchsorted(np.flatnonzero(codes == 10), starts)  # line number of each token
    breaks = (np.flatnonzero(line[1:] != line[:-1]) + 1).tolist()
    starts_l, ends_l = starts.tolist(), ends.tolist()
    tokens = [norm[a:b] for a, b in zip(starts_l, ends_l, strict=False)]
    spans = list(zip(starts_l, ends_l, strict=False))
    if not breaks:
        return tokens, spans, []
    words: list[str] = []
    offsets: list[tuple[int, int]] = []
    pads: list[int] = []
    previous = 0
    for b in breaks + [len(tokens)]:
        if previous:
            pads += [len(words), len(words) + 1]
            words += [PAD, PAD]
            offsets += [(-1, -1), (-1, -1)]
        words += tokens[previous:b]
        offsets += spans[previous:b]
        previous = b
    return words, offsets, pads


def tidy(words: list[str], tags: dict[int, str], name_words: frozenset[str] | set[str] = frozenset()) -> None:
    """Three repairs of the CRF's person boundaries, on the named positions only (position -> tag): a person name
    right after another is one name split in two (صلاح الدين | احمد ناجي); but a word with the conjunction و
    that is no known name word (وليد is one) starts another name after one of two words or more (a list:
    رانيا فريد شوقي | ورجاء الجداوي); and a title word starting a person name is not part of it (للشيخ القرضاوي)."""
    for i in sorted(tags):
        if tags[i] == "B-PER" and tags.get(i - 1) in ("B-PER", "I-PER"):
            tags[i] = "I-PER"
    for i in sorted(tags):
        if (tags[i] == "I-PER" and tags.get(i - 2) in ("B-PER", "I-PER") and words[i].startswith("و")
                and len(words[i]) >= 4 and words[i] not in name_words):
            tags[i] = "B-PER"
    for i in sorted(tags):
        if tags[i] == "B-PER" and tags.get(i + 1) == "I-PER" and _bare(words[i]) in PERSON_TRIGGERS:
            del tags[i]
            tags[i + 1] = "B-PER"


@lru_cache(maxsize=1)
def shipped() -> Recognizer:
    """The model in the package, loaded once per process."""
    return Recognizer.load()
