"""`newsstream actors ...` and `newsstream reprocess`: thin commands over streams.ops.catalog and
streams.ops.reprocess."""

from __future__ import annotations

import argparse
import json

from schemas import ACTOR_TYPES, LANGUAGES  # not the dictionary's loader: building the parser stays cheap


def _settings():
    from streams.settings import load_settings

    return load_settings()


def _aliases(args, prefix: str = "") -> dict[str, list[str]]:
    return {lang: values for lang in LANGUAGES if (values := getattr(args, f"{prefix}{lang}"))}


def cmd_add(args) -> int:
    from streams.ops.catalog import add_actor, edit_target

    settings = _settings()
    entry = {"id": args.id, "name": args.name, "type": args.type, "country": args.country, "role": args.role,
             "aliases": _aliases(args), "short": _aliases(args, "short_")}
    dictionary = add_actor(entry, settings.actors_path, cache_dir=settings.cache_dir)
    print(f"added {args.id} to {edit_target(settings.actors_path)}; dictionary version {dictionary.version} "
          f"({len(dictionary.actors)} actors). A running worker picks it up; `newsstream reprocess` recounts the past.")
    return 0


def cmd_promote(args) -> int:
    from streams.cli.commands import _shown
    from streams.errors import UserError
    from streams.ops.catalog import add_actor, candidate_seen, promotion_entry
    from streams.pipeline.stages.candidates import CANDIDATE_PREFIX

    settings = _settings()
    # An entity key (a name from the `entities` table) promotes like the candidate of that name.
    if not args.candidate.startswith(CANDIDATE_PREFIX):
        if not args.candidate.strip():
            raise ValueError("give a candidate id (candidate:<name>) or a name key from the entities table")
        args.candidate = CANDIDATE_PREFIX + " ".join(args.candidate.split())
    entry = promotion_entry(args.candidate, actor_id=args.id, name=args.name, type_=args.type, country=args.country,
                            role=args.role, extra_aliases=_aliases(args))
    if not args.force and not _warehouse_answer(settings, candidate_seen, entry["promoted_from"]):
        raise UserError(f"{entry['promoted_from']!r} is neither a candidate nor an entity key in the warehouse "
                        f"{_shown(settings.warehouse_url)} (`newsstream sql \"SELECT candidate_id FROM candidates "
                        "LIMIT 20\"` lists candidates); --force promotes it anyway")
    dictionary = add_actor(entry, settings.actors_path, cache_dir=settings.cache_dir)
    print(f"promoted {args.candidate} to {entry['id']} ({entry['name']}) in {dictionary.path}; "
          f"dictionary version {dictionary.version}. `newsstream reprocess --since ... --until ...` recounts it.")
    return 0


def _warehouse_answer(settings, ask, *args):
    """A warehouse question from an actors command; its refusal (unknown table, unreachable) as one line."""
    from clickhouse_connect.driver.exceptions import Error as ClickHouseError

    from streams.cli.commands import _warehouse_error

    try:
        return ask(settings, *args)
    except ClickHouseError as exc:
        raise _warehouse_error(exc, settings) from exc


def cmd_list(args) -> int:
    from streams.pipeline.dictionary import ActorDictionary
    from streams.warehouse.query import format_table

    dictionary = ActorDictionary.from_settings(_settings())
    needle = (args.search or "").lower()
    rows = [(a.actor_id, a.name, a.type, a.country or "", a.role or "") for a in dictionary.actors.values()
            if (not args.type or a.type == args.type) and (
                not needle or needle in a.actor_id or needle in a.name.lower()
                or any(needle in x.lower() for v in (a.aliases | a.short).values() for x in v))]
    print(format_table(["actor_id", "name", "type", "country", "role"], rows))
    print(f"dictionary {dictionary.path} ({len(dictionary.files)} file(s), {len(dictionary.actors)} actors), "
          f"version {dictionary.version}")
    return 0


def cmd_show(args) -> int:
    from streams.pipeline.dictionary import ActorDictionary

    dictionary = ActorDictionary.from_settings(_settings())
    actor = dictionary.actors.get(args.id)
    if actor is None:
        from streams.errors import UserError

        raise UserError(f"no actor {args.id!r} in {dictionary.path}; `newsstream actors list --search ...` finds ids")
    print(json.dumps({"id": actor.actor_id, "name": actor.name, "type": actor.type, "country": actor.country,
                      "role": actor.role, "aliases": actor.aliases, "short": actor.short,
                      "roles": [{"title": r.title, "country": r.country, "from": r.start, "to": r.end}
                                for r in actor.roles],
                      "promoted_from": actor.promoted_from, "source": actor.source,
                      "dictionary_version": dictionary.version},
                     ensure_ascii=False, indent=1))
    return 0


def cmd_sync(args) -> int:
    from streams.ops.catalog import run_actors_sync

    print(json.dumps(run_actors_sync(_settings()), indent=1))
    return 0


