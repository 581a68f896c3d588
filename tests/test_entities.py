import pytest

from streams.pipeline.dictionary import ActorDictionary, spelling_variants
from streams.pipeline.stages.entities import extract_mentions


def ids(text, dictionary):
    return [m.actor_id for m in extract_mentions(text, dictionary)]


@pytest.mark.parametrize("word", ["لافروف", "ولافروف", "للافروف", "بلافروف", "فلافروف", "كلافروف", "وبلافروف"])
def test_clitics_are_mentions_and_offsets_point_at_the_name(word, small_dictionary):
    text = f"قال {word} أمس"
    [mention] = extract_mentions(text, small_dictionary)
    assert mention.actor_id == "sergey-lavrov"
    assert mention.surface == "لافروف"
    assert text[mention.start:mention.end] == "لافروف"


@pytest.mark.parametrize("text", ["لافروفي", "الافروف", "سلافروف", "Lavrovsky"])
def test_not_a_mention_inside_another_word(text, small_dictionary):
    assert ids(text, small_dictionary) == []


@pytest.mark.parametrize("text", ["سيرغي لافروف", "سيرجي لافروف", "سيرجى لافروف", "سيرغي لافروفُ", "Sergey Lavrov", "Сергей Лавров"])
def test_spelling_variants_match_as_one_full_name(text, small_dictionary):
    [mention] = extract_mentions(f"وقال {text} اليوم", small_dictionary)
    assert mention.actor_id == "sergey-lavrov" and mention.surface == text


def test_generated_g_j_variants():
    assert spelling_variants("غوتيريش") == {"غوتيريش", "جوتيريش"}


def test_article_names_take_contracted_clitics(small_dictionary):
    text = "قدم للأمم المتحدة وبالأمم المتحدة والأمم المتحدة تقريرا"
    mentions = extract_mentions(text, small_dictionary)
    assert [m.actor_id for m in mentions] == ["united-nations"] * 3
    assert [m.surface for m in mentions] == ["للأمم المتحدة", "الأمم المتحدة", "الأمم المتحدة"]


def test_shared_surname_resolves_by_the_full_name_in_the_article(small_dictionary):
    assert ids("التقى بشار الأسد الوفد، وقال الأسد إن", small_dictionary) == ["bashar-al-assad"] * 2
    assert ids("عهد حافظ الأسد، ثم قال الأسد", small_dictionary) == ["hafez-al-assad"] * 2


def test_shared_surname_alone_stays_unresolved(small_dictionary):
    assert ids("وقال الأسد إن الحرب", small_dictionary) == []
    assert ids("بشار الأسد وحافظ الأسد، وقال الأسد", small_dictionary) == ["bashar-al-assad", "hafez-al-assad"]


def test_longest_alias_wins_and_diacritics_do_not_break_offsets(small_dictionary):
    text = "أعلن وزيرُ الخارجية سيرغي لافروفُ أن سوريةَ"
    mentions = extract_mentions(text, small_dictionary)
    assert [(m.actor_id, text[m.start:m.end]) for m in mentions] == [
        ("sergey-lavrov", "سيرغي لافروفُ"), ("syria", "سوريةَ")]


def test_english_is_case_insensitive_with_word_boundaries(small_dictionary):
    assert ids("LAVROV met the United Nations envoy in Syria.", small_dictionary) == [
        "sergey-lavrov", "united-nations", "syria"]


def test_generated_variants_cover_hamza_seats_latin_endings_and_foreign_long_vowels():
    assert spelling_variants("خامنئي") == {"خامنئي", "خامنءي", "خامنؤي"}
    assert spelling_variants("Sergey Lavrov") == {"Sergey Lavrov", "Sergei Lavrov"}
    assert "دي مستورا" in spelling_variants("دي ميستورا", vowels=True)
    assert "دي مستورا" not in spelling_variants("دي ميستورا")
    assert spelling_variants("محمود", vowels=True) == {"محمود"}  # too short to lose a letter: محمد is another name


