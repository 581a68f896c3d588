"""The recognizer at run time: a linear-chain CRF's weights in numpy arrays, no training library needed.

Each distinct word is turned once into a (5 offsets x labels) block of scores (the sum of its attributes'
weights at each window offset) and cached; a text's emission scores are then gathers and adds over its word
ids, and Viterbi runs only between tokens whose best label is O whatever their neighbours (most of a text),
so a page costs a few array operations instead of a Python loop over feature dicts per token. recognize()
keeps it so to the end (tokens, word ids per whitespace chunk, the boundary repairs and the runs of names are
array operations too); recognize_many() does many texts for the calls of one. Hand-written because a CRF's
decoding with this pruning and these repairs, as numpy batches, is in no library.
"""

from __future__ import annotations

import io
import json
import re
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import NamedTuple, cast

import numpy as np

from streams.pipeline.arabic import code_points, normalize_with_map
from streams.pipeline.ner.features import OFFSETS, PAD, PERSON_TRIGGERS, TOKEN, Gazetteer, _bare, word_attributes

MODEL_PATH = Path(__file__).with_name("model") / "arner.npz"
TYPES = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "other"}
# A token of ASCII letters and digits with a letter (a Latin-script word), as a search over a span's text.
_LATIN_WORD = re.compile(r"(?<!\w)[0-9A-Za-z]*[A-Za-z][0-9A-Za-z]*(?!\w)")
_CACHE_WORDS = 200_000  # distinct words kept with their score blocks (about 180 bytes each)
_CACHE_CHUNKS = 400_000  # distinct whitespace-separated chunks kept with their tokens' word ids
# A Latin-script word token, the whole of it: _LATIN_WORD finds one in a span iff one of its tokens is one.
_LATIN_TOKEN = re.compile(r"[0-9A-Za-z]*[A-Za-z][0-9A-Za-z]*")
# Per-word flags for the span rules: Latin word; و-word that is no known name word (tidy's list split);
# person trigger word (tidy's title drop).
_LATIN, _WAW_NOT_NAME, _TRIGGER = 1, 2, 4
_new_tuple = tuple.__new__
_WALK_IN_PYTHON = 48  # runs of two tokens or more up to which decoding walks back in Python (an article has ~20)
# A token whose O score beats every other label's by this much is taken as O without asking its neighbours.
# The exact bound (the most the transitions could gain) is far larger and leaves ~99 % of a text undecided;
# with this margin 70 % of the development part's tokens are decided alone and 7 of its 18,909 tags change
# against exact Viterbi (benchmarks/ner.py prints the count).
PRUNE_MARGIN = 4.0


