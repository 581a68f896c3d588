"""The actor dictionary: YAML data in the repo, compiled into one Aho-Corasick automaton."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import yaml

from schemas import ACTORS_PATH
from streams.arabic import normalize

_ARTICLE = "ال"
log = logging.getLogger("newsstream")


@dataclass(frozen=True)
class Actor:
    actor_id: str
    name: str
    type: str
    country: str | None = None
    role: str | None = None


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

        def add(alias: str, actor_id: str, short: bool) -> None:
            norm = " ".join(normalize(alias).split())
            if len(norm) < 2:
                return
            variants = [(norm, False)]
            if norm.startswith(_ARTICLE) and len(norm) > 4:
                variants.append((norm[len(_ARTICLE):], True))
            for key, needs_article in variants:
                entry = keys.setdefault(key, {"ids": [], "short": True, "needs_article": needs_article})
                if actor_id not in entry["ids"]:
                    entry["ids"].append(actor_id)
                entry["short"] = entry["short"] and short
                entry["needs_article"] = entry["needs_article"] and needs_article

        for item in data["actors"]:
            actor = Actor(item["id"], item["name"], item["type"], item.get("country"), item.get("role"))
            if actor.actor_id in actors:
                raise ValueError(f"{path}: actor id {actor.actor_id!r} is listed twice")
            actors[actor.actor_id] = actor
            add(actor.name, actor.actor_id, short=False)
            for aliases in (item.get("aliases") or {}).values():
                for alias in aliases:
                    for variant in spelling_variants(alias):
                        add(variant, actor.actor_id, short=False)
            for aliases in (item.get("short") or {}).values():
                for alias in aliases:
                    for variant in spelling_variants(alias):
                        add(variant, actor.actor_id, short=True)

        automaton = ahocorasick.Automaton()
        for key, entry in keys.items():
            ids = tuple(entry["ids"])
            # A full alias claimed by several actors is ambiguous as well: treat it like a shared surname.
            automaton.add_word(key, AliasEntry(ids, entry["short"] or len(ids) > 1, entry["needs_article"], len(key)))
        automaton.make_automaton()
        version = str(data.get("version") or "") + "+" + hashlib.sha1(raw).hexdigest()[:8]
        return cls(version=version, actors=actors, automaton=automaton, path=path)


_VARIANT_PAIRS = (("غ", "ج"), ("ج", "غ"))


def spelling_variants(alias: str) -> set[str]:
    """The alias and its common transliteration twins (سيرغي/سيرجي); hamza and ya forms fold in normalization."""
    out = {alias}
    for a, b in _VARIANT_PAIRS:
        for existing in list(out):
            if a in existing:
                out.add(existing.replace(a, b))
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
