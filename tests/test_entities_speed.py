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
from tests.linking_reference import reference_automaton
from streams.pipeline.arabic import fingerprint_text, is_word_char, normalize, normalize_with_map, word_chars
from streams.ops.evaluation import labeled_articles
from streams.pipeline.ner.data import anercorp, data_dir
from streams.pipeline.ner.features import PAD, TOKEN
from streams.pipeline.ner.model import Recognizer, _class_of, _token_bounds, line_tokens, shipped
from streams.pipeline.ner.model import _char_classes as model_char_classes
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
from tests.recognizer_reference import reference_emissions, reference_recognize, reference_tag_ids

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
            index.extend([i] * len(arabic._fold_char(ch)))  # a presentation-form ligature is several letters
    return "".join(out), index


def reference_hits(norm: str, dictionary: ActorDictionary) -> list[tuple[int, int, int, AliasEntry]]:
    hits = []
    for end_pos, entry in reference_automaton(dictionary).iter(norm):
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


def test_tokens_emissions_and_tags_are_unchanged(texts):
    recognizer = shipped()
    for text in texts:
        norm, _ = normalize_with_map(text)
        words, offsets, pads = line_tokens(norm)
        assert (words, offsets, pads) == reference_tokens(norm)
        bounds = _token_bounds(norm)  # the same tokens as arrays, PADs left as gaps in the positions
        assert (bounds is None) == (not words)
        if words:
            starts, ends, positions = bounds
            assert [offsets[i] for i in positions] == list(zip(starts.tolist(), ends.tolist(), strict=True))
            assert sorted(set(range(len(words))) - set(positions.tolist())) == pads
            assert np.array_equal(recognizer.emissions(words), reference_emissions(recognizer, words))
            assert np.array_equal(recognizer.tag_ids(words, pads), reference_tag_ids(recognizer, words, pads))
            assert np.array_equal(recognizer.tag_ids(words), reference_tag_ids(recognizer, words))


def test_recognized_names_are_unchanged_text_by_text_and_in_batches(texts):
    """recognize() (array tokens, chunk ids, dense decoding, tidy on arrays) and recognize_many() give the names the
    straightforward code gave, exact decoding too."""
    for recognizer in (shipped(), Recognizer.load(prune_margin=None)):
        expected = [reference_recognize(recognizer, text) for text in texts]
        assert sum(map(len, expected)) > 500  # the texts do name people, places and bodies
        assert [recognizer.recognize(text) for text in texts] == expected
        assert [recognizer.recognize(text, normalize_with_map(text)) for text in texts] == expected
        assert recognizer.recognize_many(texts) == expected
        assert recognizer.recognize_many(texts, [normalize_with_map(t) for t in texts]) == expected
        for size in (1, 2, 7):  # batches cut anywhere: a text's edges are a sequence's, wherever it sits
            batches = [recognizer.recognize_many(texts[i:i + size]) for i in range(0, len(texts), size)]
            assert [names for batch in batches for names in batch] == expected
    assert shipped().recognize_many([]) == []
    assert shipped().recognize_many(["", "\n", "Putin"]) == [[], [], []]


@pytest.mark.parametrize("walk_in_python", [0, 10**9])
def test_both_ways_back_through_the_runs_give_the_same_names(texts, monkeypatch, walk_in_python):
    """Decoding walks back in Python for an article's few runs and per step in numpy for many: the same labels."""
    import streams.pipeline.ner.model as model

    monkeypatch.setattr(model, "_WALK_IN_PYTHON", walk_in_python)
    recognizer = shipped()
    some = texts[:60]
    assert [recognizer.recognize(text) for text in some] == [reference_recognize(recognizer, t) for t in some]
    assert recognizer.recognize_many(some[:20]) == [reference_recognize(recognizer, t) for t in some[:20]]


def test_the_word_cache_starts_over_between_texts_and_changes_no_name(texts, monkeypatch):
    """A full cache starts over before a text, never within one (that would void the ids of its first words); a text
    with more new words than the whole cache holds still gets them all."""
    import streams.pipeline.ner.model as model

    recognizer = Recognizer.load()
    some = texts[:30]
    expected = [reference_recognize(recognizer, text) for text in some]
    monkeypatch.setattr(model, "_CACHE_WORDS", 150)
    monkeypatch.setattr(model, "_CACHE_CHUNKS", 60)
    assert max(len(set(text.split())) for text in some) > 150
    for _ in range(2):
        assert [recognizer.recognize(text) for text in some] == expected
        assert recognizer.recognize_many(some) == expected
    assert recognizer.resets > 10
    words = "قال الرئيس الروسي فلاديمير بوتين إن".split()
    assert np.array_equal(recognizer.emissions(words), reference_emissions(recognizer, words))


def test_the_character_classes_agree_with_str_split():
    """The chunks (str.split) and the array tokenizer (TOKEN's \\s) cut at the same characters."""
    classes = model_char_classes()
    space = np.array([chr(c).isspace() for c in range(0x10000)])
    assert np.array_equal(classes == 2, space)
    for ch in ("\U0001F600", "\U00020000", "\U0001D7D8"):  # outside the BMP: an emoji, a CJK letter, a digit
        assert _class_of(ch) == (1 if TOKEN.match(ch) and TOKEN.match(ch).group().isalnum() else 0)
    assert [len(words) for words, _, _ in map(line_tokens, ["a\U0001F600b", "\U00020000\U00020001 x"])] == [3, 2]


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
