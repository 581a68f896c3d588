"""The entities step's matching fast paths against their straightforward references on random texts: normalization
and its offsets, dictionary hits, mentions, title candidates and the MinHash signature. The texts are drawn from
the pieces that make the edge cases: dictionary keys behind clitics and articles, titles, vowel marks and tatweel,
letters that fold, Latin, digits, underscores, punctuation, line breaks, characters outside the BMP."""

from __future__ import annotations

import random

import pytest

import tests.linking_reference as reference
from streams.pipeline import arabic
from streams.pipeline.arabic import normalize, normalize_with_map
from streams.pipeline.offsets import original_index
from streams.pipeline.stages import candidates as candidates_stage
from streams.pipeline.stages import entities as entities_stage
from streams.pipeline.stages import stories
from tests.minhash_reference import reference_signature
from tests.test_entities_speed import reference_normalize_with_map  # the code before the one-table fold

CLITICS = ["", "", "", "و", "ف", "ب", "ل", "ك", "وب", "ال", "وال", "بال", "لل", "ولل", "فلل", "وبال", "كال", "ببال"]
TITLES = ["الرئيس", "وزير الخارجية", "للرئيس", "والمبعوث الأممي إلى سوريا", "نظيره الفلسطيني", "الملك", "ولي العهد",
          "President", "Foreign Minister", "الأمين العام"]
PIECES = ["لافروف", "سيرغي", "بوتين", "الأسد", "بشار", "عبد", "الله", "محمد", "بن", "راشد", "آل", "مكتوم", "قال",
          "إن", "في", "الأمم المتحدة", "روسيا", "سوريا", "ة", "ى", "أ", "إ", "ؤ", "ئ", "Putin", "Lavrov", "Macron",
          "Emmanuel", "jr.", "U.S.", "123", "٢٠١٦", "_", "-", ".", ",", "،", "(", ")", "'", '"', "«", "»", "K"]
MARKS = ["\u064e", "\u064f", "\u0651", "\u0640", "\u0670", "\u200c", "ـــ"]  # dropped by normalization
# Characters that send normalization another way: lowered to two (İ), by context (Σ), other marks, past the BMP.
SPECIAL = ["😀", "İ", "ΑΣ", "Σ", "ΟΔΥΣΣΕΥΣ", "\U00010400", "\u0301"]
SEPARATORS = [" ", " ", " ", " ", "", "  ", "\n", "\n\n", "\t", "\u00a0", ", ", ". "]


def random_texts(dictionary, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    keys = list(dictionary.alias_keys)
    texts = []
    for _ in range(count):
        parts = []
        pieces = PIECES + (MARKS if rng.random() < 0.6 else []) + (SPECIAL if rng.random() < 0.4 else [])
        for _ in range(rng.randrange(0, 120)):
            draw = rng.random()
            if draw < 0.35:
                word = rng.choice(CLITICS) + rng.choice(keys)
            elif draw < 0.45:
                word = rng.choice(TITLES)
            elif draw < 0.9:
                word = rng.choice(CLITICS) + rng.choice(pieces)
            else:
                word = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 4)))
            parts.append(word + rng.choice(SEPARATORS))
        texts.append("".join(parts))
    return texts


@pytest.fixture(scope="module")
def fuzzed(dictionary) -> list[str]:
    return random_texts(dictionary, 400, seed=15)


def test_the_texts_hold_what_the_fast_paths_branch_on(fuzzed, dictionary):
    """Else the comparisons below would pass on texts that never reach the branches."""
    assert sum(len(t) >= arabic._ARRAY_FROM for t in fuzzed) > 100
    assert sum(len(t) < arabic._ARRAY_FROM for t in fuzzed) > 20
    assert any("\u064e" in t for t in fuzzed) and any("😀" in t for t in fuzzed) and any("Σ" in t for t in fuzzed)
    long = [t for t in fuzzed if len(t) >= arabic._ARRAY_FROM]
    assert sum(any(ch in t for ch in "İΣ\u0301\U00010400") for t in long) > 20
    assert sum(not any(ch in t for ch in "İΣ\u0301\U00010400") for t in long) > 20  # the one-gather way
    assert sum(not any(ch in t for ch in arabic.MARKS) for t in long) > 5  # and nothing dropped
    assert sum(len(reference._accepted_hits(normalize(t), dictionary)) for t in fuzzed) > 2000
    assert sum(len(reference._arabic_candidates(normalize(t))) for t in fuzzed) > 100


