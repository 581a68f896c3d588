"""Curating the actor dictionary: add an actor, promote a candidate, mirror the dictionary into ClickHouse.

The YAML file stays the source of truth; edits are appended as text (comments and layout survive), checked by
loading the result before it replaces the file, and a running worker picks them up through DictionaryWatcher.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import yaml

from schemas import ACTORS_PATH
from streams.pipeline.arabic import normalize
from streams.pipeline.dictionary import ActorDictionary, validate_entry
from streams.pipeline.stages.candidates import CANDIDATE_PREFIX
from streams.settings import Settings
from streams.warehouse.client import Warehouse, connect


def slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def installed_package_file(path: Path) -> bool:
    """A file pip installed (site-packages), not one in a clone: writing there is lost at the next install."""
    return any(part in ("site-packages", "dist-packages") for part in path.resolve().parts)


def edit_target(path: Path | None = None) -> Path:
    """The file `actors add` appends to: the named file; in a dictionary directory, its actors.yaml (created on
    first use); by default the bundled schemas/actors.yaml (the other bundled files are curated by region)."""
    if path is None:
        if installed_package_file(ACTORS_PATH):
            raise ValueError(f"the bundled dictionary {ACTORS_PATH} belongs to the installed package (an upgrade "
                             "would erase the addition): copy it out and set NEWSSTREAM_ACTORS_PATH to the copy")
        return ACTORS_PATH
    path = Path(path)
    return path / "actors.yaml" if path.is_dir() else path


def add_actor(entry: dict, path: Path | None = None, cache_dir: Path | None | str = "default") -> ActorDictionary:
    """Append one validated actor to the dictionary; the new dictionary, or ValueError and the files untouched.
    Ids and full aliases are checked against every file of the dictionary, not only the one written."""
    target = edit_target(path)
    entry = {k: v for k, v in entry.items() if v not in (None, {}, [])}
    actor = validate_entry(entry)
    current = ActorDictionary.load(path, cache_dir=cache_dir)
    if actor.actor_id in current.actors:
        raise ValueError(f"actor id {actor.actor_id!r} already exists ({current.actors[actor.actor_id].name})")
    listed = {}
    for other in current.actors.values():
        for aliases in other.aliases.values():
            for alias in aliases:
                listed[" ".join(normalize(alias).split())] = other.actor_id
    for aliases in actor.aliases.values():
        for alias in aliases:
            if (owner := listed.get(" ".join(normalize(alias).split()))) is not None:
                raise ValueError(f"alias {alias!r} already belongs to {owner!r}; a full alias names one actor")
    text = target.read_text("utf-8") if target.exists() else "actors:\n"
    first = re.search(r"^( *)- ", text.split("\nactors:", 1)[-1], re.M)
    indent = first.group(1) if first else ""  # the list's own indentation (its first item's), so the entry joins it
    block = "".join(indent + line if line.strip() else line for line in
                    yaml.safe_dump([entry], allow_unicode=True, sort_keys=False, width=120).splitlines(True))
    new_text = text + ("" if text.endswith("\n") else "\n") + block
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".actors-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(new_text)
        created = not target.exists()
        # mkstemp makes the file private; the dictionary keeps its mode (a new file: the usual umask one)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, target.stat().st_mode & 0o777 if not created else 0o666 & ~umask)
        if created:  # a new file in a dictionary directory: checked as part of it
            target.write_text("actors: []\n", encoding="utf-8")
        try:
            loaded = ActorDictionary.load(path, replace={target: Path(tmp)}, cache_dir=cache_dir)
        except (ValueError, yaml.YAMLError) as exc:
            if created:
                target.unlink(missing_ok=True)
            raise ValueError(
                f"{target}: the file would not load after appending: {exc}".replace(tmp, str(target))) from exc
        if actor.actor_id not in loaded.actors or len(loaded.actors) != len(current.actors) + 1:
            if created:
                target.unlink(missing_ok=True)
            raise ValueError(f"{target}: appending did not add exactly one actor (is 'actors:' the file's last key?)")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ActorDictionary.load(path, cache_dir=cache_dir)


def promotion_entry(candidate: str, *, actor_id: str | None, name: str | None, type_: str = "person",
                    country: str | None = None, role: str | None = None,
                    extra_aliases: dict[str, list[str]] | None = None) -> dict:
    """A dictionary entry for a candidate: its name as an alias, its last word as the short form."""
    if not candidate.startswith(CANDIDATE_PREFIX) or not candidate[len(CANDIDATE_PREFIX):].strip():
        raise ValueError(f"not a candidate id: {candidate!r} (expected '{CANDIDATE_PREFIX}<name>')")
    found = " ".join(candidate[len(CANDIDATE_PREFIX):].split())
    latin = found.isascii()
    if name is None:
        if not latin:
            raise ValueError("give --name: the canonical English name of this actor")
        name = found.title()
    lang = "en" if latin else "ar"
    aliases = {lang: [name if latin else found]}
    for extra_lang, values in (extra_aliases or {}).items():
        aliases.setdefault(extra_lang, [])
        aliases[extra_lang] += [v for v in values if v not in aliases[extra_lang]]
    words = found.split()
    short = {lang: [name.split()[-1] if latin else words[-1]]} if len(words) > 1 and len(words[-1]) >= 3 else {}
    return {"id": actor_id or slug(name), "name": name, "type": type_, "country": country, "role": role,
            "aliases": aliases, "short": short, "promoted_from": f"{CANDIDATE_PREFIX}{found}"}


def candidate_seen(settings: Settings, candidate: str) -> bool:
    """Whether the warehouse holds mentions of this candidate, or entities under its name: a typo in the id must
    not become an actor that matches nothing. A warehouse without those tables yet has seen nothing."""
    with connect(settings) as warehouse:
        _, tables = warehouse.query("SELECT name FROM system.tables WHERE database = currentDatabase() "
                                    "AND name IN ('candidate_mentions', 'entities')")
        if len(tables) < 2:
            return False
        _, [(found,)] = warehouse.query(
            "SELECT (SELECT count() FROM candidate_mentions WHERE candidate_id = {candidate:String}) "
            "+ (SELECT count() FROM entities WHERE key = {name:String})",
            {"candidate": candidate, "name": candidate.removeprefix(CANDIDATE_PREFIX)})
    return found > 0


def actor_rows(dictionary: ActorDictionary) -> list[dict]:
    now = datetime.now(UTC)
    return [{"actor_id": a.actor_id, "name": a.name, "type": a.type, "country": a.country, "role": a.role,
             "aliases": a.aliases, "short": a.short, "promoted_from": a.promoted_from,
             "dictionary_version": dictionary.version, "synced_at": now} for a in dictionary.actors.values()]


def sync_actors(warehouse: Warehouse, dictionary: ActorDictionary) -> int:
    """Make the `actors` table hold exactly this dictionary version; returns the number of actors."""
    warehouse.insert_rows("actors", actor_rows(dictionary))
    warehouse.client.command("DELETE FROM actors WHERE dictionary_version != {v:String}",
                             parameters={"v": dictionary.version})
    return len(dictionary.actors)


def run_actors_sync(settings: Settings) -> dict:
    """`newsstream actors sync`: the worker holding the embedded warehouse mirrors the dictionary it has loaded;
    a direct client mirrors the one at settings.actors_path."""

    def here(warehouse: Warehouse) -> dict:
        dictionary = ActorDictionary.from_settings(settings)
        warehouse.migrate()
        return {"actors": sync_actors(warehouse, dictionary), "dictionary_version": dictionary.version}

    with connect(settings) as warehouse:
        return warehouse.maintain("actors-sync", {}, here)
