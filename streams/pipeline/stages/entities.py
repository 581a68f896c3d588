"""Entities stage: article text -> actor mentions and named entities with offsets into that text.

Mentions: one Aho-Corasick pass over the normalized text; a hit counts when it stands as a word,
optionally behind Arabic clitics (و ف ب ل ك ال لل). Entities: those mentions plus the names the statistical
recognizer (streams/pipeline/ner) and the title patterns find, linked to actors or keyed (docs/entities.md).
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from functools import lru_cache
from operator import itemgetter, le

from pydantic import TypeAdapter

from schemas.records import ActorType, Entity, Mention, ModelT, unchecked
from streams.pipeline.arabic import MARKS, is_mark, normalize, normalize_with_map
from streams.pipeline.dictionary import Actor, ActorDictionary, AliasEntry, first_office
from streams.pipeline.ner.features import PERSON_TRIGGERS, _bare
from streams.pipeline.ner.linking import actor_key, alias_entry, bare_form, linked_actor, name_key
from streams.pipeline.ner.model import Recognizer, Span
from streams.pipeline.offsets import original_index
from streams.pipeline.stages.candidates import _not_names, name_spans

# Proclitic strings allowed between a word start and a name: conjunction, then preposition.
_CLITICS = {c + p for c in ("", "و", "ف") for p in ("", "ب", "ل", "ك")}
_ARTICLE_PREFIXES = {c + "ال" for c in _CLITICS} | {c + "لل" for c in ("", "و", "ف")}
_LONGEST_PREFIX = max(map(len, _CLITICS | _ARTICLE_PREFIXES))
# Mentions and entities, when validated (_models), as one list per article: one call into pydantic-core.
_MENTIONS = TypeAdapter(list[Mention])
_ENTITIES = TypeAdapter(list[Entity])
_FIRST = itemgetter(0)
_END = itemgetter(2)


def _accepted_hits(norm: str, dictionary: ActorDictionary) -> list[tuple[int, int, int, AliasEntry]]:
    """(start incl. article, alias start, end, entry) of the automaton's hits that stand as words in `norm`.
    Word characters (is_word_char) are told apart at each hit's edges only: ~30 hits an article (most keys are
    several letters long), where an array of every character's class cost more than all the tests. Most hits start
    a word (nothing before them to read back over): that case is settled by one test."""
    hits: list[tuple[int, int, int, AliasEntry]] = []  # (start in norm incl. article, alias start, end, entry)
    append, size, marks, clitics, articles = hits.append, len(norm), MARKS, _CLITICS, _ARTICLE_PREFIXES
    found, entries = dictionary.scanner.hits(norm)
    for key, start, end in found:
        if end < size and ((c := norm[end]).isalnum() or c in marks):  # ends inside a word (is_word_char, inline)
            continue
        entry = entries[key]
        if not start or not ((c := norm[start - 1]).isalnum() or c in marks):  # starts a word: the prefix is ""
            if not entry.needs_article:  # "" is a clitic string and no article prefix
                append((start, start, end, entry))
            continue
        prefix_start = start - 1
        # back to the word's start, no further than the longest allowed prefix
        while prefix_start and ((c := norm[prefix_start - 1]).isalnum() or c in marks):
            prefix_start -= 1
            if start - prefix_start > _LONGEST_PREFIX:
                break
        prefix = norm[prefix_start:start]
        if entry.needs_article:
            if prefix in articles:
                append((start - 2, start, end, entry))  # the name includes its article (ال / لل)
        elif prefix in clitics:
            append((start, start, end, entry))
    return hits


def extract_mentions(text: str, dictionary: ActorDictionary,
                     normalized: tuple[str, Sequence[int]] | None = None) -> list[Mention]:
    """`normalized`: normalize_with_map(text) when the caller already has it (discovery reuses it)."""
    if not dictionary.alias_keys:
        return []  # an empty dictionary: nothing to find
    norm, index = normalized or normalize_with_map(text)
    index = original_index(text, index)
    hits = _accepted_hits(norm, dictionary)

    # Leftmost-longest: a longer alias ("سيرغي لافروف") wins over the surname inside it.
    # Leftmost-longest order (start, then the longest first) by two stable sorts in C: no Python key call per hit.
    hits.sort(key=_END, reverse=True)
    hits.sort(key=_FIRST)
    chosen: list[tuple[int, int, AliasEntry]] = []
    last_end = -1
    shared = False  # a chosen short form several actors share
    for span_start, _alias_start, end, entry in hits:
        if span_start >= last_end:
            chosen.append((span_start, end, entry))
            last_end = end
            shared = shared or len(entry.actor_ids) > 1

    # A shared short form (الأسد: Bashar or Hafez) resolves only if the article names exactly one of them in full.
    named_in_full = {e.actor_ids[0] for _, _, e in chosen if not e.short and len(e.actor_ids) == 1} if shared else ()
    rows: list[dict] = []
    actors, size, marks = dictionary.actors, len(text), MARKS
    for span_start, end, entry in chosen:
        ids = entry.actor_ids
        if len(ids) > 1:
            ids = tuple(i for i in ids if i in named_in_full)
            if len(ids) != 1:
                ids = _by_generation(norm, end, entry.actor_ids, dictionary)
            if len(ids) != 1:
                continue
        actor = actors[ids[0]]
        o_start, o_end = index[span_start], index[end - 1] + 1
        while o_end < size and text[o_end] in marks:  # a final vowel mark is part of the name (is_mark, inline)
            o_end += 1
        rows.append({"actor_id": actor.actor_id, "name": actor.name, "type": actor.type,
                     "surface": text[o_start:o_end], "start": o_start, "end": o_end})
    return _models(_MENTIONS, Mention, rows, index)


def _models(adapter: TypeAdapter, model: type[ModelT], rows: list[dict], index: Sequence[int]) -> list[ModelT]:
    """The rows as models: built unchecked when every offset came from an index of Python ints (a list, range or
    array, as original_index gives: the rows' fields are then str and int by construction), else validated (a
    caller's index of numpy integers: validation makes them ints)."""
    if isinstance(index, list | range | array):
        return unchecked(model, rows)
    return adapter.validate_python(rows)


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
# ... within one line: a line (a headline, a paragraph) that ends with بن / آل does not go on into the next one
_NEXT_LINKED_WORD = re.compile(r"[^\S\n]+(\S+)[^\S\n]+(\w+)")
_LAST_WORD = re.compile(r"\s+(\S+)$")


def _after_titles(text: str, start: int, end: int) -> int:
    """Start of a person name without the title words it begins with (الشيخ محمد بن راشد -> محمد بن راشد):
    the dictionary lists some aliases with their title, the annotated news does not count it in the name."""
    while True:
        m = _TITLE_WORD.match(text, start, end)
        if not m:
            return start
        if not _is_title_word(m.group()):
            return start
        start = m.end()


@lru_cache(maxsize=1 << 14)
def _title_chars(name: str) -> int:
    """How many characters of title words a person name begins with: _after_titles of the name alone (its match
    sees nothing outside the name), kept per name: the same persons come back article after article."""
    return _after_titles(name, 0, len(name))


@lru_cache(maxsize=1 << 14)
def _is_title_word(word: str) -> bool:
    bare = _bare(normalize(word.strip()))
    return bare in PERSON_TRIGGERS or bare in _HONORIFICS


def _joined_family_names(text: str, items: list[tuple[int, int, Mention | Span]],
                         free) -> list[tuple[int, int, Mention | Span]]:
    """Items (sorted) with a person name continued over "بن X" / "آل X" that follows it: the next item when it
    is the continuation (the recognizer tagged آل مكتوم apart), else the untagged words themselves."""
    out: list[tuple[int, int, Mention | Span]] = []
    persons: list[bool] = []  # whether each item of `out` is a person (joining keeps a person a person)
    for s, e, item in items:
        person = item.kind == "PER" if type(item) is Span or not isinstance(item, Mention) else item.type == "person"
        if person and persons and persons[-1]:
            ps, pe, previous = out[-1]
            gap, first = text[pe:s], text[s:e].split(maxsplit=1)[0]
            if not gap.strip() and gap and "\n" not in gap and _normalized(first) in _NAME_LINKS \
                    and not isinstance(item, Mention):
                out[-1] = (ps, e, _longer(previous, text[pe:e]))
                continue
        out.append((s, e, item))
        persons.append(person)
    for n, (s, e, item) in enumerate(out):
        if not persons[n]:
            continue
        limit = out[n + 1][0] if n + 1 < len(out) else len(text)
        while (m := _NEXT_LINKED_WORD.match(text, e)) and m.end() <= limit and _normalized(m.group(1)) in _NAME_LINKS \
                and free(e, m.end()):
            item, e = _longer(item, text[e:m.end()]), m.end()
        chars, words = _trailing_links(text[s:e])  # a name does not end with بن / آل
        if chars:
            e -= chars
            if not isinstance(item, Mention):
                item = Span(item.kind, item.start, item.end, item.words[:max(0, len(item.words) - words)])
        out[n] = (s, e, item)
    return out


@lru_cache(maxsize=1 << 14)
def _trailing_links(name: str) -> tuple[int, int]:
    """(characters, words) of the بن / آل words (and the spaces before them) a name ends with, kept per name."""
    end = len(name)
    words = 0
    while (last := _LAST_WORD.search(name, 0, end)) and _normalized(last.group(1)) in _NAME_LINKS:
        end = last.start()
        words += 1
    return len(name) - end, words


@lru_cache(maxsize=1 << 14)
def _normalized(word: str) -> str:
    """normalize() of a word next to a name: the same few (بن، آل، الرئيس) come again in every article."""
    return normalize(word)


def _longer(item: Mention | Span, more: str) -> Mention | Span:
    """A recognizer span with the words of `more` appended (a mention takes its words from the text)."""
    if isinstance(item, Mention):
        return item
    return Span(item.kind, item.start, item.end, (*item.words, *normalize(more).split()))


def extract_entities(text: str, mentions: Sequence[Mention], candidates: Sequence[Mention],
                     dictionary: ActorDictionary, recognizer: Recognizer,
                     normalized: tuple[str, Sequence[int]] | None = None,
                     spans: Sequence[Span] | None = None) -> list[Entity]:
    """Every name in the text, in order. Dictionary mentions come first and keep their actor (precision);
    the recognizer adds the names they miss, linked to an actor when their bare form is an alias; a person's
    surname alone later in the text takes the full name's key and actor, and its later uses the recognizer
    did not tag are added; title-pattern candidates fill what is still uncovered. `spans`: the recognizer's
    names for this text when the caller has them already (recognize_many over a batch), else it is asked here."""
    norm, index = normalized or normalize_with_map(text)
    index = original_index(text, index)
    links = _links(dictionary, recognizer)
    known, form_of, tails_of, key_of, mention_of = links.known, links.form, links.tails, links.actor_key, links.mention
    named: set[str] | None = None  # the actors the mentions name: made when a recognized name first needs it
    found: list[tuple[int, int, dict]] = []  # (start, end, the entity's fields): validated as one list at the end
    occupied = bytearray(len(text) + 1)  # 1 where a name already stands: an overlap test is one C-level find
    size = len(text)

    def free(s: int, e: int) -> bool:
        return occupied.find(1, s, e) < 0

    items: list[tuple[int, int, Mention | Span]] = []
    for m in mentions:
        occupied[m.start:m.end] = b"\x01" * (m.end - m.start)
        items.append((m.start, m.end, m))
    widened: dict[int, tuple[int, int]] = {}  # mention position -> its person name's span, grown by the recognizer
    overlapping = None  # made when a person span first overlaps a mention (most articles: never)
    exact: set[tuple[int, int]] = set()  # the mentions' spans, made with `overlapping`
    if spans is None:
        spans = recognizer.recognize(text, (norm, index))
    for span in spans:
        o_start, o_end = index[span.start], index[span.end - 1] + 1  # _original_span, inline: ~25 per article
        while o_end < size and text[o_end] in MARKS:
            o_end += 1
        if occupied.find(1, o_start, o_end) < 0:
            items.append((o_start, o_end, span))
        elif span.kind == "PER":  # over a dictionary person: the name may be longer (محمد بن راشد | آل مكتوم)
            if overlapping is None:
                overlapping = _overlap_finder(mentions)
                exact = {(m.start, m.end) for m in mentions}
            if (o_start, o_end) in exact:  # exactly a mention (most): widens nothing (skipped: ~1/4 of the time here)
                continue
            over = overlapping(o_start, o_end)
            if len(over) == 1 and mentions[over[0]].type == "person":
                s, e = widened.get(over[0], (mentions[over[0]].start, mentions[over[0]].end))
                widened[over[0]] = (min(s, o_start), max(e, o_end))
    for i, m in enumerate(mentions):
        if m.type == "person":
            s, e = widened.get(i, (m.start, m.end))
            s += _title_chars(text[s:e])
            if (s, e) != (m.start, m.end):
                occupied[s:e] = b"\x01" * (e - s)
                items[i] = (s, e, m)
    items = _joined_family_names(text, sorted(items, key=_FIRST), free)

    # surname or last words of a full name (bare) -> (key, actor_id, end of the full name in the original text)
    surnames: dict[str, tuple[str, str | None, int]] = {}
    actor_id: str | None
    for o_start, o_end, item in items:
        surface = text[o_start:o_end]
        if type(item) is not Span and isinstance(item, Mention):
            actor_id, kind, key, tails = mention_of(item.actor_id, surface)
            placed = o_start == item.start and o_end == item.end  # marked taken with the mentions already
        else:
            placed = False
            words = tuple(item.words)  # the cache's key (a Span's words are a tuple already: no copy)
            kind = _RECOGNIZER_TYPES[item.kind]
            bare, entry, key = form_of(words)
            if entry is None:
                actor_id = None
            else:
                if named is None:
                    named = {m.actor_id for m in mentions}
                actor_id = linked_actor(entry, named)
            if actor_id is not None:
                actor = dictionary.actors[actor_id]
                key = key_of(actor)
                kind = actor.type
            elif kind == "person" and bare in surnames:
                key, actor_id, _ = surnames[bare]
            tails = tails_of(words) if kind == "person" else ()
        # A person's surname, or last words (احمدي نجاد), may follow alone; a one-word name again; the whole name
        # too: a later repeat the recognizer missed.
        for tail in tails:
            if tail not in surnames:
                surnames[tail] = (key, actor_id, o_end)
        found.append((o_start, o_end, {"type": kind, "surface": surface, "start": o_start, "end": o_end,
                                       "key": key, "actor_id": actor_id}))
        if not placed:
            occupied[o_start:o_end] = b"\x01" * (o_end - o_start)

    if surnames:  # later uses of a surname the recognizer did not tag (document consistency)
        for start, end in name_spans(norm, surnames):
            o_start = index[start]
            if occupied.find(1, o_start, index[end - 1] + 1) >= 0:  # most: a name stands there (one the surname
                continue  # came from); the marks _original_span adds after the span could only make it more taken
            key, actor_id, after = surnames[norm[start:end]]
            o_start, o_end = _original_span(text, index, start, end)
            if o_start >= after and occupied.find(1, o_start, o_end) < 0:
                found.append((o_start, o_end, {"type": "person", "surface": text[o_start:o_end], "start": o_start,
                                               "end": o_end, "key": key, "actor_id": actor_id}))
                occupied[o_start:o_end] = b"\x01" * (o_end - o_start)

    for c in candidates:  # names after a title: one more source of evidence
        if occupied.find(1, c.start, c.end) < 0:
            found.append((c.start, c.end, {"type": "person", "surface": c.surface, "start": c.start, "end": c.end,
                                           "key": name_key(normalize(c.surface).split(), known), "actor_id": None}))
            occupied[c.start:c.end] = b"\x01" * (c.end - c.start)
    found.sort(key=_FIRST)
    return _models(_ENTITIES, Entity, [row for _, _, row in found], index)


# Distinct names each table of a _NameLinks keeps before it starts over: ~370 bytes a name (tracemalloc over 289
# ANERcorp articles), so ~7 MB a table at most; a day of news names fewer distinct persons and places than that.
_NAMES_KEPT = 20_000


class _NameLinks:
    """What a name's words give whatever the article names besides (its bare form, dictionary entry and key; a
    person's tails that may stand alone later; an actor's key), for one dictionary and recognizer. The same names
    come back article after article, and working them out anew was most of extract_entities' time."""

    def __init__(self, dictionary: ActorDictionary, recognizer: Recognizer):
        self.dictionary, self.recognizer = dictionary, recognizer
        self.actors, self.alias_keys = dictionary.actors, dictionary.alias_keys  # replaced: a new cache
        self.words_of = recognizer.gazetteer.words
        self.known = recognizer.gazetteer.words["PER"]
        self.common = recognizer.gazetteer.words.get("NN", ())  # words almost never inside a name
        self.not_names = _not_names()
        self._forms: dict[tuple[str, ...], tuple[str, AliasEntry | None, str]] = {}
        self._tails: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._actor_keys: dict[str, str] = {}
        self._mentions: dict[tuple[str, str], tuple[str, ActorType, str, tuple[str, ...]]] = {}

    def serves(self, dictionary: ActorDictionary, recognizer: Recognizer) -> bool:
        return (self.dictionary is dictionary and self.recognizer is recognizer and self.actors is dictionary.actors
                and self.alias_keys is dictionary.alias_keys and self.words_of is recognizer.gazetteer.words
                and self.known is recognizer.gazetteer.words["PER"])

    def form(self, words: tuple[str, ...]) -> tuple[str, AliasEntry | None, str]:
        """(bare form, its dictionary entry or None, name key) of a recognized name's normalized words."""
        got = self._forms.get(words)
        if got is None:
            if len(self._forms) >= _NAMES_KEPT:
                self._forms.clear()
            bare = bare_form(words, self.known)
            got = self._forms[words] = (bare, alias_entry(bare, self.dictionary),
                                        name_key(words, self.known, normalized=True))
        return got

    def tails(self, words: tuple[str, ...]) -> tuple[str, ...]:
        """A person's words from each one on (bare), those that may stand alone as the name later."""
        got = self._tails.get(words)
        if got is None:
            if len(self._tails) >= _NAMES_KEPT:
                self._tails.clear()
            known, not_names, common = self.known, self.not_names, self.common
            got = self._tails[words] = tuple(
                tail for tail in (bare_form(words[n:], known) for n in range(len(words)))
                if len(tail) >= 3 and tail not in not_names and tail not in common and tail not in _NOT_SURNAMES)
        return got

    def mention(self, actor_id: str, surface: str) -> tuple[str, ActorType, str, tuple[str, ...]]:
        """(actor id, type, key, tails if a person) of a dictionary mention of an actor as `surface`."""
        got = self._mentions.get((actor_id, surface))
        if got is None:
            if len(self._mentions) >= _NAMES_KEPT:
                self._mentions.clear()
            actor = self.dictionary.actors[actor_id]
            person = actor.type == "person"
            got = self._mentions[actor_id, surface] = (actor.actor_id, actor.type, self.actor_key(actor),
                                                       self.tails(_name_words(surface)) if person else ())
        return got

    def actor_key(self, actor: Actor) -> str:
        got = self._actor_keys.get(actor.actor_id)
        if got is None:
            got = self._actor_keys[actor.actor_id] = actor_key(actor)
        return got


_last_links: _NameLinks | None = None  # one at a time: a worker has one dictionary (a new one after a reload)


def _links(dictionary: ActorDictionary, recognizer: Recognizer) -> _NameLinks:
    global _last_links
    links = _last_links
    if links is None or not links.serves(dictionary, recognizer):
        links = _last_links = _NameLinks(dictionary, recognizer)
    return links


@lru_cache(maxsize=1 << 14)
def _name_words(surface: str) -> tuple[str, ...]:
    """The normalized words of a name as it stands in the text: the same few names repeat in every article."""
    return tuple(normalize(surface).split())


def _overlap_finder(mentions: Sequence[Mention]):
    """f(start, end) -> positions of the mentions that overlap [start, end), in order. Mentions as extract_mentions
    gives them (sorted, disjoint) are found by bisection instead of a scan of all of them per span."""
    starts, ends = [m.start for m in mentions], [m.end for m in mentions]
    if all(map(le, starts, ends)) and all(map(le, ends, starts[1:])):  # map(le): no Python frame per mention
        def bisected(s: int, e: int) -> range:
            return range(bisect_right(ends, s), bisect_left(starts, e))
        return bisected

    def scanned(s: int, e: int) -> list[int]:
        return [i for i, m in enumerate(mentions) if m.start < e and s < m.end]
    return scanned
