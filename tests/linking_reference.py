"""The entities stage's linking and matching as they were before the fast paths (main at e415bdb): the references
tests/test_linking_speed.py holds the fast code to, output for output. Kept verbatim but for the imports."""
# ruff: noqa: E501

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import ahocorasick

from schemas.records import ActorType, Entity, Mention
from streams.pipeline.arabic import is_mark, normalize, normalize_with_map, word_chars
from streams.pipeline.dictionary import ActorDictionary, AliasEntry, first_office
from streams.pipeline.ner.features import PERSON_TRIGGERS, _bare
from streams.pipeline.ner.linking import actor_key, bare_form, link_alias, name_key
from streams.pipeline.ner.model import Recognizer, Span
from streams.pipeline.stages.candidates import (
    _AR_FIXED_MODIFIERS,
    _AR_PARTICLES,
    _EN_NAME,
    _EN_NOT_NAMES,
    _EN_PARTICLES,
    _EN_TITLES,
    _TOKEN,
    CANDIDATE_PREFIX,
    _not_names,
    _strip_clitic,
    _title_ends,
    candidate_id,
)

# Proclitic strings allowed between a word start and a name: conjunction, then preposition.
_CLITICS = {c + p for c in ("", "و", "ف") for p in ("", "ب", "ل", "ك")}
_ARTICLE_PREFIXES = {c + "ال" for c in _CLITICS} | {c + "لل" for c in ("", "و", "ف")}
_LONGEST_PREFIX = max(map(len, _CLITICS | _ARTICLE_PREFIXES))


_AUTOMATA: dict[int, tuple[object, ahocorasick.Automaton]] = {}


def reference_automaton(dictionary: ActorDictionary) -> ahocorasick.Automaton:
    """The dictionary's alias keys in a pyahocorasick automaton (the matching pass before ahocorasick-rs), kept per
    alias-key set while that set lives."""
    keys = dictionary.alias_keys
    kept = _AUTOMATA.get(id(keys))
    if kept is None or kept[0] is not keys:
        automaton = ahocorasick.Automaton()
        for key, entry in keys.items():
            automaton.add_word(key, entry)
        automaton.make_automaton()
        kept = _AUTOMATA[id(keys)] = (keys, automaton)
    return kept[1]


def _accepted_hits(norm: str, dictionary: ActorDictionary) -> list[tuple[int, int, int, AliasEntry]]:
    """(start incl. article, alias start, end, entry) of the automaton's hits that stand as words in `norm`."""
    # is_word_char of norm[i] at bounds[i + 1], with a non-word byte at each end: boundaries tested by index.
    bounds = b"\0" + word_chars(norm) + b"\0"
    hits: list[tuple[int, int, int, AliasEntry]] = []  # (start in norm incl. article, alias start, end, entry)
    for end_pos, entry in reference_automaton(dictionary).iter(norm):
        end = end_pos + 1
        if bounds[end + 1]:  # the hit ends inside a word
            continue
        start = end - entry.length
        prefix_start = start
        while bounds[prefix_start]:  # back to the word's start, no further than the longest allowed prefix
            prefix_start -= 1
            if start - prefix_start > _LONGEST_PREFIX:
                break
        prefix = norm[prefix_start:start]
        if entry.needs_article:
            if prefix not in _ARTICLE_PREFIXES:
                continue
            span_start = start - 2  # the name includes its article (ال / لل)
        else:
            if prefix not in _CLITICS:
                continue
            span_start = start
        hits.append((span_start, start, end, entry))
    return hits