@pytest.mark.parametrize("text, actor", [
    ("سيرجي لافروف", "sergey-lavrov"), ("جوتيريش", "antonio-guterres"), ("غوتيريش", "antonio-guterres"),
    ("دي مستورا", "staffan-de-mistura"), ("دي ميستورا", "staffan-de-mistura"), ("Sergei Lavrov", "sergey-lavrov"),
    ("خامنءي", "ali-khamenei"), ("بسكوف", "dmitry-peskov"),
])
def test_bundled_dictionary_matches_generated_spellings(text, actor, dictionary):
    assert ids(f"وقال {text} أمس", dictionary) == [actor]


VARIANTS_YAML = """
actors:
  - {id: suleiman-frangieh, name: Suleiman Frangieh, type: person, country: LB,
     aliases: {ar: ["سليمان فرنجية"]}}
  - {id: gutierrez, name: Gutierrez, type: person, country: ES, short: {ar: ["غوتيريس"]}}
  - {id: jutirres, name: Jutirres, type: person, country: ES, short: {ar: ["جوتيريس"]}}
"""


def test_arab_names_keep_their_long_vowels_and_listed_aliases_beat_generated_ones(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(VARIANTS_YAML, encoding="utf-8")
    d = ActorDictionary.load(path)
    assert ids("التقى سليمان فرنجية", d) == ["suleiman-frangieh"]
    assert ids("التقى سلمان فرنجية", d) == []
    assert ids("قال جوتيريس", d) == ["jutirres"]  # غوتيريس's generated twin does not make it ambiguous
    assert ids("قال غوتيريس", d) == ["gutierrez"]


GENERATIONS = """
version: "generations"
actors:
  - id: bashar-al-assad
    name: Bashar al-Assad
    type: person
    aliases: {ar: ["بشار الأسد"]}
    short: {ar: ["الأسد"]}
    roles: [{title: President of Syria, from: "2000-07-17", to: "2024-12-08"}]
  - id: hafez-al-assad
    name: Hafez al-Assad
    type: person
    aliases: {ar: ["حافظ الأسد"]}
    short: {ar: ["الأسد"]}
    roles: [{title: President of Syria, from: "1971-03-14", to: "2000-06-10"}]
"""


def test_the_son_and_the_father_resolve_a_shared_family_name_by_dated_offices(tmp_path, small_dictionary):
    path = tmp_path / "actors.yaml"
    path.write_text(GENERATIONS, encoding="utf-8")
    dated = ActorDictionary.load(path)
    both = "خلف بشار الأسد والده حافظ الأسد. "
    assert ids(both + "ورث الأسد الابن أجهزة أبيه", dated)[-1] == "bashar-al-assad"
    assert ids(both + "وقال الأسد الأب إن", dated)[-1] == "hafez-al-assad"
    assert ids("وقال الأسد الأب إن", dated) == ["hafez-al-assad"]  # no full name needed
    assert ids(both + "وقال الأسد إن", dated) == ["bashar-al-assad", "hafez-al-assad"]  # no epithet: unresolved
    # without dated offices the epithet cannot tell them apart
    assert ids(both + "ورث الأسد الابن", small_dictionary) == ["bashar-al-assad", "hafez-al-assad"]


# -- extract_entities' own rules, with a stub recognizer (pins from the mutation run: benchmarks/mutation.sh) ----------

ENTITY_ACTORS = """
version: "test-entities"
actors:
  - id: haider-al-abadi
    name: Haider al-Abadi
    type: person
    aliases: {ar: ["حيدر العبادي"]}
  - id: united-nations
    name: United Nations
    type: organization
    aliases: {ar: ["الأمم المتحدة"]}
"""


class StubRecognizer:
    """Tags the given names (normalized text) with the given kinds; the stage's linking rules are under test."""

    class gazetteer:  # noqa: N801  (the attribute the stage reads)
        words = {"PER": set(), "NN": {"اليوم"}}

    def __init__(self, *names: tuple[str, str]):
        self.names = names

    def recognize(self, text, normalized):
        from streams.pipeline.ner.model import Span

        norm = normalized[0]
        spans = []
        for kind, name in self.names:
            at = norm.find(name)
            if at >= 0:
                spans.append(Span(kind, at, at + len(name), tuple(name.split())))
        return spans


@pytest.fixture(scope="module")
def entity_actors(tmp_path_factory) -> ActorDictionary:
    path = tmp_path_factory.mktemp("entity-actors") / "actors.yaml"
    path.write_text(ENTITY_ACTORS, encoding="utf-8")
    return ActorDictionary.load(path)


def entities_of(text, dictionary, recognizer, candidates=()):
    from streams.pipeline.arabic import normalize_with_map
    from streams.pipeline.stages.entities import extract_entities

    normalized = normalize_with_map(text)
    mentions = extract_mentions(text, dictionary, normalized)
    return extract_entities(text, mentions, list(candidates), dictionary, recognizer, normalized)


def test_a_dictionary_persons_surname_later_alone_is_that_actor(entity_actors):
    text = ("التقى العبادي أمس وفدا.\nوقال حيدر العبادي إن الأمم المتحدة تأخرت.\n"
            "وأكد العبادي وبالعبادي أن المتحدة لم ترد.")
    found = entities_of(text, entity_actors, StubRecognizer())
    assert [(e.surface, e.type, e.actor_id) for e in found] == [
        ("حيدر العبادي", "person", "haider-al-abadi"), ("الأمم المتحدة", "organization", "united-nations"),
        ("العبادي", "person", "haider-al-abadi"), ("العبادي", "person", "haider-al-abadi")]
    assert len({e.key for e in found if e.type == "person"}) == 1
    assert all(text[e.start:e.end] == e.surface for e in found)
    assert found[2].start == text.index("وأكد العبادي") + len("وأكد ")
    assert found[3].start == text.index("وبالعبادي") + 2, "two clitic letters before the surname"


def test_recognized_names_are_typed_keyed_and_their_surnames_followed(entity_actors):
    text = "وقال جان مارك أيرولت في باريس إن حيدر العبادي وافق.\nوأضاف أيرولت أن باريس تدعم."
    recognizer = StubRecognizer(("PER", "جان مارك ايرولت"), ("LOC", "باريس"), ("PER", "حيدر العبادي"))
    found = entities_of(text, entity_actors, recognizer)
    got = [(e.surface, e.type, e.actor_id) for e in found]
    assert got == [("جان مارك أيرولت", "person", None), ("باريس", "location", None),
                   ("حيدر العبادي", "person", "haider-al-abadi"), ("أيرولت", "person", None)]
    assert found[0].key == found[3].key and found[0].key != found[2].key
    assert [e.start for e in found] == sorted(e.start for e in found)


def test_candidates_fill_only_what_is_uncovered(entity_actors):
    from schemas.records import Mention

    text = "وقال حيدر العبادي إن الوزير سامي داود سيزور بغداد."

    def candidate(surface: str) -> Mention:
        start = text.index(surface)
        return Mention(actor_id="cand", name=surface, type="person", surface=surface, start=start,
                       end=start + len(surface))

    found = entities_of(text, entity_actors, StubRecognizer(), [candidate("حيدر العبادي"), candidate("سامي داود")])
    assert [(e.surface, e.actor_id) for e in found] == [("حيدر العبادي", "haider-al-abadi"), ("سامي داود", None)]
    assert found[1].type == "person" and found[1].key and (found[1].start, found[1].end) == (
        text.index("سامي داود"), text.index("سامي داود") + len("سامي داود"))
    text = "وقال الوزير سامي داود إن حيدر العبادي وافق."  # a candidate before a name already taken
    found = entities_of(text, entity_actors, StubRecognizer(), [candidate("سامي داود")])
    assert [e.surface for e in found] == ["سامي داود", "حيدر العبادي"]