def test_normalization_and_offsets_are_unchanged(fuzzed):
    for text in fuzzed:
        norm, index = normalize_with_map(text)
        expected_norm, expected_index = reference_normalize_with_map(text)
        assert norm == expected_norm
        assert list(index) == expected_index
        assert list(original_index(text, index)) == expected_index


def test_hits_mentions_and_candidates_are_unchanged(fuzzed, dictionary):
    for text in fuzzed:
        normalized = normalize_with_map(text)
        norm = normalized[0]
        assert entities_stage._accepted_hits(norm, dictionary) == reference._accepted_hits(norm, dictionary)
        lowered = text.lower()  # not normalized: vowel marks and tatweel (word characters) stand next to hits
        assert entities_stage._accepted_hits(lowered, dictionary) == reference._accepted_hits(lowered, dictionary)
        assert candidates_stage._arabic_candidates(norm) == reference._arabic_candidates(norm)
        mentions = entities_stage.extract_mentions(text, dictionary, normalized)
        assert mentions == reference.extract_mentions(text, dictionary, normalized)
        fast = (norm, original_index(text, normalized[1]))
        assert candidates_stage.find_candidates(text, mentions, fast) == reference.find_candidates(
            text, mentions, normalized)


def test_signatures_are_the_plain_scheme(fuzzed):
    for text in fuzzed[:150]:
        assert stories.signature(text, normalized=normalize(text)) == reference_signature(text)


def test_batched_signatures_are_each_texts_signature(fuzzed):
    """stories.signatures over batches cut anywhere (texts of no word, of fewer words than a shingle, past the BMP,
    other parameters) gives each text's signature()."""
    rng = random.Random(7)
    texts = [normalize(t) for t in fuzzed[:200]] + ["", "", "a", "a b", "a b c", "a b c d", "_", "  ", "😀 ok"]
    rng.shuffle(texts)
    for size in (2, 3, 17, 64, len(texts)):
        for at in range(0, len(texts), size):
            batch = texts[at:at + size]
            assert stories.signatures(batch) == [stories.signature(t, normalized=t) for t in batch]
    plane = [t for t in texts if "😀" not in t and "\U00010400" not in t][:40]
    assert len(plane) == 40  # the one-array way, not the text-by-text fallback a character past the BMP takes
    for num_perm, words in ((126, 1), (7, 3), (300, 5), (1, 2)):
        assert stories.signatures(plane, num_perm, words) == [
            stories.signature(t, num_perm, words, normalized=t) for t in plane]
    assert stories.signatures([]) == []
    with pytest.raises(ValueError):
        stories.signatures(["a", "b"], num_perm=0)


def test_the_lowered_fold_table_is_each_characters_fold_then_lower():
    """Built in bulk (map in C); here character by character: fold, then lower, special where that is not one
    character alone, where a combining mark stays, and for Σ (final sigma depends on the neighbours)."""
    table = arabic._lowered_fold_table()
    for code in range(0x10000):
        ch = chr(code)
        folded = arabic._REPLACE.get(ch, ch)
        if not folded:
            expected = arabic._DROPPED_CODE
        elif len(folded.lower()) != 1 or arabic._OTHER_MARKS.match(folded) or folded == "Σ":
            expected = arabic._SPECIAL_CODE
        else:
            expected = ord(folded.lower())
        assert table[code] == expected, hex(code)