def extract_mentions(text: str, dictionary: ActorDictionary,
                     normalized: tuple[str, Sequence[int]] | None = None) -> list[Mention]:
    """`normalized`: normalize_with_map(text) when the caller already has it (discovery reuses it)."""
    if not dictionary.alias_keys:
        return []  # an empty dictionary: nothing to find
    norm, index = normalized or normalize_with_map(text)
    hits = _accepted_hits(norm, dictionary)

    # Leftmost-longest: a longer alias ("سيرغي لافروف") wins over the surname inside it.
    hits.sort(key=lambda h: (h[0], -(h[2] - h[0])))
    chosen: list[tuple[int, int, AliasEntry]] = []
    last_end = -1
    for span_start, _alias_start, end, entry in hits:
        if span_start >= last_end:
            chosen.append((span_start, end, entry))
            last_end = end

    # A shared short form (الأسد: Bashar or Hafez) resolves only if the article names exactly one of them in full.
    named_in_full = {e.actor_ids[0] for _, _, e in chosen if not e.short and len(e.actor_ids) == 1}
    mentions: list[Mention] = []
    for span_start, end, entry in chosen:
        ids = entry.actor_ids
        if len(ids) > 1:
            ids = tuple(i for i in ids if i in named_in_full)
            if len(ids) != 1:
                ids = _by_generation(norm, end, entry.actor_ids, dictionary)
            if len(ids) != 1:
                continue
        actor = dictionary.actors[ids[0]]
        o_start, o_end = index[span_start], index[end - 1] + 1
        while o_end < len(text) and is_mark(text[o_end]):  # a final vowel mark is part of the name
            o_end += 1
        mentions.append(
            Mention(actor_id=actor.actor_id, name=actor.name, type=actor.type,
                    surface=text[o_start:o_end], start=o_start, end=o_end)
        )
    return mentions


# "the son" / "the father" after a family name the press uses for two generations (الأسد الابن، بوش الأب).
_GENERATIONS = {"الابن": max, "الاب": min}
_NEXT_WORD = re.compile(r"\s+(\w+)")


def _by_generation(norm: str, end: int, ids: Sequence[str], dictionary: ActorDictionary) -> tuple[str, ...]:
    """The one actor a shared short form means when "the son" (the later first office) or "the father" (the
    earlier) follows it; () when no such word follows or the actors' dated offices do not tell them apart."""
    m = _NEXT_WORD.match(norm, end)
    pick = _GENERATIONS.get(m.group(1)) if m else None
    if pick is None:
        return ()
    starts = {i: first_office(dictionary.actors[i]) for i in ids}
    dated = [d for d in starts.values() if d is not None]
    if len(dated) != len(starts):
        return ()
    chosen = pick(dated)
    winners = tuple(i for i in ids if starts[i] == chosen)
    return winners if len(winners) == 1 else ()


# Named entities: the dictionary's mentions, the recognizer's names and the title-pattern candidates, linked.

# Last words of names that are ordinary words elsewhere (عبد الله، صلاح الدين، عبد الله الثاني): never taken
# alone as the name again.
_NOT_SURNAMES = frozenset({"الله", "الدين", "الرحمن", "الثاني", "الاول", "الثالث", "الرابع", "الكبير", "الصغير"})
_RECOGNIZER_TYPES: dict[str, ActorType] = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "other"}


def _original_span(text: str, index: Sequence[int], start: int, end: int) -> tuple[int, int]:
    o_start, o_end = index[start], index[end - 1] + 1
    while o_end < len(text) and is_mark(text[o_end]):
        o_end += 1
    return o_start, o_end


_TITLE_WORD = re.compile(r"\S+\s+(?=\S)")
# Honorifics that stand before a name but are no part of it, besides the recognizer's person trigger words.
_HONORIFICS = frozenset(normalize(w) for w in "سمو صاحب السمو الجلالة الفخامة فخامة جلالة معالي سعادة".split())
# A person name goes on over these (بن، بنت، آل after normalization): محمد بن راشد آل مكتوم.
_NAME_LINKS = frozenset({"بن", "بنت", "ابن", "ال"})
_NEXT_LINKED_WORD = re.compile(r"\s+(\S+)\s+(\w+)")
_LAST_WORD = re.compile(r"\s+(\S+)$")


def _after_titles(text: str, start: int, end: int) -> int:
    """Start of a person name without the title words it begins with (الشيخ محمد بن راشد -> محمد بن راشد):
    the dictionary lists some aliases with their title, the annotated news does not count it in the name."""
    while True:
        m = _TITLE_WORD.match(text, start, end)
        if not m:
            return start
        word = _bare(normalize(m.group().strip()))
        if word not in PERSON_TRIGGERS and word not in _HONORIFICS:
            return start
        start = m.end()


