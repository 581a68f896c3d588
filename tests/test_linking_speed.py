"""The entities step's matching, title candidates and linking give exactly what they gave before their fast paths
(tests/linking_reference.py holds that code): the offsets as an array, names found without a regex compiled per
article, mentions and entities validated as one list, per-article memos of keys and name words. Run on the sample
corpus, the labeled set, ANERcorp's development sentences (when ../shared/ner is present) and edge cases."""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
from array import array

import numpy as np
import pytest
from pydantic import ValidationError

import tests.linking_reference as reference
from schemas.records import Entity, Mention
from streams.pipeline.dictionary import AliasKeys
from streams.pipeline.arabic import normalize_with_map
from streams.pipeline.ner.model import Span, shipped
from streams.pipeline.offsets import original_index
from streams.pipeline.stages import candidates as candidates_stage
from streams.pipeline.stages import entities as entities_stage
from tests.test_entities_speed import texts  # noqa: F401  (the shared fixture)

# Names with clitic letters inside and around them, repeated, at the text's edges, next to digits and underscores.
NAME_CASES = [
    "لافروف", "ولافروف وبلافروف فبلافروف كلافروف ـلافروف لافروف_ لافروف1 1لافروف", "ولافروف", "فوزي وفوزي ففوزي",
    "بلال وبلال لبلال كمال لكمال ولكمال", "سيرغي لافروف وسيرغي لافروفف سيرغي لافروف", "وو لافروف", "ب", "",
    "عبد الله وعبد الله بعبد الله عبد اللهي", "لل لافروف للافروف", "ولي ولي العهد وولي العهد",
]


# Title words inside Latin words, after letters of other scripts and digits, overlapping titles.
TITLE_CASES = [
    "XPresident Obama", "éPresident Putin", "1President Putin", "_President Putin", "بPresident Putin",
    "President Prime Minister Theresa May", "envoyPresident Putin envoy Staffan de Mistura", "Prime Minister",
    "Foreign Minister Sergey Lavrov and Defence Minister Sergei Shoigu, Defense Minister Ash Carter",
    "Secretary-General Ban Ki-moon, Secretary General Guterres, Secretary of State John Kerry",
    "counterpart\tJohn Kerry; spokeswoman Maria Zakharova; spokesmanX Y; KingKing Salman; Crown Prince Mohammed",
    "President", "President ", "الرئيس President  Emmanuel Macron\nPresident\tBashar al-Assad", "Ministers Minister X",
]


def test_english_titles_are_what_the_regex_found(texts):  # noqa: F811
    for text in [*texts, *TITLE_CASES, " ".join(TITLE_CASES), "قال Ｐresident بوتين"]:
        expected = [m.span() for m in candidates_stage._EN_TITLES.finditer(text)]
        for norm in (None, normalize_with_map(text)[0]):  # the Latin-letter test on the text or its one-byte form
            assert [m.span() for m in candidates_stage._english_titles(text, norm)] == expected, text[:80]
            assert candidates_stage._english_candidates(text, norm) == reference._english_candidates(text)


def _names_in(norm: str) -> list[list[str]]:
    words = sorted(set(re.findall(r"\w{2,}", norm)))
    pairs = [f"{a} {b}" for a, b in zip(norm.split(), norm.split()[1:], strict=False)][:6]
    return [words[:8], words[::5][:12], pairs, words[:3] + pairs[:3], [w[1:] for w in words[:6] if len(w) > 2],
            ["لافروف", "سيرغي لافروف", "فوزي", "وزي", "بلال", "لال", "كمال", "ولي", "ولي العهد", "عبد الله"]]


