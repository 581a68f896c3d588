"""The entities step's fast paths give exactly what the straightforward code gave: normalization, dictionary hits,
tokens, emission scores, Viterbi, the regex scans tried only where a match can start, and the MinHash signature
(stored in the warehouse: its values must never change within a scheme; the plain scheme is
tests/minhash_reference.py). Each reference below is the code as it was before
the fast path replaced it, run on the sample corpus, the labeled set, ANERcorp sentences (when ../shared/ner is
present) and edge cases (marks, non-BMP characters, lone surrogates, Latin, underscores, empty lines)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np
import pytest

import streams.pipeline.arabic as arabic
from schemas.records import Article
from streams.pipeline.dictionary import ActorDictionary, AliasEntry
from streams.pipeline.arabic import fingerprint_text, is_word_char, normalize, normalize_with_map, word_chars
from streams.ops.evaluation import labeled_articles
from streams.pipeline.ner.data import anercorp, data_dir
from streams.pipeline.ner.features import PAD, TOKEN
from streams.pipeline.ner.model import Recognizer, line_tokens, shipped
from streams.inputs.paths import iter_documents
from streams.pipeline.offline import raw_page
from streams.pipeline.stages import Rejected
from streams.pipeline.stages import candidates as candidates_stage
from streams.pipeline.stages import entities as entities_stage
from streams.pipeline.stages import stories
from streams.pipeline.stages.clean import CleanLimits
from streams.pipeline.steps import clean_step, entities_step
from tests.conftest import ROOT
from tests.minhash_reference import reference_signature

EDGE_CASES = [
    "", "x", "\n\n", "ال", "بوتين", "وبوتين قال.", "لافروف_الوزير بوتين",
    "Putin met Lavrov in Moscow.\n\nلافروف",
    "İstanbul بوتينُ " * 30, "الرئيس 🇸🇾 بشار الأسد 😀 قال\nوزير الخارجية سيرغي لافروف " * 12,
    "سيرغي لافروفُ وَلافروفَ \ud800 بوتين " * 20, "President Vladimir Putin and Secretary of State John Kerry " * 10,
    "وزير الخارجية الفرنسي جان مارك أيرولت قال إن أيرولت وبأيرولت\n\n\nنظيره الفلسطيني رياض المالكي " * 8,
    " ".join(c + w for c in ("", "و", "فب", "وبال", "فلل", "ولل", "وكال", "كبال", "وبالال")
             for w in ("العراق", "ضفة الغربية", "الضفة الغربية", "ضباط الأحرار", "عراق", "الأمم المتحدة", "روسيا", "سوريا", "لافروف", "الأسد")),
    "ـــ" + "فلاديمير بوتين،" * 40 + "\u200c\u0670",
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    limits = CleanLimits()
    out = list(EDGE_CASES)
    for doc in iter_documents([ROOT / "samples" / "corpus"], max_bytes=limits.max_page_bytes):
        try:
            out.append(clean_step(raw_page(doc), limits).text)
        except Rejected:
            pass
    out += [text for _, text, _ in labeled_articles()]
    directory = data_dir()
    if directory is not None:  # ANERcorp's development sentences, a dozen lines a text
        sentences = [" ".join(words) for words, _ in anercorp(directory)[1][:2400]]
        out += ["\n".join(sentences[i:i + 12]) for i in range(0, len(sentences), 12)]
    return out


# --- references: the code before the fast paths -------------------------------------------------------------

def reference_normalize_with_map(text: str) -> tuple[str, list[int]]:
    folded = arabic._CHANGED.sub(arabic._replace, text)
    lowered = folded.lower()
    if not arabic._OTHER_MARKS.search(folded) and len(lowered) == len(folded):
        drops = {m.start() for m in arabic._DROPPED.finditer(text)}
        return lowered, [i for i in range(len(text)) if i not in drops]
    out, index = [], []
    for i, ch in enumerate(text):
        if arabic._fold_char(ch):
            out.append(arabic._fold_char(ch))
            index.append(i)
    return "".join(out), index


def reference_hits(norm: str, dictionary: ActorDictionary) -> list[tuple[int, int, int, AliasEntry]]:
    hits = []
    for end_pos, entry in dictionary.automaton.iter(norm):
        start, end = end_pos - entry.length + 1, end_pos + 1
        if end < len(norm) and is_word_char(norm[end]):
            continue
        prefix_start = start
        while prefix_start > 0 and is_word_char(norm[prefix_start - 1]):
            prefix_start -= 1
        prefix = norm[prefix_start:start]
        if entry.needs_article:
            if prefix in entities_stage._ARTICLE_PREFIXES:
                hits.append((start - 2, start, end, entry))
        elif prefix in entities_stage._CLITICS:
            hits.append((start, start, end, entry))
    return hits


def reference_tokens(norm: str) -> tuple[list[str], list[tuple[int, int]], list[int]]:
    words, offsets, pads, pos = [], [], [], 0
    for line in norm.split("\n"):
        found = list(TOKEN.finditer(norm, pos, pos + len(line)))
        pos += len(line) + 1
        if not found:
            continue
        if words:
            pads += [len(words), len(words) + 1]
            words += [PAD, PAD]
            offsets += [(-1, -1), (-1, -1)]
        words += [m.group() for m in found]
        offsets += [m.span() for m in found]
    return words, offsets, pads


def reference_emissions(recognizer: Recognizer, words: list[str]) -> np.ndarray:
    ids = [recognizer._word_id(w) for w in words]
    padded = np.array([0, 0, *ids, 0, 0], dtype=np.int64)
    n, blocks = len(words), recognizer._blocks
    e = blocks[padded[2:n + 2], 2].copy()
    for k, o in ((0, -2), (1, -1), (3, 1), (4, 2)):
        e += blocks[padded[2 + o:n + 2 + o], k]
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


# --- the fast paths against them -----------------------------------------------------------------------------

def test_normalization_is_unchanged(texts):
    for text in texts:
        norm, index = normalize_with_map(text)
        assert (norm, list(index)) == reference_normalize_with_map(text)
        assert normalize(text) == norm
        assert word_chars(norm) == bytes(is_word_char(ch) for ch in norm)


def test_signatures_are_the_plain_scheme(texts):
    for text in texts:
        expected = reference_signature(text)
        assert stories.signature(text) == expected
        assert stories.signature(text, normalized=normalize(text)) == expected


def test_dictionary_hits_are_unchanged(texts, dictionary):
    """The hits accepted as words (behind allowed clitics) decide the mentions; the rest of the matcher is as it was."""
    for text in texts:
        norm, _ = normalize_with_map(text)
        assert entities_stage._accepted_hits(norm, dictionary) == reference_hits(norm, dictionary)


def test_tokens_emissions_and_tags_are_unchanged(texts, monkeypatch):
    recognizer = shipped()
    for text in texts:
        norm, _ = normalize_with_map(text)
        words, offsets, pads = line_tokens(norm)
        assert (words, offsets, pads) == reference_tokens(norm)
        if words:
            assert np.array_equal(recognizer.emissions(words), reference_emissions(recognizer, words))
    fast = [recognizer.recognize(text) for text in texts]
    monkeypatch.setattr(Recognizer, "_viterbi_runs", reference_viterbi_runs)
    assert [recognizer.recognize(text) for text in texts] == fast


def test_scans_tried_only_where_a_match_can_start(texts):
    for text in texts:
        norm, _ = normalize_with_map(text)
        assert ([m.span() for m in candidates_stage._english_titles(text)]
                == [m.span() for m in candidates_stage._EN_TITLES.finditer(text)])
        words = sorted(set(re.findall(r"\w{3,}", norm)))[:40]
        for after in (0, len(norm) // 3):
            for surname in words[:8]:
                pattern = re.compile(r"(?<!\w)(?:[وف]?[بلك]?)(" + re.escape(surname) + r")(?!\w)")
                assert (candidates_stage._surname_spans(norm, surname, after)
                        == [m.span(1) for m in pattern.finditer(norm, after)])
        if words:
            names = sorted(words[::3], key=len, reverse=True)
            pattern = re.compile(r"(?<!\w)(?:[وف]?[بلك]?)(" + "|".join(map(re.escape, names)) + r")(?!\w)")
            assert candidates_stage.name_spans(norm, names) == [m.span(1) for m in pattern.finditer(norm)]


def test_the_step_passes_its_normalization_on(dictionary, monkeypatch):
    """The step normalizes once and the signature is computed from that same normal form."""
    calls = []
    real = normalize_with_map

    def counting(text):
        calls.append(text)
        return real(text)

    monkeypatch.setattr("streams.pipeline.steps.normalize_with_map", counting)
    text = "قال وزير الخارجية الروسي سيرغي لافروف إن بوتين سيزور دمشق. " * 20
    article = Article(article_id="a1", source="t", url=None, canonical_url=None, site="example.org", title="t",
                      text=text, lang="ar", published_at=datetime(2016, 11, 22, tzinfo=timezone.utc),
                      published_source="metadata", fetched_at=None, charset="utf-8", fingerprint="f")
    out = entities_step(article, dictionary)
    assert calls == [text]
    assert out.minhash == reference_signature(text)
