"""The actor dictionary: YAML data in the repo, compiled into alias keys and one Aho-Corasick automaton over them."""

from __future__ import annotations

import gc
import hashlib
import inspect
import logging
import os
import pickle
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Set
from contextlib import contextmanager
from dataclasses import dataclass, field
from dataclasses import replace as replace_fields
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from schemas import ACTOR_TYPES, ACTORS_DIR, ACTORS_PATH, LANGUAGES  # noqa: F401  (LANGUAGES: re-exported)
from schemas.records import ActorType
from streams.errors import UserError
from streams.pipeline.arabic import normalize
from streams.pipeline.scanner import PatternScanner

if TYPE_CHECKING:
    from streams.settings import Settings

_ARTICLE = "ال"
log = logging.getLogger("newsstream")
# libyaml's parser when PyYAML has it (several times faster on thousands of entries), else the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KEYS = {"id", "name", "type", "country", "role", "aliases", "short", "promoted_from", "roles",
         "shared_aliases", "common_word_aliases"}
_ROLE_KEYS = {"title", "country", "from", "to"}
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class DictionaryError(UserError, ValueError):
    """A dictionary file the user can fix (bad entry, date, duplicate id, missing path): one line naming the file
    and the entry. A ValueError too, so callers that refuse an edit (actors add) catch it as before."""


@dataclass(frozen=True)
class Role:
    """One office held: `start`/`end` are "YYYY", "YYYY-MM" or "YYYY-MM-DD"; end None means current (or unknown)."""

    title: str
    country: str | None = None
    start: str | None = None
    end: str | None = None


@dataclass(frozen=True)
class Actor:
    actor_id: str
    name: str
    type: ActorType
    country: str | None = None
    role: str | None = None  # the display role; `roles` holds the dated offices
    aliases: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)
    short: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)
    promoted_from: str | None = None  # the candidate id a curator promoted this actor from
    roles: tuple[Role, ...] = field(default=(), compare=False, repr=False)
    shared_aliases: tuple[str, ...] = field(default=(), compare=False, repr=False)  # collisions declared on purpose
    # ordinary words kept on purpose
    common_word_aliases: tuple[str, ...] = field(default=(), compare=False, repr=False)
    source: str | None = field(default=None, compare=False, repr=False)  # the file the entry comes from


def _role_date(value: object, where: str) -> str | None:
    """A role date as text; YAML reads an unquoted 2014 as int and 2014-06-08 as a date, both accepted."""
    if value is None:
        return None
    if isinstance(value, date):  # a datetime too: its text then fails the pattern below
        value = value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and (match := _DATE.match(value)):
        year, month, day = match.groups()
        try:
            date(int(year), int(month or 1), int(day or 1))
            return value
        except ValueError:
            pass
    raise DictionaryError(f"{where}: date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")