def test_name_spans_are_what_the_regex_found(texts):  # noqa: F811
    for text in [*texts, *NAME_CASES]:
        norm, _ = normalize_with_map(text)
        for names in _names_in(norm):
            names = [n for n in names if n]
            if not names:
                continue
            alternatives = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
            pattern = re.compile(r"(?<!\w)(?:[وف]?[بلك]?)(" + alternatives + r")(?!\w)")
            for after in (0, 1, len(norm) // 2):
                assert (candidates_stage.name_spans(norm, names, after)
                        == [m.span(1) for m in pattern.finditer(norm, after)]), (text[:80], names, after)


def test_name_spans_are_what_the_regex_found_behind_any_clitics():
    """Every short text over clitic letters, a name's letters and a space: where a match may begin (a name's start,
    the one or two clitic letters before it) is decided without the regex, so each such place is tried here."""
    names = ["لا", "ال", "بل", "ف", "وب"]
    alternatives = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
    pattern = re.compile(r"(?<!\w)(?:[وف]?[بلك]?)(" + alternatives + r")(?!\w)")
    for size in range(1, 6):
        for letters in itertools.product("وفبلا ", repeat=size):
            norm = "".join(letters)
            for after in range(size + 1):
                assert (candidates_stage.name_spans(norm, names, after)
                        == [m.span(1) for m in pattern.finditer(norm, after)]), (norm, after)


def test_original_index_has_the_maps_values(texts):  # noqa: F811
    for text in [*texts, *NAME_CASES, "ـ" * 3, "\u064b", "a\u064bb\u0670c", "\U0001f600ب\u064b"]:
        _, index = normalize_with_map(text)
        fast = original_index(text, index)
        assert list(fast) == list(index)
        assert original_index(text, fast) is fast  # converted once, passed on as it is
    _, index = normalize_with_map("قالَ لافروفُ " * 30)
    assert isinstance(original_index("قالَ لافروفُ " * 30, index), array)  # marks dropped: an array, not the map


def test_mentions_candidates_and_entities_are_unchanged(texts, dictionary):  # noqa: F811
    recognizer = shipped()
    for text in texts:
        normalized = normalize_with_map(text)
        mentions = entities_stage.extract_mentions(text, dictionary, normalized)
        assert mentions == reference.extract_mentions(text, dictionary, normalized)
        assert all(type(m) is Mention for m in mentions)
        candidates = candidates_stage.find_candidates(text, mentions, normalized)
        assert candidates == reference.find_candidates(text, mentions, normalized)
        entities = entities_stage.extract_entities(text, mentions, candidates, dictionary, recognizer, normalized)
        assert entities == reference.extract_entities(text, mentions, candidates, dictionary, recognizer, normalized)
        assert all(type(e) is Entity for e in entities)
        fast = (normalized[0], original_index(text, normalized[1]))  # as the step passes them on
        assert entities_stage.extract_mentions(text, dictionary, fast) == mentions
        assert candidates_stage.find_candidates(text, mentions, fast) == candidates
        assert entities_stage.extract_entities(text, mentions, candidates, dictionary, recognizer, fast) == entities


def test_entities_from_mentions_in_any_order_are_unchanged(dictionary):
    """extract_entities takes any mentions (not only extract_mentions' sorted, disjoint ones): overlaps are then
    found by a scan, as before."""
    text = "قال وزير الخارجية الروسي سيرغي لافروف إن الرئيس بشار الأسد التقى لافروف في دمشق. " * 3
    mentions = entities_stage.extract_mentions(text, dictionary)
    shuffled = mentions[::-1] + mentions[:2]
    recognizer = shipped()
    assert (entities_stage.extract_entities(text, shuffled, [], dictionary, recognizer)
            == reference.extract_entities(text, shuffled, [], dictionary, recognizer))


# Persons with titles, family links (بن، آل) inside and at their end, marks after a repeated surname, a name the
# recognizer tags exactly over a dictionary mention and one it widens: the cached per-name paths of extract_entities.
LINKING_CASES = [
    "استقبل صاحب السمو الشيخ محمد بن راشد آل مكتوم الوفد. وقال محمد بن راشد إن مكتوم بن",
    "قال وزير الخارجية الروسي سيرغي لافروفُ إن لافروفَ التقى الرئيس بشار الأسدِ ثم لافروف والأسد بن",
    "التقى الرئيس فلاديمير بوتين بن والشيخ تميم بن حمد آل ثاني ثم قال بوتينُ وتميم بن حمد آل",
    "الرئيس الرئيس عبد الفتاح السيسي بن آل، السيسي السيسيّ، وأحمد بن علي بن",
]


def test_entities_of_titles_family_links_and_marks_are_unchanged(dictionary):
    """Titles dropped, بن/آل words at a name's end, surnames found again behind marks and the recognizer's names
    exactly over mentions give what the reference gives, for the dictionary's mentions and the recognizer's own."""
    recognizer = shipped()
    for text in LINKING_CASES + [" ".join(LINKING_CASES)]:
        normalized = normalize_with_map(text)
        mentions = entities_stage.extract_mentions(text, dictionary, normalized)
        for given in (mentions, []):
            assert (entities_stage.extract_entities(text, given, [], dictionary, recognizer, normalized)
                    == reference.extract_entities(text, given, [], dictionary, recognizer, normalized)), text


def test_a_mention_that_does_not_validate_is_still_refused(dictionary, monkeypatch):
    """Mentions are built unchecked (records.unchecked); a bad actor type (which the dictionary refuses at load:
    here forced into a loaded one) is still refused where the record is decoded, as the next hop decodes it."""
    actor = next(iter(dictionary.actors.values()))
    bad = dict(dictionary.actors)
    bad[actor.actor_id] = type(actor)(actor.actor_id, actor.name, "planet", aliases=actor.aliases)  # type: ignore[arg-type]
    monkeypatch.setattr(dictionary, "actors", bad)
    alias = (actor.aliases.get("ar") or actor.aliases.get("en") or [actor.name])[0]
    mentions = entities_stage.extract_mentions(f"قال {alias} امس", dictionary)
    assert [m.type for m in mentions] == ["planet"]
    with pytest.raises(ValidationError, match="type"):
        Mention.model_validate_json(mentions[0].model_dump_json())


def test_entities_from_spans_given_are_those_from_the_recognizer_asked(texts, dictionary, monkeypatch):  # noqa: F811
    """extract_entities(spans=...) with recognize_many's names of a batch gives what it gives asking recognize()
    itself, and then does not ask it (the batch caller has the names already)."""
    recognizer = shipped()
    normalized = [normalize_with_map(t) for t in texts]
    batch = recognizer.recognize_many(list(texts), normalized)
    expected = []
    for text, norm in zip(texts, normalized, strict=True):
        mentions = entities_stage.extract_mentions(text, dictionary, norm)
        candidates = candidates_stage.find_candidates(text, mentions, norm)
        expected.append((mentions, candidates,
                         entities_stage.extract_entities(text, mentions, candidates, dictionary, recognizer, norm)))

    def refuse(*args, **kwargs):
        raise AssertionError("recognize() asked although the spans were given")

    monkeypatch.setattr(recognizer, "recognize", refuse)
    for text, norm, spans, (mentions, candidates, entities) in zip(texts, normalized, batch, expected, strict=True):
        assert entities_stage.extract_entities(text, mentions, candidates, dictionary, recognizer, norm,
                                               spans=spans) == entities
    text = "قال وزير الخارجية الروسي سيرغي لافروف إن الرئيس بشار الأسد التقى لافروف في دمشق."
    assert entities_stage.extract_entities(text, [], [], dictionary, recognizer, spans=[]) == []  # none given: none


def _with_spans(monkeypatch, recognizer, spans):
    """The recognizer answering `spans` for any text: the reference asks it, the stage is given them."""
    monkeypatch.setattr(recognizer, "recognize", lambda text, normalized=None: list(spans))


def test_a_name_seen_before_links_as_each_article_says(dictionary, monkeypatch):
    """What is kept per name across articles is only what does not depend on the article: a short form (لافروف)
    links to its actor only in an article that names the actor, whatever an earlier article linked it to."""
    recognizer = shipped()
    text = "قال سيرغي لافروف امس ثم قال لافروف"
    norm, _ = normalize_with_map(text)
    at = norm.rindex("لافروف")
    spans = [Span("PER", at, at + len("لافروف"), ("لافروف",))]
    full = [m for m in entities_stage.extract_mentions(text, dictionary) if m.start == text.index("سيرغي")]
    assert [m.actor_id for m in full] == ["sergey-lavrov"]
    answers = []
    for mentions in (full, [], full, []):
        got = entities_stage.extract_entities(text, mentions, [], dictionary, recognizer, spans=spans)
        _with_spans(monkeypatch, recognizer, spans)
        assert got == reference.extract_entities(text, mentions, [], dictionary, recognizer)
        monkeypatch.undo()
        answers.append([e.actor_id for e in got if e.start == text.rindex("لافروف")])
    assert answers == [["sergey-lavrov"], [None], ["sergey-lavrov"], [None]]


def test_another_dictionary_is_not_answered_from_the_last_ones_names(dictionary, monkeypatch):
    """A reloaded dictionary (another object, other alias keys) links by its own aliases, not by what was kept
    for the one before."""
    recognizer = shipped()
    text = "قال سيرغي لافروف امس"
    norm, _ = normalize_with_map(text)
    start = norm.index("سيرغي")
    spans = [Span("PER", start, start + len("سيرغي لافروف"), ("سيرغي", "لافروف"))]
    without = AliasKeys({key: entry for key, entry in dictionary.alias_keys.items()
                         if "sergey-lavrov" not in entry.actor_ids})
    other = dataclasses.replace(dictionary, alias_keys=without)
    actors = []
    for d in (dictionary, other, dictionary):
        got = entities_stage.extract_entities(text, [], [], d, recognizer, spans=spans)
        _with_spans(monkeypatch, recognizer, spans)
        assert got == reference.extract_entities(text, [], [], d, recognizer)
        monkeypatch.undo()
        actors.append([e.actor_id for e in got])
    assert actors == [["sergey-lavrov"], [None], ["sergey-lavrov"]]


def test_entities_of_reshuffled_articles_are_unchanged(texts, dictionary):  # noqa: F811
    """Fuzzed: articles made of the corpus's and ANERcorp's lines in random orders, so the same names come back in
    other articles with other neighbours and other dictionary mentions; each twice (the kept names then warm)."""
    rng = random.Random(15)
    lines = [line for text in texts for line in text.split("\n") if line.strip()]
    recognizer = shipped()
    for _ in range(40):
        text = "\n".join(rng.sample(lines, min(len(lines), rng.randint(1, 14))))
        normalized = normalize_with_map(text)
        mentions = entities_stage.extract_mentions(text, dictionary, normalized)
        if rng.random() < 0.3:  # some mentions left out: other actors named, other short forms resolved
            mentions = [m for m in mentions if rng.random() < 0.5]
        candidates = candidates_stage.find_candidates(text, mentions, normalized)
        expected = reference.extract_entities(text, mentions, candidates, dictionary, recognizer, normalized)
        for _ in range(2):
            assert entities_stage.extract_entities(text, mentions, candidates, dictionary, recognizer,
                                                   normalized) == expected, text[:200]


def test_entity_rows_become_the_models_validation_gives():
    """Rows with offsets from an index of Python ints are built unchecked and equal the validated models (their
    JSON too); offsets from a caller's numpy index are validated into ints, as before."""
    row = {"type": "person", "surface": "لافروف", "start": 3, "end": 9, "key": "لافروف", "actor_id": None}
    validated = [Entity(**row)]
    for index in ([0, 1], range(2), array("q", [0, 1])):
        built = entities_stage._models(entities_stage._ENTITIES, Entity, [dict(row)], index)
        assert built == validated
        assert [e.model_dump_json() for e in built] == [e.model_dump_json() for e in validated]
    numpy_row = {**row, "start": np.int64(3), "end": np.int32(9)}
    built = entities_stage._models(entities_stage._ENTITIES, Entity, [numpy_row], np.arange(20))
    assert built == validated and all(type(e.start) is int and type(e.end) is int for e in built)
    with pytest.raises(ValidationError, match="start"):
        entities_stage._models(entities_stage._ENTITIES, Entity, [{**row, "start": "three"}], np.arange(20))


def test_the_kept_names_start_over_when_full_and_change_no_entity(texts, dictionary, monkeypatch):  # noqa: F811
    """Past _NAMES_KEPT names a table starts over (bounded memory on an endless stream); the entities stay the
    reference's."""
    monkeypatch.setattr(entities_stage, "_NAMES_KEPT", 3)
    monkeypatch.setattr(entities_stage, "_last_links", None)
    recognizer = shipped()
    for text in texts[:40]:
        normalized = normalize_with_map(text)
        mentions = entities_stage.extract_mentions(text, dictionary, normalized)
        candidates = candidates_stage.find_candidates(text, mentions, normalized)
        assert (entities_stage.extract_entities(text, mentions, candidates, dictionary, recognizer, normalized)
                == reference.extract_entities(text, mentions, candidates, dictionary, recognizer, normalized))
        links = entities_stage._last_links
        assert links is not None
        assert max(len(links._forms), len(links._tails), len(links._mentions)) <= 3