class Span(NamedTuple):
    """A recognized name: type (PER/ORG/LOC/MISC) and offsets into the normalized text, with its tokens. A named
    tuple (immutable, compared by value) because a frozen dataclass took ~1 us per span just to be built."""

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
        self._trans_to = np.ascontiguousarray(self._trans.T)  # [label, previous label]: Viterbi's steps
        self._o = labels.index("O")
        self._iob = all(lab == "O" or "-" in lab for lab in labels)
        self._name_words: set[str] | frozenset[str] = gazetteer.words.get("PER", frozenset())
        # Each label's entity type (an index into _kinds, -1 for O) and whether it begins a name (IOB models).
        self._kinds = sorted({lab.split("-")[-1] for lab in labels if lab != "O"})
        self._kind_of = np.array([-1 if lab == "O" else self._kinds.index(lab.split("-")[-1]) for lab in labels])
        self._begins = np.array([lab.startswith("B-") for lab in labels])
        self._per = self._kinds.index("PER") if "PER" in self._kinds else -2
        self._from_start = np.stack([np.zeros(len(labels), np.float32), transitions.astype(np.float32)[self._o]])
        self._to_end = np.stack([np.zeros(len(labels), np.float32), transitions.astype(np.float32)[:, self._o]])
        n = len(labels)
        # An O at t is optimal whatever its neighbours when its emission margin over y beats the most the
        # transitions into and out of t can gain by y instead of O (each term at least 0: a sequence's ends).
        t, o = self._trans, self._o
        self._swing = np.array([max(0.0, float((t[:, y] - t[:, o]).max())) + max(0.0, float((t[y, :] - t[o, :]).max()))
                                for y in range(n)], dtype=np.float32)
        self.prune_margin = prune_margin
        self._margin = self._swing if prune_margin is None else np.minimum(self._swing, np.float32(prune_margin))
        # The same bound with O's own entry at -1, so O's margin over itself is 1 (> 0: never uncertain).
        self._margin_o = self._margin.copy()
        self._margin_o[self._o] = -1.0
        self._reset_cache()

    def _reset_cache(self) -> None:
        self._ids: dict[str, int] = {}
        self._chunks: dict[str, bytes] = {}  # whitespace-separated chunk -> its tokens' word ids (intp bytes)
        self.resets = getattr(self, "resets", -1) + 1  # times the cache started over
        # (offset, word id, label): each offset's scores of the words one contiguous table, gathered by word id
        self._blocks = np.zeros((len(OFFSETS), 1024, len(self.labels)), dtype=np.float32)
        self._flags = np.zeros(1024, dtype=np.uint8)  # per word id: _LATIN, _WAW_NOT_NAME, _TRIGGER
        self._word_id(PAD)

    def _bound_cache(self) -> None:
        """Start the word cache over when full: before a sequence, never within it (which would void the ids
        got for its first words), so the cache may pass its bound by one text's new words."""
        if len(self._ids) >= _CACHE_WORDS:
            self._reset_cache()
        elif len(self._chunks) >= _CACHE_CHUNKS:
            self._chunks.clear()

    def _word_id(self, word: str) -> int:
        got = self._ids.get(word)
        if got is not None:
            return got
        i = len(self._ids)
        if i == self._blocks.shape[1]:
            self._blocks = np.concatenate([self._blocks, np.zeros_like(self._blocks)], axis=1)
            self._flags = np.concatenate([self._flags, np.zeros_like(self._flags)])
        self._flags[i] = ((_LATIN if _LATIN_TOKEN.fullmatch(word) else 0)
                          | (_WAW_NOT_NAME if word.startswith("و") and len(word) >= 4 and word not in self._name_words
                             else 0)
                          | (_TRIGGER if _bare(word) in PERSON_TRIGGERS else 0))
        own, ctx = word_attributes(word, self.gazetteer)
        row, w = self._row, self._weights
        for k, o in enumerate(OFFSETS):
            names = own if o == 0 else [f"{o}:{a}" for a in ctx]
            rows = [row[a] for a in names if a in row]
            if rows:
                self._blocks[k, i] = w[rows].sum(axis=0)
        self._ids[word] = i
        return i

    def emissions(self, words: list[str]) -> np.ndarray:
        """Scores (tokens x labels) of a sequence, gathered from the per-word blocks."""
        self._bound_cache()
        ids = list(map(self._ids.get, words))
        if None in ids:
            ids = [self._word_id(w) if i is None else i for w, i in zip(words, ids, strict=False)]
        return self._emissions_of(np.array([0, 0, *ids, 0, 0], dtype=np.intp), len(words))

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
        if not words:
            return np.full(0, self._o, dtype=np.intp)
        real = np.ones(len(words), dtype=bool)
        real[[i for i, w in enumerate(words) if w == PAD] if pads is None else pads] = False
        return self._decode(self.emissions(words), real)

    def recognize(self, text: str, normalized: tuple[str, object] | None = None) -> list[Span]:
        """Names in a text, one sequence per line; offsets index the normalized text."""
        norm, _ = normalized or normalize_with_map(text)
        return self._names(norm)[0]

    def recognize_many(self, texts: list[str],
                       normalized: list[tuple[str, object]] | None = None) -> list[list[Span]]:
        """recognize() of each text, in one set of array operations for all of them (their tokens joined as one
        sequence, a PAD pair between two texts as between two lines: the same names as text by text)."""
        norms = [n for n, _ in normalized] if normalized is not None else [normalize_with_map(t)[0] for t in texts]
        out: list[list[Span]] = [[] for _ in norms]
        bounds = np.cumsum([0] + [len(n) + 1 for n in norms])  # where each text starts in the joined one
        spans, which = self._names("\n".join(norms), bounds)
        for span, i in zip(spans, which, strict=True):
            out[i].append(span)
        return out

    def _names(self, norm: str, bounds: np.ndarray | None = None) -> tuple[list[Span], list[int]]:
        """recognize()'s names: tokens, emissions, decoding, tidy and the runs of named tokens as array
        operations over the whole text (some dozens of numpy calls, none per token). `bounds`: where each of
        several texts joined by newlines starts in norm (and where the last ends): each is its own sequence,
        the names' offsets index their own text, and the second list says whose each name is."""
        tokens = _token_bounds(norm)
        if tokens is None:
            return [], []
        token_starts, token_ends, pos = tokens
        size = int(pos[-1]) + 1  # tokens and the PAD pairs between lines
        padded = np.zeros(size + 4, dtype=np.intp)  # word ids, two PADs (id 0) before and after
        padded[pos + 2] = self._chunk_token_ids(norm, len(token_starts))
        e = self._emissions_of(padded, size)
        real = padded[2:size + 2] != 0  # a PAD is never a word's id (TOKEN splits "<s>")
        edges = None
        if bounds is not None:  # each text's first and last tokens are a sequence's ends, not a line's
            first = np.searchsorted(token_starts, bounds[:-1])
            last = np.searchsorted(token_starts, bounds[1:]) - 1
            has = first <= last
            edges = np.zeros(size, dtype=np.int8), np.zeros(size, dtype=np.int8)
            edges[0][pos[first[has]]] = 1
            edges[1][pos[last[has]]] = 1
        labels = self._decode(e, real, edges)
        npos = (labels != self._o).nonzero()[0]
        if not len(npos):
            return [], []
        nlabels = labels[npos]
        kind = self._kind_of[nlabels]
        # same[j]: the named token before j is its neighbour and of its type (tidy's and the runs' question)
        same = np.zeros(len(npos), dtype=bool)
        np.equal(npos[1:], npos[:-1] + 1, out=same[1:])
        same[1:] &= kind[1:] == kind[:-1]
        begins = self._begins[nlabels] if self._iob else ~same  # IO model: a run of one label is one name
        flags = self._flags[padded[npos + 2]]
        keep = self._tidy(npos, kind, begins, same, flags)
        if keep is not None:
            npos, kind, begins, flags = npos[keep], kind[keep], begins[keep], flags[keep]
            same = np.zeros(len(npos), dtype=bool)
            np.equal(npos[1:], npos[:-1] + 1, out=same[1:])
            same[1:] &= kind[1:] == kind[:-1]
        first = (begins | ~same).nonzero()[0]  # each run's first token
        token = npos if len(pos) == size else np.searchsorted(pos, npos)
        starts, ends = token_starts[token], token_ends[token]
        words = [norm[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        which: list[int] = []
        if bounds is not None:  # offsets into each name's own text
            text = np.searchsorted(bounds, starts, side="right") - 1
            starts, ends, which = starts - bounds[text], ends - bounds[text], text[first].tolist()
        starts, ends = starts.tolist(), ends.tolist()
        firsts = first.tolist()
        nexts = firsts[1:] + [len(words)]
        latin = (np.bitwise_or.reduceat(flags & _LATIN, first).tolist() if (flags & _LATIN).any()
                 else [0] * len(firsts))
        names = self._kinds
        # trained on Arabic: Latin-script text gets no names from it (the dictionary covers it)
        fields = [(names[k], starts[a], ends[b - 1], tuple(words[a:b]))
                  for a, b, k, is_latin in zip(firsts, nexts, kind[first].tolist(), latin, strict=True) if not is_latin]
        spans = list(map(_new_tuple, repeat(Span), fields))  # Span(*f) without its Python-level __new__
        if bounds is not None and any(latin):
            which = [i for i, is_latin in zip(which, latin, strict=True) if not is_latin]
        return spans, which

    def _tidy(self, npos: np.ndarray, kind: np.ndarray, begins: np.ndarray, same: np.ndarray,
              flags: np.ndarray) -> np.ndarray | None:
        """tidy() on the named tokens' arrays (positions, types, begins-a-name, `same`), `begins` in place;
        returns the mask of the tokens kept when the title rule dropped some, else None."""
        per = kind == self._per
        # A person name right after another is one name (the rules below see the tags as changed here).
        begins[same & per] = False
        if not (flags & (_WAW_NOT_NAME | _TRIGGER)).any():
            return None
        # The two other rules concern a few flagged words: walked in order, as tidy() walks the tags.
        positions, is_per, n = npos.tolist(), per.tolist(), len(npos)
        person_at = {p for p, q in zip(positions, is_per, strict=True) if q}
        for j in (flags & _WAW_NOT_NAME).nonzero()[0].tolist():
            # A و-word that is no known name word starts another name after one of two words or more.
            if is_per[j] and not begins[j] and positions[j] - 2 in person_at:
                begins[j] = True
        keep = None
        for j in (flags & _TRIGGER).nonzero()[0].tolist():
            # A title word starting a person name is not part of it; the next word then begins the name (and
            # may be a title itself: الرئيس الشيخ ...).
            while ((keep is None or keep[j]) and begins[j] and is_per[j] and flags[j] & _TRIGGER and j + 1 < n
                   and positions[j + 1] == positions[j] + 1 and is_per[j + 1] and not begins[j + 1]):
                if keep is None:
                    keep = np.ones(n, dtype=bool)
                keep[j] = False
                begins[j + 1] = True
                j += 1
        return keep

    def _chunk_token_ids(self, norm: str, count: int) -> np.ndarray:
        """The word id of each of the text's tokens: one dictionary lookup per whitespace-separated chunk (its
        tokens' ids cached together); a chunk seen for the first time is tokenized by TOKEN itself."""
        self._bound_cache()
        chunks = norm.split()  # str.isspace is TOKEN's \\s: tokens never cross a chunk's edge
        got = list(map(self._chunks.get, chunks))
        try:
            joined = b"".join(cast(list[bytes], got))  # one copy: the ids as bytes, no Python int per token
        except TypeError:  # a chunk seen for the first time (None)
            for i, chunk in enumerate(chunks):
                if got[i] is None:
                    ids = np.array([self._word_id(w) for w in TOKEN.findall(chunk)], dtype=np.intp)
                    self._chunks[chunk] = got[i] = ids.tobytes()
            joined = b"".join(cast(list[bytes], got))
        ids = np.frombuffer(joined, dtype=np.intp)
        if len(ids) != count:
            raise AssertionError(f"chunks gave {len(ids)} tokens, the character classes {count}")
        return ids

    def _emissions_of(self, padded: np.ndarray, size: int) -> np.ndarray:
        """emissions() from word ids already padded with two PADs at each end."""
        blocks = self._blocks  # a gather per offset, added in the same order as ever
        e = blocks[2].take(padded[2:size + 2], axis=0)
        e += blocks[0].take(padded[0:size], axis=0)
        e += blocks[1].take(padded[1:size + 1], axis=0)
        e += blocks[3].take(padded[3:size + 3], axis=0)
        e += blocks[4].take(padded[4:size + 4], axis=0)
        return e

    def _decode(self, e: np.ndarray, real: np.ndarray, edges: tuple[np.ndarray, np.ndarray] | None = None
                ) -> np.ndarray:
        """tag_ids() from emissions: O for the tokens taken as O (and the PADs: `real` False), Viterbi over each
        run of the others, all runs at once, longest first (the runs still going at step t are a prefix).
        `edges`: marks (1) of the positions that start and that end a sequence, when there are others than the
        first and the last (texts joined)."""
        o, trans, size = self._o, self._trans, len(e)
        best = np.full(size, o, dtype=np.intp)
        by_label = np.ascontiguousarray(e.T)  # (labels, tokens): the reductions over labels run along rows
        margin = by_label[o] - by_label
        margin -= self._margin_o[:, None]
        uncertain = np.zeros(size + 2, dtype=bool)
        np.logical_and(np.logical_or.reduce(margin <= 0, axis=0), real, out=uncertain[1:-1])
        bounds = (uncertain[1:] != uncertain[:-1]).nonzero()[0]  # run starts and ends, alternately
        if not len(bounds):
            return best
        starts, ends = bounds[0::2], bounds[1::2]
        # A run's first token follows an O (a certain one or a PAD) unless it starts a sequence; same at its end.
        if edges is None:
            score = e[starts] + trans[o]
            if starts[0] == 0:
                score[0] = e[0]
            sequence_end = int(ends[-1]) == size  # the last run ends the sequence
        else:
            score = e[starts] + self._from_start[1 - edges[0][starts]]
            sequence_end = False
        negative_lengths = starts - ends
        if int(negative_lengths.min()) == -1:  # all runs of one token: no step
            if sequence_end:
                last = score[-1].copy()
            score += trans[:, o] if edges is None else self._to_end[1 - edges[1][ends - 1]]
            if sequence_end:
                score[-1] = last
            best[starts] = score.argmax(axis=1)
            return best
        order = np.argsort(negative_lengths, kind="stable")  # longest first
        if sequence_end:
            last_run = int((order == len(order) - 1).nonzero()[0][0])
        starts, ends, score, negative_lengths = starts[order], ends[order], score[order], negative_lengths[order]
        width = -int(negative_lengths[0])
        active = negative_lengths.searchsorted(np.arange(0, -width, -1), side="left").tolist()  # runs longer than t
        longer = active[1]  # the runs of two tokens or more
        scores_at = e.take(starts[:longer, None] + np.arange(width), axis=0, mode="clip")  # (run, step, label)
        backs = []  # per step t >= 1: the best previous label of each (run still going, label)
        n = len(self.labels)
        # cand[run, label, previous label], previous labels along the contiguous last axis: the argmax there is
        # cheaper than across the middle one, and the best value is then one flat gather at the argmax (numpy's
        # max over the last axis with `out` cost more than both together).
        cand = np.empty((longer, n, n), dtype=np.float32)
        flat = cand.reshape(-1)
        row_starts = np.arange(0, longer * n * n, n)  # where each (run, label) row of cand starts in flat
        trans_to = self._trans_to
        for t in range(1, width):
            k = active[t]
            now = score[:k]
            np.add(now[:, None, :], trans_to, out=cand[:k])
            back = cand[:k].argmax(axis=2)
            backs.append(back)
            np.add(flat.take(row_starts[:k * n] + back.reshape(-1)).reshape(k, n), scores_at[:k, t], out=now)
        if sequence_end:
            last = score[last_run].copy()
        score += trans[:, o] if edges is None else self._to_end[1 - edges[1][ends - 1]]
        if sequence_end:
            score[last_run] = last
        current = score.argmax(axis=1)
        if longer > _WALK_IN_PYTHON:  # many runs (a long text, a batch): back through all of them per step
            runs = np.arange(longer)
            for t in range(width - 1, 0, -1):
                k = active[t]
                now = current[:k]
                best[starts[:k] + t] = now
                now[:] = backs[t - 1][runs[:k], now]
            best[starts] = current
            return best
        best[starts] = current  # the runs of one token; the others' first labels are set below
        # Back through the runs of two tokens or more in Python: for a few dozen tokens a numpy call per step
        # costs more.
        pointers = [b.tolist() for b in backs]  # pointers[t - 1][run][label at t] = label at t - 1
        positions: list[int] = []
        labels: list[int] = []
        lengths = (-negative_lengths[:longer]).tolist()
        for run, (first, length, label) in enumerate(zip(starts[:longer].tolist(), lengths,
                                                         current[:longer].tolist(), strict=True)):
            for t in range(length - 1, 0, -1):
                positions.append(first + t)
                labels.append(label)
                label = pointers[t - 1][run][label]
            positions.append(first)
            labels.append(label)
        best[positions] = labels
        return best

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
    for cls, runs in ((1, r"\w+"), (2, r"\s+")):  # filled by runs: a few hundred matches, not one per code point
        for run in re.finditer(runs, plane):
            classes[run.start():run.end()] = cls
    return classes


def _class_of(ch: str) -> int:
    """_char_classes()'s class of one character (those outside the Basic Multilingual Plane)."""
    return 1 if re.match(r"\w", ch) else 2 if re.match(r"\s", ch) else 0


def _token_bounds(norm: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """line_tokens() as arrays: each token's start and end in norm and its position in the token sequence
    with a PAD pair between two lines that have tokens; None when norm has no token."""
    codes = code_points(" " + norm + " ")  # a space at each end: every token has a neighbour on both sides
    try:
        classes = _char_classes()[codes]
    except IndexError:  # a character outside the BMP (rare): classified by the regex itself
        classes = _char_classes()[np.minimum(codes, 0xFFFF)]
        for i in np.flatnonzero(codes > 0xFFFF).tolist():
            classes[i] = _class_of(chr(codes[i]))
    other = classes[1:-1] == 0  # a character that is a token by itself
    word = classes == 1
    starts = (other | (word[1:-1] > word[:-2])).nonzero()[0]  # indexes into norm (codes has one more in front)
    if not len(starts):
        return None
    ends = (other | (word[1:-1] > word[2:])).nonzero()[0] + 1
    count = len(starts)
    if "\n" not in norm:
        return starts, ends, np.arange(count)
    lines = (codes == 10).nonzero()[0].searchsorted(starts, side="right")  # newlines before each token
    step = np.ones(count, dtype=np.intp)
    step[1:][lines[1:] != lines[:-1]] = 3  # a new line: two PADs before its first token
    step[0] = 0
    return starts, ends, np.cumsum(step)


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
