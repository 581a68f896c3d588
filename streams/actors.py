"""The actor dictionary: YAML data in the repo, compiled into one Aho-Corasick automaton."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import yaml

from schemas import ACTORS_PATH
from streams.arabic import normalize

_ARTICLE = "ال"
log = logging.getLogger("newsstream")


ACTOR_TYPES = ("person", "organization", "location", "other")
LANGUAGES = ("ar", "en", "ru", "fr")
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KEYS = {"id", "name", "type", "country", "role", "aliases", "short", "promoted_from"}


@dataclass(frozen=True)
class Actor:
    actor_id: str
    name: str
    type: str
    country: str | None = None
    role: str | None = None
    aliases: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)
    short: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)
    promoted_from: str | None = None  # the candidate id a curator promoted this actor from


def validate_entry(item: object) -> Actor:
    """One dictionary entry, checked: a clear error names the entry and the field, and nothing is guessed."""
    if not isinstance(item, dict):
        raise ValueError(f"an actor entry must be a mapping, got {item!r}")
    where = f"actor {item.get('id')!r}"
    if unknown := set(item) - _KEYS:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    if not isinstance(item.get("id"), str) or not _ID.match(item["id"]):
        raise ValueError(f"{where}: id must be a lowercase slug like 'sergey-lavrov'")
    if not isinstance(item.get("name"), str) or not item["name"].strip():
        raise ValueError(f"{where}: name (canonical English name) is required")
    if item.get("type") not in ACTOR_TYPES:
        raise ValueError(f"{where}: type must be one of {', '.join(ACTOR_TYPES)}")
    for key in ("country", "role", "promoted_from"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise ValueError(f"{where}: {key} must be text")
    groups = {}
    for group in ("aliases", "short"):
        value = item.get(group) or {}
        if not isinstance(value, dict) or any(
                not isinstance(v, list) or not all(isinstance(a, str) and a.strip() for a in v) for v in value.values()):
            raise ValueError(f"{where}: {group} must map a language code to a list of names")
        groups[group] = {str(lang): list(v) for lang, v in value.items()}
    return Actor(item["id"], item["name"], item["type"], item.get("country"), item.get("role"),
                 groups["aliases"], groups["short"], item.get("promoted_from"))


@dataclass(frozen=True)
class AliasEntry:
    """One automaton key. `actor_ids` has several ids only for shared short forms (surnames)."""

    actor_ids: tuple[str, ...]
    short: bool
    needs_article: bool  # key is an "ال..." alias with the article stripped: text must supply ال or لل
    length: int


@dataclass
class ActorDictionary:
    version: str
    actors: dict[str, Actor]
    automaton: ahocorasick.Automaton = field(repr=False)
    path: Path | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> "ActorDictionary":
        path = Path(path or ACTORS_PATH)
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
        actors: dict[str, Actor] = {}
        keys: dict[str, dict] = {}

        def add(alias: str, actor_id: str, short: bool, generated: bool) -> None:
            norm = " ".join(normalize(alias).split())
            if len(norm) < 2:
                return
            variants = [(norm, False)]
            if norm.startswith(_ARTICLE) and len(norm) > 4:
                variants.append((norm[len(_ARTICLE):], True))
            for key, needs_article in variants:
                entry = keys.get(key)
                if entry is None:
                    entry = keys[key] = {"ids": [], "short": True, "needs_article": needs_article}
                elif generated and actor_id not in entry["ids"]:
                    continue  # a generated spelling never makes another actor's listed alias ambiguous
                if actor_id not in entry["ids"]:
                    entry["ids"].append(actor_id)
                entry["short"] = entry["short"] and short
                entry["needs_article"] = entry["needs_article"] and needs_article

        listed: list[tuple[str, str, bool, bool]] = []  # (alias, actor id, short, foreign person)
        if not isinstance(data, dict) or not isinstance(data.get("actors"), list):
            raise ValueError(f"{path}: expected a mapping with an 'actors' list")
        for item in data["actors"]:
            try:
                actor = validate_entry(item)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
            if actor.actor_id in actors:
                raise ValueError(f"{path}: actor id {actor.actor_id!r} is listed twice")
            actors[actor.actor_id] = actor
            foreign = actor.type == "person" and actor.country not in ARABIC_SPEAKING
            listed.append((actor.name, actor.actor_id, False, foreign))
            for group, short in ((actor.aliases, False), (actor.short, True)):
                for aliases in group.values():
                    listed.extend((alias, actor.actor_id, short, foreign) for alias in aliases)
        # Listed spellings first, so they win over generated ones of another actor.
        for alias, actor_id, short, _ in listed:
            add(alias, actor_id, short, generated=False)
        for alias, actor_id, short, foreign in listed:
            for variant in spelling_variants(alias, vowels=foreign) - {alias}:
                add(variant, actor_id, short, generated=True)

        automaton = ahocorasick.Automaton()
        for key, entry in keys.items():
            ids = tuple(entry["ids"])
            # A full alias claimed by several actors is ambiguous as well: treat it like a shared surname.
            automaton.add_word(key, AliasEntry(ids, entry["short"] or len(ids) > 1, entry["needs_article"], len(key)))
        automaton.make_automaton()
        version = str(data.get("version") or "") + "+" + hashlib.sha1(raw).hexdigest()[:8]
        return cls(version=version, actors=actors, automaton=automaton, path=path)


# Arab League members: their people's names are Arabic words, where dropping a long vowel makes another
# name (سليمان/سلمان, محمود/محمد). Foreign names are transliterated, and the long vowels vary (دي ميستورا/دي مستورا).
ARABIC_SPEAKING = frozenset(
    "DZ BH KM DJ EG IQ JO KW LB LY MR MA OM PS QA SA SO SD SY TN AE YE".split())
_G_J = (("غ", "ج"), ("ج", "غ"))
_HAMZA_SEATS = "ئؤء"
_LONG_VOWELS = "يو"  # e/i and o/u in transliteration: written as ي / و, or left out
_MIN_WORD_AFTER_DROP = 5
_LATIN_FINAL_Y = re.compile(r"(?<=[a-z])(y|i)\b", re.IGNORECASE)


def _vowel_drops(word: str) -> set[str]:
    """The word with one interior long vowel left out (ميستورا -> مستورا), if it stays long enough to be a name."""
    if len(word) - 1 < _MIN_WORD_AFTER_DROP:
        return set()
    return {word[:i] + word[i + 1:] for i in range(1, len(word) - 1)
            if word[i] in _LONG_VOWELS and word[i - 1] not in _LONG_VOWELS + "ا"}


def spelling_variants(alias: str, vowels: bool = False) -> set[str]:
    """The alias and its common transliteration twins, generated rather than listed by hand:
    غ/ج (سيرغي/سيرجي), the other hamza seats inside a word (ئ/ؤ/ء), a final -y/-i in Latin script
    (Sergey/Sergei), and with `vowels`, one interior long vowel left out per word (دي ميستورا/دي مستورا).
    Alef forms, ى/ي and ة/ه fold in normalization and need no variants."""
    out = {alias}
    for a, b in _G_J:
        for existing in list(out):
            if a in existing:
                out.add(existing.replace(a, b))
    for existing in list(out):
        for i, ch in enumerate(existing):
            if ch in _HAMZA_SEATS and 0 < i < len(existing) - 1 and existing[i - 1] != " " and existing[i + 1] != " ":
                out.update(existing[:i] + seat + existing[i + 1:] for seat in _HAMZA_SEATS if seat != ch)
    for existing in list(out):
        if existing.isascii():
            out.add(_LATIN_FINAL_Y.sub(lambda m: "i" if m.group(1).lower() == "y" else "y", existing))
    if vowels:
        for existing in list(out):
            words = existing.split(" ")
            for n, word in enumerate(words):
                for dropped in _vowel_drops(word):
                    out.add(" ".join(words[:n] + [dropped] + words[n + 1:]))
    return out


class DictionaryWatcher:
    """The dictionary, reloaded when its file changes (checked at most every `interval` seconds), so a worker
    picks up a new actor without a restart. A broken edit keeps the last good dictionary and logs why."""

    def __init__(self, path: Path | None = None, interval: float = 5.0, clock=time.monotonic):
        self.path = Path(path or ACTORS_PATH)
        self.interval = interval
        self._clock = clock
        self._mtime = self.path.stat().st_mtime_ns
        self._checked = clock()
        self.dictionary = ActorDictionary.load(self.path)

    def current(self) -> ActorDictionary:
        now = self._clock()
        if now - self._checked < self.interval:
            return self.dictionary
        self._checked = now
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return self.dictionary
        if mtime != self._mtime:
            self._mtime = mtime  # a broken edit is reported once, not at every check
            try:
                self.dictionary = ActorDictionary.load(self.path)
                log.info("actor dictionary reloaded: %s", self.dictionary.version)
            except Exception:
                log.exception("actor dictionary %s not reloaded; keeping %s", self.path, self.dictionary.version)
        return self.dictionary
