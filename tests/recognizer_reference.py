"""The recognizer as it was before its array fast path (main at e415bdb): the reference the fast path must equal,
name for name (tests/test_entities_speed.py)."""

from __future__ import annotations

import numpy as np

from streams.pipeline.arabic import normalize_with_map
from streams.pipeline.ner.features import OFFSETS, PAD, word_attributes
from streams.pipeline.ner.model import _LATIN_WORD, Recognizer, Span, line_tokens, tidy

_BLOCKS: dict[tuple[int, str], np.ndarray] = {}


def reference_block(recognizer: Recognizer, word: str) -> np.ndarray:
    """A word's (offset x label) scores straight from the weights, as the recognizer's cache computed them."""
    key = (id(recognizer), word)
    if key not in _BLOCKS:
        own, ctx = word_attributes(word, recognizer.gazetteer)
        block = np.zeros((len(OFFSETS), len(recognizer.labels)), dtype=np.float32)
        for k, o in enumerate(OFFSETS):
            names = own if o == 0 else [f"{o}:{a}" for a in ctx]
            rows = [recognizer._row[a] for a in names if a in recognizer._row]
            if rows:
                block[k] = recognizer._weights[rows].sum(axis=0)
        _BLOCKS[key] = block
    return _BLOCKS[key]


def reference_emissions(recognizer: Recognizer, words: list[str]) -> np.ndarray:
    n = len(words)
    window = np.stack([reference_block(recognizer, w) for w in [PAD, PAD, *words, PAD, PAD]])
    e = window[2:n + 2, 2].copy()
    for k, o in ((0, -2), (1, -1), (3, 1), (4, 2)):
        e += window[2 + o:n + 2 + o, k]
    return e


def reference_viterbi_runs(self: Recognizer, e, starts, ends, best) -> None:
    n, o, trans = len(e), self._o, self._trans
    order = np.argsort(starts - ends, kind="stable")
    starts, ends = starts[order], ends[order]
    lengths = ends - starts
    width = int(lengths[0])
    active = np.searchsorted(-lengths, -np.arange(width), side="left")
    score = e[starts] + np.where((starts > 0)[:, None], trans[o][None, :], 0.0)
    back = np.empty((len(starts), width, len(self.labels)), dtype=np.int64)
    for t in range(1, width):
        k = int(active[t])
        cand = score[:k, :, None] + trans
        arg = cand.argmax(axis=1)
        back[:k, t] = arg
        score[:k] = np.take_along_axis(cand, arg[:, None, :], axis=1)[:, 0, :] + e[starts[:k] + t]
    score += np.where((ends < n)[:, None], trans[:, o][None, :], 0.0)
    current = score.argmax(axis=1)
    for t in range(width - 1, 0, -1):
        k = int(active[t])
        best[starts[:k] + t] = current[:k]
        current[:k] = back[np.arange(k), t, current[:k]]
    best[starts] = current


def reference_tag_ids(self: Recognizer, words: list[str], pads: list[int] | None = None) -> np.ndarray:
    n = len(words)
    best = np.full(n, self._o, dtype=np.int64)
    if n == 0:
        return best
    e = reference_emissions(self, words)
    if pads is None:
        pads = [i for i, w in enumerate(words) if w == PAD]
    if pads:
        e[pads] = -1e4
        e[pads, self._o] = 1e4
    margin = e[:, self._o:self._o + 1] - e - self._margin
    margin[:, self._o] = 1.0
    uncertain = np.flatnonzero((margin <= 0).any(axis=1))
    if len(uncertain):
        breaks = np.flatnonzero(np.diff(uncertain) > 1)
        starts = np.concatenate([uncertain[:1], uncertain[breaks + 1]])
        ends = np.concatenate([uncertain[breaks], uncertain[-1:]]) + 1
        reference_viterbi_runs(self, e, starts, ends, best)
    return best


def reference_recognize(self: Recognizer, text: str, normalized=None) -> list[Span]:
    norm, _ = normalized or normalize_with_map(text)
    words, offsets, pads = line_tokens(norm)
    if not words:
        return []
    ids = reference_tag_ids(self, words, pads)
    named = np.flatnonzero(ids != self._o).tolist()
    if not named:
        return []
    labels = self.labels
    tags = dict(zip(named, map(labels.__getitem__, ids[named].tolist()), strict=True))
    if not self._iob:
        for i in named:
            label = tags[i]
            tags[i] = ("I-" if i - 1 in tags and tags[i - 1][2:] == label else "B-") + label
    tidy(words, tags, self.gazetteer.words.get("PER", frozenset()))
    out: list[Span] = []
    run: list[int] = []
    kind = ""
    for i in sorted(tags) + [-2]:
        tag = tags.get(i, "O")
        if run and (tag == "O" or tag.startswith("B-") or tag[2:] != kind or i != run[-1] + 1):
            start, end = offsets[run[0]][0], offsets[run[-1]][1]
            if _LATIN_WORD.search(norm, start, end) is None:
                out.append(Span(kind, start, end, tuple(words[run[0]:run[-1] + 1])))
            run = []
        if tag != "O":
            if not run:
                kind = tag[2:]
            run.append(i)
    return out