def _joined_family_names(text: str, items: list[tuple[int, int, Mention | Span]],
                         free) -> list[tuple[int, int, Mention | Span]]:
    """Items (sorted) with a person name continued over "بن X" / "آل X" that follows it: the next item when it
    is the continuation (the recognizer tagged آل مكتوم apart), else the untagged words themselves."""
    out: list[tuple[int, int, Mention | Span]] = []
    for s, e, item in items:
        if out and _is_person(item) and _is_person(out[-1][2]):
            ps, pe, previous = out[-1]
            gap, first = text[pe:s], text[s:e].split(maxsplit=1)[0]
            if not gap.strip() and gap and normalize(first) in _NAME_LINKS and not isinstance(item, Mention):
                out[-1] = (ps, e, _longer(previous, text[pe:e]))
                continue
        out.append((s, e, item))
    for n, (s, e, item) in enumerate(out):
        if not _is_person(item):
            continue
        limit = out[n + 1][0] if n + 1 < len(out) else len(text)
        while (m := _NEXT_LINKED_WORD.match(text, e)) and m.end() <= limit and normalize(m.group(1)) in _NAME_LINKS \
                and free(e, m.end()):
            item, e = _longer(item, text[e:m.end()]), m.end()
        while (last := _LAST_WORD.search(text, s, e)) and normalize(last.group(1)) in _NAME_LINKS:
            e = last.start()  # a name does not end with بن / آل
            if not isinstance(item, Mention):
                item = Span(item.kind, item.start, item.end, item.words[:-1])
        out[n] = (s, e, item)
    return out


def _longer(item: Mention | Span, more: str) -> Mention | Span:
    """A recognizer span with the words of `more` appended (a mention takes its words from the text)."""
    if isinstance(item, Mention):
        return item
    return Span(item.kind, item.start, item.end, (*item.words, *normalize(more).split()))


def _is_person(item: Mention | Span) -> bool:
    return item.type == "person" if isinstance(item, Mention) else item.kind == "PER"


def _matches(pattern: re.Pattern, norm: str, names: Iterable[str]) -> list[re.Match]:
    """pattern.finditer(norm) for a pattern whose matches hold one of `names` after at most two clitic letters:
    the same matches, but tried only where one can start (the regex engine spent most of its time trying every
    position behind the lookbehind)."""
    starts: set[int] = set()
    for name in names:
        at = norm.find(name)
        while at >= 0:
            starts.update(range(max(0, at - 2), at + 1))
            at = norm.find(name, at + 1)
    out: list[re.Match] = []
    end = 0
    for start in sorted(starts):
        if start >= end:
            m = pattern.match(norm, start)
            if m:
                out.append(m)
                end = m.end()
    return out