def _period(value: str, last: bool) -> date:
    """The first (or last) day of a YYYY / YYYY-MM / YYYY-MM-DD period."""
    match = _DATE.match(value)
    if match is None:  # _role_date admitted only YYYY, YYYY-MM and YYYY-MM-DD
        raise ValueError(f"not a YYYY, YYYY-MM or YYYY-MM-DD period: {value!r}")
    year, month, day = match.groups()
    if day:
        return date(int(year), int(month), int(day))
    if month:
        if not last:
            return date(int(year), int(month), 1)
        following = date(int(year) + int(month) // 12, int(month) % 12 + 1, 1)
        return date.fromordinal(following.toordinal() - 1)
    return date(int(year), 12, 31) if last else date(int(year), 1, 1)


def first_office(actor: Actor) -> date | None:
    """The first day of the actor's earliest dated office, None when no office has a start date."""
    starts = [_period(r.start, last=False) for r in actor.roles if r.start]
    return min(starts) if starts else None


def _roles(value: object, where: str) -> tuple[Role, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise DictionaryError(f"{where}: roles must be a list of {{title, country, from, to}}")
    roles = []
    for n, item in enumerate(value):
        at = f"{where}: roles[{n}]"
        if not isinstance(item, dict):
            raise DictionaryError(f"{at} must be a mapping with title, country, from, to")
        if unknown := set(item) - _ROLE_KEYS:
            raise DictionaryError(f"{at}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_ROLE_KEYS)}")
        if not isinstance(item.get("title"), str) or not item["title"].strip():
            raise DictionaryError(f"{at}: title is required")
        country = item.get("country")
        if country is not None and not (isinstance(country, str) and _COUNTRY.match(country)):
            raise DictionaryError(f"{at}: country must be an ISO 3166-1 alpha-2 code like 'SY', got {country!r}")
        start, end = _role_date(item.get("from"), at), _role_date(item.get("to"), at)
        if start and end and _period(start, last=False) > _period(end, last=True):
            raise DictionaryError(f"{at} ({item['title']}): from {start} is after to {end}")
        roles.append(Role(item["title"], country, start, end))
    return tuple(roles)


def validate_entry(item: object) -> Actor:
    """One dictionary entry, checked: a clear error names the entry and the field, and nothing is guessed."""
    if not isinstance(item, dict):
        raise DictionaryError(f"an actor entry must be a mapping, got {item!r}")
    where = f"actor {item.get('id')!r}"
    if unknown := set(item) - _KEYS:
        raise DictionaryError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    if not isinstance(item.get("id"), str) or not _ID.match(item["id"]):
        raise DictionaryError(f"{where}: id must be a lowercase slug like 'sergey-lavrov'")
    if not isinstance(item.get("name"), str) or not item["name"].strip():
        raise DictionaryError(f"{where}: name (canonical English name) is required")
    if item.get("type") not in ACTOR_TYPES:
        raise DictionaryError(f"{where}: type must be one of {', '.join(ACTOR_TYPES)}")
    for key in ("country", "role", "promoted_from"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise DictionaryError(f"{where}: {key} must be text")
    groups = {}
    for group in ("aliases", "short"):
        value = item.get(group) or {}
        if not isinstance(value, dict) or any(
                not isinstance(v, list) or not all(isinstance(a, str) and a.strip() for a in v)
                for v in value.values()):
            raise DictionaryError(f"{where}: {group} must map a language code to a list of names")
        groups[group] = {str(lang): list(v) for lang, v in value.items()}
    listed = {_key(a) for g in groups.values() for v in g.values() for a in v} | {_key(item["name"])}
    declared = {}
    for key in ("shared_aliases", "common_word_aliases"):
        value = item.get(key) or []
        if not isinstance(value, list) or not all(isinstance(a, str) and a.strip() for a in value):
            raise DictionaryError(f"{where}: {key} must be a list of names")
        if missing := [a for a in value if _key(a) not in listed]:
            raise DictionaryError(f"{where}: {key} {missing} must also be listed under aliases or short")
        declared[key] = tuple(value)
    return Actor(item["id"], item["name"], item["type"], item.get("country"), item.get("role"),
                 groups["aliases"], groups["short"], item.get("promoted_from"), _roles(item.get("roles"), where),
                 declared["shared_aliases"], declared["common_word_aliases"])


def _key(alias: str) -> str:
    """An alias as a key: normalized, whitespace collapsed."""
    return " ".join(normalize(alias).split())


def dictionary_files(path: Path | str | None = None) -> list[Path]:
    """The files that make up the dictionary. None: the bundled schemas/actors.yaml and schemas/actors/*.yaml;
    a directory: every *.yaml under it (dot-files, such as an edit in progress, skipped); a file: that file."""
    if path is None:
        return [ACTORS_PATH, *sorted(p for p in ACTORS_DIR.glob("*.yaml") if not p.name.startswith("."))]
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.yaml")
                       if not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise DictionaryError(f"{path}: no *.yaml actor dictionary files in this directory")
        return files
    if not path.exists():
        raise DictionaryError(f"{path}: no such actor dictionary file or directory")
    return [path]


@dataclass(frozen=True)
class AliasEntry:
    """What one alias key means. `actor_ids` has several ids only for shared short forms (surnames)."""

    actor_ids: tuple[str, ...]
    short: bool
    needs_article: bool  # key is an "ال..." alias with the article stripped: text must supply ال or لل
    length: int


class AliasKeys(Mapping[str, AliasEntry]):
    """Every key of the dictionary (a normalized alias or generated variant) with its entry: a dict for lookups
    (linking) and, built from it on first use, the PatternScanner of the matching pass (ahocorasick-rs over one
    byte a character: ~0.09 s for ~30,000 keys). The cache pickles the dict only: ahocorasick-rs does not pickle."""

    def __init__(self, entries: dict[str, AliasEntry]):
        self._entries = entries

    def __getitem__(self, key: str) -> AliasEntry:
        return self._entries[key]

    def get(self, key: str, default: AliasEntry | None = None) -> AliasEntry | None:  # type: ignore[override]
        return self._entries.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __reduce__(self):
        return AliasKeys, (self._entries,)

    @cached_property
    def scanner(self) -> PatternScanner[AliasEntry]:
        return PatternScanner(list(self._entries), list(self._entries.values()))


@dataclass
class ActorDictionary:
    version: str
    actors: dict[str, Actor]
    alias_keys: AliasKeys = field(repr=False)
    path: Path | None = None

    files: tuple[Path, ...] = ()

    @property
    def scanner(self) -> PatternScanner[AliasEntry]:
        """The matching pass over the alias keys (AliasKeys.scanner), built on first use."""
        return self.alias_keys.scanner

    @classmethod
    def load(cls, path: Path | str | None = None, *, replace: dict[Path, Path] | None = None,
             cache_dir: Path | None | str = "default") -> ActorDictionary:
        """The dictionary from `path` (see dictionary_files). `replace` reads some files' content from elsewhere
        (an edit checked before it replaces its file). The compiled result is cached in `cache_dir` (default:
        default_cache_dir(); None: no cache), keyed by the files' content and the compiling code, because parsing
        and compiling thousands of entries takes seconds and a worker reloads at every edit."""
        files = dictionary_files(path)
        raws = [(file, (replace or {}).get(file, file).read_bytes()) for file in files]
        cache_dir = default_cache_dir() if cache_dir == "default" else cache_dir
        cache = _cache_file(Path(cache_dir), raws) if cache_dir is not None else None
        compiled = _read_cache(cache) if cache is not None else None
        if compiled is None:
            with _no_gc():
                compiled = _compile(raws)
            if cache is not None:
                _write_cache(cache, compiled)
        version, actors, alias_keys = compiled
        return cls(version=version, actors=actors, alias_keys=alias_keys,
                   path=Path(path) if path is not None else ACTORS_PATH, files=tuple(files))

    @classmethod
    def from_settings(cls, settings: Settings) -> ActorDictionary:
        """The dictionary the settings name, cached where they say: how every command and the worker load it."""
        return cls.load(settings.actors_path, cache_dir=settings.cache_dir)


def _compile(raws: list[tuple[Path, bytes]]) -> tuple[str, dict[str, Actor], AliasKeys]:
    files = [file for file, _ in raws]
    actors: dict[str, Actor] = {}
    keys: dict[str, dict] = {}
    digest = hashlib.sha1()
    version = ""

    def add(alias: str, actor_id: str, short: bool, generated: bool, stripped: bool) -> None:
        """`stripped`: add the alias without its article (الأسد -> اسد, matched behind ال or لل) instead of as is."""
        key = _key(alias)
        if stripped:
            if not (key.startswith(_ARTICLE) and len(key) > 4):
                return
            key = key[len(_ARTICLE):]
        if len(key) < 2:
            return
        entry = keys.get(key)
        if entry is None:
            entry = keys[key] = {"ids": [], "short": True, "needs_article": stripped, "exact": False}
        elif actor_id not in entry["ids"] and (generated or (stripped and entry["exact"])):
            # A generated spelling never makes another actor's listed alias ambiguous, nor does a name whose
            # ال is not an article (ألباريس) make another's listed name ambiguous (باريس).
            return
        if actor_id not in entry["ids"]:
            entry["ids"].append(actor_id)
        entry["short"] = entry["short"] and short
        entry["needs_article"] = entry["needs_article"] and stripped
        entry["exact"] = entry["exact"] or not (generated or stripped)

    listed: list[tuple[str, str, bool, bool]] = []  # (alias, actor id, short, foreign person)
    for file, raw in raws:
        if len(files) > 1:
            digest.update(file.name.encode() + b"\0")
        digest.update(raw)
        try:
            data = yaml.load(raw, Loader=_YAML_LOADER)
        except yaml.YAMLError as exc:
            raise DictionaryError(f"{file}: not valid YAML: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("actors"), list):
            raise DictionaryError(f"{file}: expected a mapping with an 'actors' list")
        version = version or str(data.get("version") or "")
        for item in data["actors"]:
            try:
                actor = validate_entry(item)
            except ValueError as exc:
                raise DictionaryError(f"{file}: {exc}") from None
            if actor.actor_id in actors:
                raise DictionaryError(f"{file}: actor id {actor.actor_id!r} is listed twice"
                                 f" (also in {actors[actor.actor_id].source})")
            actors[actor.actor_id] = actor = replace_fields(actor, source=str(file))
            foreign = actor.type == "person" and actor.country not in ARABIC_SPEAKING
            listed.append((actor.name, actor.actor_id, False, foreign))
            for group, short in ((actor.aliases, False), (actor.short, True)):
                for aliases in group.values():
                    listed.extend((alias, actor.actor_id, short, foreign) for alias in aliases)
    # Listed spellings as written first, then without their article, then generated ones: each later kind never
    # makes an earlier kind of another actor ambiguous.
    for stripped in (False, True):
        for alias, actor_id, short, _ in listed:
            add(alias, actor_id, short, generated=False, stripped=stripped)
    for alias, actor_id, short, foreign in listed:
        for variant in spelling_variants(alias, vowels=foreign) - {alias}:
            for stripped in (False, True):
                add(variant, actor_id, short, generated=True, stripped=stripped)

    entries: dict[str, AliasEntry] = {}
    for key, entry in keys.items():
        ids = tuple(entry["ids"])
        # A full alias claimed by several actors is ambiguous as well: treat it like a shared surname.
        entries[key] = AliasEntry(ids, entry["short"] or len(ids) > 1, entry["needs_article"], len(key))
    version = version + "+" + digest.hexdigest()[:8]
    return version, actors, AliasKeys(entries)


# The code whose output the cache holds: a change to matching rules or normalization invalidates it.
_COMPILER_SOURCES = (Path(__file__), Path(inspect.getfile(normalize)))
_CACHE_KEEP = 4  # newest cache files kept; older dictionaries' compilations are removed


def default_cache_dir() -> Path:
    """NEWSSTREAM_CACHE_DIR for library callers without settings (tests, benchmarks, training); the product
    passes its settings' cache_dir (ActorDictionary.from_settings, CleanBudget, process_documents)."""
    from streams.settings import Settings

    return Settings().cache_dir


@contextmanager
def _no_gc():
    """The cyclic collector paused while hundreds of thousands of acyclic objects are made: it would scan them
    again and again for nothing (unpickling the cache takes several times longer with it)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _cache_file(cache_dir: Path, raws: list[tuple[Path, bytes]]) -> Path:
    key = hashlib.sha256(f"{sys.version_info[:2]} {pickle.HIGHEST_PROTOCOL}".encode())
    for source in _COMPILER_SOURCES:
        key.update(source.read_bytes())
    for file, raw in raws:
        key.update(file.name.encode() + b"\0" + hashlib.sha256(raw).digest())
    return cache_dir / f"actors-{key.hexdigest()[:32]}.pickle"


def _read_cache(cache: Path):
    """The cached compilation, or None. Pickle runs code on load, so only a file this user owns and nobody else
    may write, in a directory likewise private, is read; anything unreadable is recompiled."""
    try:
        for item in (cache.parent, cache):
            st = item.stat()
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                if item == cache.parent:  # each start would compile again, without a word why
                    log.warning("actor dictionary cache %s not read: the folder is %s; compiling the dictionary "
                                "(chmod go-w it, or set NEWSSTREAM_CACHE_DIR to a private folder)", cache.parent,
                                "another user's" if st.st_uid != os.getuid() else "writable by others")
                return None
        with cache.open("rb") as f, _no_gc():
            compiled = pickle.load(f)
        version, actors, alias_keys = compiled
        if (not isinstance(version, str) or not isinstance(actors, dict)
                or not isinstance(alias_keys, AliasKeys)):
            return None
        return compiled
    except FileNotFoundError:
        return None
    except Exception as exc:  # a truncated or foreign file: compile again
        log.warning("actor dictionary cache %s unreadable (%s); recompiling", cache, exc)
        return None


def _write_cache(cache: Path, compiled) -> None:
    """Best effort: a read-only or full disk only costs the next start the compile time."""
    try:
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".actors-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                pickle.dump(compiled, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, cache)
        finally:
            Path(tmp).unlink(missing_ok=True)
        old = sorted(cache.parent.glob("actors-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in old[_CACHE_KEEP:]:
            stale.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("actor dictionary cache not written to %s: %s", cache.parent, exc)


def alias_problems(dictionary: ActorDictionary, stopwords: Set[str] = frozenset(),
                   common_words: Set[str] = frozenset()) -> list[str]:
    """What a reviewer must fix, one line each naming the file, the entry and the alias:
    - a full alias (or name) that another actor also holds, as the matcher sees it (normalized; names starting
      with ال also without it), unless every holder lists it as a short form or declares it in `shared_aliases`;
    - an Arabic short form or one-word alias that is a function word (`stopwords`);
    - a person's Arabic short form or one-word alias that is a very common word (`common_words`), unless declared
      in `common_word_aliases`.
    Both word sets are given normalized (streams.pipeline.arabic.normalize)."""
    holders: dict[tuple[str, bool], dict[str, tuple[Actor, str, bool]]] = {}
    problems = []
    for actor in dictionary.actors.values():
        shared = {_key(a) for a in actor.shared_aliases}
        common_ok = {_key(a) for a in actor.common_word_aliases}
        names = [(actor.name, False)] + [(a, s) for group, s in ((actor.aliases, False), (actor.short, True))
                                         for v in group.values() for a in v]
        for alias, short in names:
            key = _key(alias)
            ok = short or key in shared
            # Without its article a name is a key of its own kind: the matcher lets a listed name as written win
            # over another actor's name without article (باريس over ألباريس), but two of one kind are ambiguous.
            variants = [(key, False)] + (
                [(key[len(_ARTICLE):], True)] if key.startswith(_ARTICLE) and len(key) > 4 else [])
            for variant in variants:
                mine = holders.setdefault(variant, {})
                previous = mine.get(actor.actor_id)
                mine[actor.actor_id] = (actor, alias, ok and (previous is None or previous[2]))
            if " " in key or not any("\u0600" <= ch <= "\u06ff" for ch in key):
                continue
            if key in stopwords:
                problems.append(f"{actor.source}: {actor.actor_id}: {alias!r} is an Arabic function word")
            elif actor.type == "person" and (key in common_words) and key not in common_ok:
                problems.append(f"{actor.source}: {actor.actor_id}: {alias!r} is a very common Arabic word; "
                                "drop it or declare it in common_word_aliases")
    for mine in holders.values():
        if len(mine) < 2:
            continue
        for actor, alias, ok in mine.values():
            if not ok:
                others = ", ".join(f"{a.actor_id} ({a.source})" for a, _, _ in mine.values() if a is not actor)
                problems.append(f"{actor.source}: {actor.actor_id}: full alias {alias!r} also names {others}; "
                                "resolve it, make it a short form, or declare it in shared_aliases")
    return sorted(set(problems))


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
    """The dictionary, reloaded when any of its files changes, appears or goes (checked at most every `interval`
    seconds), so a worker picks up a new actor without a restart. A broken edit keeps the last good dictionary
    and logs why."""

    def __init__(self, path: Path | None = None, interval: float = 5.0, clock=time.monotonic,
                 cache_dir: Path | None | str = "default"):
        self.path = Path(path) if path is not None else None
        self.cache_dir = cache_dir
        self.interval = interval
        self._clock = clock
        self._state = self._files_state()
        self._checked = clock()
        self.dictionary = ActorDictionary.load(self.path, cache_dir=self.cache_dir)

    def _files_state(self) -> tuple:
        return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in dictionary_files(self.path))

    def current(self) -> ActorDictionary:
        now = self._clock()
        if now - self._checked < self.interval:
            return self.dictionary
        self._checked = now
        try:
            state = self._files_state()
        except (OSError, ValueError):
            return self.dictionary
        if state != self._state:
            self._state = state  # a broken edit is reported once, not at every check
            try:
                self.dictionary = ActorDictionary.load(self.path, cache_dir=self.cache_dir)
                log.info("actor dictionary reloaded: %s", self.dictionary.version)
            except Exception:
                log.exception("actor dictionary %s not reloaded; keeping %s", self.path or "(bundled)",
                              self.dictionary.version)
        return self.dictionary
