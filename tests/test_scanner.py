"""PatternScanner (the dictionary's and the titles' pass) finds exactly what pyahocorasick finds, over texts that
encode in one byte a character and texts that do not (another script, an emoji, a lone surrogate)."""

from __future__ import annotations

import random

import ahocorasick
import pytest

from streams.pipeline import scanner as scanner_module
from streams.pipeline.scanner import PatternScanner

ALPHABET = list("ابتسلمنويىةءأ ") + list("abcé ") + ["ж", "😀", "\u200c", "\n"]


def reference(patterns: list[str], text: str) -> list[tuple[str, int, int]]:
    automaton = ahocorasick.Automaton()
    for p in patterns:
        automaton.add_word(p, p)
    automaton.make_automaton()
    return sorted((p, end + 1 - len(p), end + 1) for end, p in automaton.iter(text))


def found(scanner: PatternScanner[str], text: str) -> list[tuple[str, int, int]]:
    hits, values = scanner.hits(text)
    return sorted((values[k], s, e) for k, s, e in hits)


@pytest.mark.parametrize("dfa", [False, True])
def test_every_occurrence_as_pyahocorasick_finds_it(dfa):
    rng = random.Random(7)
    for _ in range(300):
        patterns = sorted({"".join(rng.choices(ALPHABET, k=rng.randint(1, 4))) for _ in range(rng.randint(1, 12))})
        scanner = PatternScanner(patterns, patterns, dfa=dfa)
        for _ in range(5):
            text = "".join(rng.choices(ALPHABET, k=rng.randint(0, 40)))
            assert found(scanner, text) == reference(patterns, text), (patterns, text)


def test_a_lone_surrogate_is_one_more_non_matching_character():
    scanner = PatternScanner(["لاف", "ab"], ["لاف", "ab"])
    text = "\ud800لاف ab\udfff"
    assert found(scanner, text) == sorted([("لاف", 1, 4), ("ab", 5, 7)])


def test_a_pattern_with_the_replacement_character_does_not_match_a_lone_surrogate():
    """The str scan reads a lone surrogate as U+FFFD; a pattern holding U+FFFD itself finds only real ones."""
    patterns = ["شركة \ufffd", "\ufffd", "شركة"]
    scanner = PatternScanner(patterns, patterns)
    assert found(scanner, "قالت شركة \ud800 اليوم") == [("شركة", 5, 9)]
    assert found(scanner, "قالت شركة \ufffd \ud800") == sorted(
        [("شركة", 5, 9), ("شركة \ufffd", 5, 11), ("\ufffd", 10, 11)])


def test_the_characters_kept_stay_bounded_with_threads(monkeypatch):
    """Threads encoding long texts at once keep at most _ENCODED_CHARS_KEPT characters."""
    import sys
    import threading

    monkeypatch.setattr(scanner_module, "_ENCODED", {})
    monkeypatch.setattr(scanner_module, "_encoded_chars", 0)
    monkeypatch.setattr(scanner_module, "_ENCODED_CHARS_KEPT", 50_000)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    peak = []

    def encode(n: int) -> None:
        for k in range(200):
            scanner_module.encoded(f"{n} {k} " + "ل" * 9_000)
            peak.append(sum(map(len, list(scanner_module._ENCODED))))

    try:
        threads = [threading.Thread(target=encode, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert max(peak) <= 50_000
    assert scanner_module._encoded_chars == sum(map(len, scanner_module._ENCODED))


def test_no_patterns_find_nothing():
    assert PatternScanner([], []).hits("لافروف")[0] == []
    with pytest.raises(ValueError):
        PatternScanner(["a"], [])


def test_the_kept_encodings_start_over_when_full(monkeypatch):
    """At most _ENCODED_KEPT texts and _ENCODED_CHARS_KEPT characters are kept (long texts do not pile up)."""
    monkeypatch.setattr(scanner_module, "_ENCODED", {})
    monkeypatch.setattr(scanner_module, "_encoded_chars", 0)
    for n in range(scanner_module._ENCODED_KEPT + 5):
        assert scanner_module.encoded(f"نص {n}") == f"نص {n}".encode(scanner_module.ENCODING)
    assert len(scanner_module._ENCODED) <= scanner_module._ENCODED_KEPT
    assert scanner_module.encoded("ж") is None
    monkeypatch.setattr(scanner_module, "_ENCODED_CHARS_KEPT", 1000)
    for n in range(20):
        long = f"{n} " + "ل" * 300
        assert scanner_module.encoded(long) == long.encode(scanner_module.ENCODING)
        assert sum(map(len, scanner_module._ENCODED)) <= 1000
    assert scanner_module.encoded("ب" * 2000) == ("ب" * 2000).encode(scanner_module.ENCODING)  # too long to keep
    assert "ب" * 2000 not in scanner_module._ENCODED