def extract_entities(text: str, mentions: Sequence[Mention], candidates: Sequence[Mention],
                     dictionary: ActorDictionary, recognizer: Recognizer,
                     normalized: tuple[str, Sequence[int]] | None = None) -> list[Entity]:
    """Every name in the text, in order. Dictionary mentions come first and keep their actor (precision);
    the recognizer adds the names they miss, linked to an actor when their bare form is an alias; a person's
    surname alone later in the text takes the full name's key and actor, and its later uses the recognizer
    did not tag are added; title-pattern candidates fill what is still uncovered."""
    norm, index = normalized or normalize_with_map(text)
    known = recognizer.gazetteer.words["PER"]
    not_names = _not_names()
    common = recognizer.gazetteer.words.get("NN", ())  # words almost never inside a name
    named = {m.actor_id for m in mentions}
    found: list[tuple[int, int, Entity]] = []
    occupied = bytearray(len(text) + 1)  # 1 where a name already stands: an overlap test is one C-level find

    def free(s: int, e: int) -> bool:
        return occupied.find(1, s, e) < 0

    def take(s: int, e: int) -> None:
        occupied[s:e] = b"\x01" * (e - s)

    for m in mentions:
        take(m.start, m.end)

    items: list[tuple[int, int, Mention | Span]] = [(m.start, m.end, m) for m in mentions]
    widened: dict[int, tuple[int, int]] = {}  # mention position -> its person name's span, grown by the recognizer
    for span in recognizer.recognize(text, (norm, index)):
        o_start, o_end = _original_span(text, index, span.start, span.end)
        if free(o_start, o_end):
            items.append((o_start, o_end, span))
        elif span.kind == "PER":  # over a dictionary person: the name may be longer (محمد بن راشد | آل مكتوم)
            over = [i for i, m in enumerate(mentions) if m.start < o_end and o_start < m.end]
            if len(over) == 1 and mentions[over[0]].type == "person":
                s, e = widened.get(over[0], (mentions[over[0]].start, mentions[over[0]].end))
                widened[over[0]] = (min(s, o_start), max(e, o_end))
    for i, m in enumerate(mentions):
        if m.type == "person":
            s, e = widened.get(i, (m.start, m.end))
            s = _after_titles(text, s, e)
            if (s, e) != (m.start, m.end):
                take(s, e)
                items[i] = (s, e, m)
    items = _joined_family_names(text, sorted(items, key=lambda x: x[0]), free)

    # surname or last words of a full name (bare) -> (key, actor_id, end of the full name in the original text)
    surnames: dict[str, tuple[str, str | None, int]] = {}
    actor_id: str | None
    for o_start, o_end, item in items:
        if isinstance(item, Mention):
            actor = dictionary.actors[item.actor_id]
            key, actor_id, kind = actor_key(actor), actor.actor_id, actor.type
            words = normalize(text[o_start:o_end]).split() if kind == "person" else ()
        else:
            words = list(item.words)
            kind = _RECOGNIZER_TYPES[item.kind]
            bare = bare_form(words, known)
            actor_id = link_alias(bare, dictionary, named)
            if actor_id is not None:
                key, kind = actor_key(dictionary.actors[actor_id]), dictionary.actors[actor_id].type
            elif kind == "person" and bare in surnames:
                key, actor_id, _ = surnames[bare]
            else:
                key = name_key(words, known, normalized=True)
        if kind == "person":  # its surname, or last words (احمدي نجاد), may follow alone; a one-word name again
            for n in range(len(words)):  # the whole name too: a later repeat the recognizer missed
                tail = bare_form(words[n:], known)
                if (len(tail) >= 3 and tail not in not_names and tail not in surnames and tail not in common
                        and tail not in _NOT_SURNAMES):
                    surnames[tail] = (key, actor_id, o_end)
        found.append((o_start, o_end, Entity(type=kind, surface=text[o_start:o_end], start=o_start, end=o_end,
                                             key=key, actor_id=actor_id)))
        take(o_start, o_end)

    if surnames:  # later uses of a surname the recognizer did not tag (document consistency)
        alternatives = "|".join(map(re.escape, sorted(surnames, key=len, reverse=True)))  # longest first
        pattern = re.compile(r"(?<!\w)(?:[وف]?[بلك]?)(" + alternatives + r")(?!\w)")
        for match in _matches(pattern, norm, surnames):
            key, actor_id, after = surnames[match.group(1)]
            o_start, o_end = _original_span(text, index, *match.span(1))
            if o_start >= after and free(o_start, o_end):
                found.append((o_start, o_end, Entity(type="person", surface=text[o_start:o_end], start=o_start,
                                                     end=o_end, key=key, actor_id=actor_id)))
                take(o_start, o_end)

    for c in candidates:  # names after a title: one more source of evidence
        if free(c.start, c.end):
            found.append((c.start, c.end, Entity(type="person", surface=c.surface, start=c.start, end=c.end,
                                                 key=name_key(normalize(c.surface).split(), known))))
            take(c.start, c.end)
    found.sort(key=lambda x: x[0])
    return [e for _, _, e in found]


# From streams/pipeline/stages/candidates.py

def _is_modifier(word: str) -> bool:
    """A word between title and name: a nisba adjective (الروسي، الفلسطينية) or a fixed one (السابق)."""
    return word in _AR_FIXED_MODIFIERS or (word.startswith("ال") and len(word) >= 5 and word.endswith(("ي", "يه")))


def _arabic_candidates(norm: str) -> list[tuple[int, int]]:
    """Spans (in the normalized text) of Arabic names that follow a title."""
    not_names = _not_names()
    spans: list[tuple[int, int]] = []
    for title_end in _title_ends(norm):
        tokens = []
        for m in _TOKEN.finditer(norm, title_end):
            tokens.append((m.group(), m.start(), m.end()))
            if len(tokens) == 12:
                break
        n = len(tokens)
        # Modifiers: adjectives, one "الي/لدي <place>" (المبعوث الاممي الي سوريا), an appositive comma.
        k, places = 0, 0
        while k < n:
            word = tokens[k][0]
            if _is_modifier(word):
                k += 1
            elif word in ("الي", "لدي") and places == 0 and k + 1 < n and tokens[k + 1][0].isalpha():
                k, places = k + 2, 1
            else:
                break
        if k < n and tokens[k][0] in (",", "-"):
            k += 1
        name: list[tuple[str, int, int]] = []
        bounded = False  # the name ends at punctuation, a function word or the text's end, not mid-phrase
        while True:
            if k == n:
                bounded = n < 12
                break
            word = tokens[k][0]
            if not word.isalpha():
                bounded = not word.isalnum()
                break
            if word not in _AR_PARTICLES and any(f in not_names for f in _strip_clitic(word)):
                bounded = True
                break
            if not name and (word.startswith(("ال", "لل")) or word in _AR_PARTICLES - {"عبد", "ابو"}):
                break  # a name starts with a given name, not an article or a particle
            if len(name) == 4:
                break
            name.append(tokens[k])
            k += 1
        while name and name[-1][0] in _AR_PARTICLES:
            name.pop()
        if bounded and len(name) >= 2 and not any(w[0].isascii() for w in name):
            spans.append((name[0][1], name[-1][2]))
    return spans