def cmd_reprocess(args) -> int:
    from streams.ops.reprocess import run_reprocess

    if args.from_archive:
        from streams.cli.archive import reprocess_from_archive

        return reprocess_from_archive(args.since, args.until, dry_run=args.dry_run)

    print(json.dumps(run_reprocess(_settings(), args.since, args.until), indent=1, ensure_ascii=False))
    return 0


def _guard(func):
    """A refused edit or an unreachable warehouse is one clear line, not a traceback."""
    from streams.errors import UserError

    def run(args) -> int:
        try:
            return func(args)
        except BrokenPipeError:  # `actors list | head -1`: the CLI's dispatcher ends quietly
            raise
        except (ValueError, RuntimeError, LookupError, OSError) as exc:
            raise UserError(" ".join(str(exc).split())) from exc
    return run


def _alias_options(p: argparse.ArgumentParser, short: bool = True) -> None:
    for lang in LANGUAGES:
        p.add_argument(f"--{lang}", action="append", default=[], metavar="NAME", help=f"full-name alias in {lang}")
        if short:
            p.add_argument(f"--short-{lang}", dest=f"short_{lang}", action="append", default=[], metavar="NAME",
                           help=f"short form in {lang} (surname, acronym)")


def register(sub) -> None:
    from streams.cli.commands import _command

    actors = _command(sub, "actors", "the actor dictionary: add, list, show, promote a candidate, sync to SQL", """
  newsstream actors list --search lavrov
  newsstream actors add --id jean-marc-ayrault --name "Jean-Marc Ayrault" --type person --country FR \\
      --ar "جان مارك أيرولت"
""")
    commands = actors.add_subparsers(dest="actors_command", required=True)

    p = _command(commands, "add", "append a validated actor to the dictionary file (NEWSSTREAM_ACTORS_PATH)", """
  newsstream actors add --id jean-marc-ayrault --name "Jean-Marc Ayrault" --type person --country FR \\
      --role "French foreign minister" --ar "جان مارك أيرولت" --short-ar "أيرولت"
""")
    p.add_argument("--id", required=True, help="stable slug, e.g. jean-marc-ayrault")
    p.add_argument("--name", required=True, help="canonical English name")
    p.add_argument("--type", required=True, choices=ACTOR_TYPES)
    p.add_argument("--country", help="ISO 3166-1 alpha-2")
    p.add_argument("--role")
    _alias_options(p)
    p.set_defaults(func=_guard(cmd_add))

    p = _command(commands, "promote", "turn a candidate (candidate:<name>) or an entity key into a dictionary entry",
                 """
  newsstream sql "SELECT candidate_id, articles FROM candidates ORDER BY articles DESC LIMIT 10"
  newsstream actors promote "candidate:ahmed aboul gheit" --name "Ahmed Aboul Gheit" --country EG
""")
    p.add_argument("candidate", help="candidate id, as in the `candidates` view, or a name key from `entities`")
    p.add_argument("--name", help="canonical English name (required for an Arabic candidate)")
    p.add_argument("--id", help="slug (default: from --name)")
    p.add_argument("--type", default="person", choices=ACTOR_TYPES)
    p.add_argument("--country")
    p.add_argument("--role")
    p.add_argument("--force", action="store_true",
                   help="promote even when the warehouse has never seen this candidate or entity key")
    _alias_options(p, short=False)
    p.set_defaults(func=_guard(cmd_promote))

    p = _command(commands, "list", "actors in the dictionary", """
  newsstream actors list --type person
  newsstream actors list --search lavrov
""")
    p.add_argument("--type", choices=ACTOR_TYPES)
    p.add_argument("--search", help="part of an id, name or alias")
    p.set_defaults(func=_guard(cmd_list))

    p = _command(commands, "show", "one actor with its aliases", """
  newsstream actors show sergey-lavrov
""")
    p.add_argument("id")
    p.set_defaults(func=_guard(cmd_show))

    _command(commands, "sync", "write the dictionary to the warehouse's `actors` table", """
  newsstream actors sync
""").set_defaults(func=_guard(cmd_sync))

    p = _command(sub, "reprocess", "re-run actor extraction over stored articles published in [since, until); "
                 "with --from-archive, the whole pipeline over archived pages that entered in [since, until)", """
  newsstream reprocess --since 2024-01-01 --until 2024-02-01
  newsstream reprocess --from-archive --since 2024-01-01 --until 2024-02-01 --dry-run
""")
    p.add_argument("--since", required=True, help="YYYY-MM-DD or ISO 8601 (inclusive)")
    p.add_argument("--until", required=True, help="YYYY-MM-DD or ISO 8601 (exclusive)")
    p.add_argument("--from-archive", action="store_true",
                   help="re-send the raw pages from the archive (cleaning included), e.g. after a trafilatura upgrade")
    p.add_argument("--dry-run", action="store_true", help="with --from-archive: only count the pages")
    p.set_defaults(func=_guard(cmd_reprocess))