_LATIN_RUN = re.compile(r"[A-Za-z]+")


def _english_titles(text: str) -> list[re.Match]:
    """_EN_TITLES.finditer(text), tried only where a run of Latin letters starts (a title's \\b can be nowhere
    else): the engine spent most of its time trying the alternation at every position."""
    out: list[re.Match] = []
    end = 0
    for run in _LATIN_RUN.finditer(text):
        if run.start() >= end:
            m = _EN_TITLES.match(text, run.start())
            if m:
                out.append(m)
                end = m.end()
    return out


def _english_candidates(text: str) -> list[tuple[int, int]]:
    """Spans (in the original text, where case tells names apart) of names after an English title."""
    spans = []
    for title in _english_titles(text):
        m = _EN_NAME.match(text, title.end())
        if not m:
            continue
        words = m.group().split()
        while words and (words[-1] in _EN_PARTICLES or words[-1] in _EN_NOT_NAMES):
            words.pop()
        if not words or words[0] in _EN_NOT_NAMES or words[0] in _EN_PARTICLES:
            continue
        cut = next((n for n, w in enumerate(words) if w in _EN_NOT_NAMES), len(words))
        words = words[:cut]
        if words:
            end = m.start() + len(" ".join(words))
            if text[m.start():end] == " ".join(words):
                spans.append((m.start(), end))
    return spans


def _surname_spans(norm: str, surname: str, after: int) -> list[tuple[int, int]]:
    """Later standalone uses of a candidate's surname (أيرولت after جان مارك أيرولت), clitics allowed."""
    pattern = re.compile(r"(?<!\w)(?:[وف]?[بلك]?)(" + re.escape(surname) + r")(?!\w)")
    spans: list[tuple[int, int]] = []
    end = after
    at = norm.find(surname, after)
    while at >= 0:  # pattern.finditer(norm, after), tried only up to two clitic letters before the surname
        for start in range(max(end, at - 2), at + 1):
            m = pattern.match(norm, start)
            if m:
                spans.append(m.span(1))
                end = m.end()
                break
        at = norm.find(surname, max(at + 1, end))
    return spans


def find_candidates(text: str, known: Sequence[Mention],
                    normalized: tuple[str, Sequence[int]] | None = None) -> list[Mention]:
    """Candidate person mentions after titles, then their surnames alone; none overlapping a dictionary mention."""
    norm, index = normalized or normalize_with_map(text)

    def original(start: int, end: int) -> tuple[int, int]:
        return index[start], index[end - 1] + 1

    taken = [(m.start, m.end) for m in known]
    found: dict[tuple[int, int], str] = {}

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in taken)

    for start, end in _arabic_candidates(norm):
        o_start, o_end = original(start, end)
        if not free(o_start, o_end):
            continue
        cid = candidate_id(text[o_start:o_end])
        found[(o_start, o_end)] = cid
        taken.append((o_start, o_end))
        surname = norm[start:end].rsplit(" ", 1)[-1]
        for s_start, s_end in _surname_spans(norm, surname, end):
            o = original(s_start, s_end)
            if free(*o):
                found[o] = cid
                taken.append(o)
    for start, end in _english_candidates(text):
        if free(start, end):
            found[(start, end)] = candidate_id(text[start:end])
            taken.append((start, end))
    return [Mention(actor_id=cid, name=cid.removeprefix(CANDIDATE_PREFIX), type="person", surface=text[s:e],
                    start=s, end=e) for (s, e), cid in sorted(found.items())]
