"""`newsstream`: a thin command line over the library."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from pathlib import Path


def _settings():
    from pydantic import ValidationError

    from streams.errors import UserError
    from streams.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:  # a bad environment variable: one line naming it
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise UserError(f"bad setting {where}: {first.get('msg', exc)}") from None


def cmd_run(args) -> int:
    from streams.worker import run_worker

    return run_worker(_settings()) or 0


def cmd_ingest(args) -> int:
    from streams.broker import kafka_url
    from streams.ingest import ingest

    settings = _settings()
    url = kafka_url(settings)
    if url is None:
        print("no broker: set KAFKA_URL or start one with `newsstream run`", file=sys.stderr)
        return 2
    report = asyncio.run(ingest(args.paths, settings, url, progress=not args.quiet))
    print(f"sent {report.sent} pages to the raw topic; {report.dead_lettered} dead-lettered {report.reasons or ''}")
    return 0


def cmd_feed(args) -> int:
    import logging

    from streams.broker import kafka_url
    from streams.feeder.config import load_sources
    from streams.feeder.run import run_feeder

    settings = _settings()
    url = kafka_url(settings)
    if url is None:
        print("no broker: set KAFKA_URL or start one with `newsstream run`", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    counters = asyncio.run(run_feeder(settings, load_sources(args.config), url, once=args.once))
    print(json.dumps(counters, indent=1))
    return 0


def cmd_backfill(args) -> int:
    from streams.broker import kafka_url
    from streams.feeder.backfill import backfill

    settings = _settings()
    url = kafka_url(settings)
    if url is None:
        print("no broker: set KAFKA_URL or start one with `newsstream run`", file=sys.stderr)
        return 2
    report = asyncio.run(backfill(args.paths, settings, url, progress=not args.quiet, resend_seen=args.all))
    print(f"sent {report.sent} pages to the raw topic; {report.dead_lettered} dead-lettered {report.reasons or ''}; "
          f"{report.skipped} skipped (URL already sent)")
    return 0


def cmd_process(args) -> int:
    import orjson

    from streams.actors import ActorDictionary
    from streams.budget import CleanBudget
    from streams.inputs import iter_documents
    from streams.process import process_documents
    from streams.steps import clean_limits

    settings = _settings()
    limits = clean_limits(settings)
    dictionary = ActorDictionary.load(settings.actors_path)
    out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")
    try:
        with CleanBudget(settings.clean_timeout_seconds) as budget:
            for line in process_documents(iter_documents(args.paths, max_bytes=settings.max_page_bytes),
                                          limits=limits, dictionary=dictionary, max_mentions=settings.max_mentions,
                                          budget=budget):
                out.write(orjson.dumps(line) + b"\n")
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    return 0


def cmd_sql(args) -> int:
    from streams.query import analyst_sql, format_table

    answer = analyst_sql(_settings(), args.query, _params(args.param) or None)
    columns, rows = answer.columns, answer.rows
    if args.format == "json":
        print(json.dumps([dict(zip(columns, r)) for r in rows], ensure_ascii=False, default=str, indent=1))
    else:
        print(format_table(columns, rows))
    _say_if_cut(answer)
    return 0


def _say_if_cut(answer) -> None:
    if answer.cut:
        print(f"newsstream: result cut at {len(answer.rows)} rows (NEWSSTREAM_SQL_MAX_RESULT_ROWS / "
              "NEWSSTREAM_SQL_MAX_RESULT_BYTES); narrow the query or add LIMIT", file=sys.stderr)


def cmd_reconcile(args) -> int:
    from streams.reconcile import run_maintenance

    report = run_maintenance(_settings(), "reconcile", dry_run=args.dry_run, grace_seconds=args.grace)
    print(json.dumps(report, indent=1, default=str))
    return 0


def cmd_replay(args) -> int:
    from streams.reconcile import run_maintenance

    report = run_maintenance(_settings(), "replay", stage=args.stage, reason=args.reason, since=args.since,
                             dry_run=args.dry_run)
    print(json.dumps(report, indent=1, default=str))
    return 0


def _params(pairs: list[str]) -> dict[str, str]:
    bad = [p for p in pairs if "=" not in p]
    if bad:
        raise SystemExit(f"--param takes name=value, got {bad[0]!r}")
    return dict(p.split("=", 1) for p in pairs)


def cmd_cookbook(args) -> int:
    from streams.cookbook import queries
    from streams.query import analyst_sql, format_table

    book = queries()
    if not args.name:
        for name, query in book.items():
            params = " ".join(f"--param {p}={query.example_params.get(p, '...')}" for p in query.params)
            print(f"{name}\n    {query.question}" + (f"\n    {params}" if params else ""))
        return 0
    if args.name not in book:
        print(f"no cookbook query {args.name!r}; `newsstream cookbook` lists them", file=sys.stderr)
        return 2
    query = book[args.name]
    params = _params(args.param)
    missing = set(query.params) - params.keys()
    if missing:
        print(f"{args.name} needs --param " + " --param ".join(f"{m}=..." for m in sorted(missing)), file=sys.stderr)
        return 2
    answer = analyst_sql(_settings(), query.sql, params)
    print(format_table(answer.columns, answer.rows))
    _say_if_cut(answer)
    return 0


def cmd_report(args) -> int:
    from datetime import date, timedelta

    from streams.query import run_sql
    from streams.report import write_report

    settings = _settings()
    until = date.fromisoformat(args.until) if args.until else date.today()
    since = date.fromisoformat(args.since) if args.since else until - timedelta(weeks=26)
    path = write_report(Path(args.out), lambda sql, params: run_sql(settings, sql, params), since=since,
                        until=until, metric=args.metric, top=args.top, actors=args.actor)
    print(path)
    return 0


def cmd_migrate(args) -> int:
    from streams.warehouse import Warehouse

    applied = Warehouse(_settings().warehouse_url).migrate(cluster=args.cluster)
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def cmd_demo(args) -> int:
    from streams.demo import run_demo

    return run_demo(_settings(), [Path(p) for p in args.paths] or None)


def cmd_config(args) -> int:
    from streams.settings import Settings

    settings = _settings()
    values = settings.model_dump()
    from streams.settings import mask_url_password

    for (var, help_text), name in zip(Settings.env_vars().items(), Settings.model_fields):
        value = values[name] if values[name] is not None else ""
        print(f"{var}={mask_url_password(str(value))}\n    {help_text}")
    print(f"# warehouse in use: {mask_url_password(settings.warehouse_url)}")
    return 0


def cmd_schemas(args) -> int:
    from streams.jsonschema import write_topic_schemas

    for path in write_topic_schemas():
        print(path)
    return 0


def _grace_seconds(text: str) -> float:
    """A finite number >= 0: a negative grace would re-send every page still in flight; nan/inf break the cutoff."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsstream", description=__doc__.split(":", 1)[-1].strip())
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("run", help="run a worker (starts the local broker when KAFKA_URL is unset)").set_defaults(func=cmd_run)

    p = sub.add_parser("ingest", help="produce HTML files, folders or JSONL records to the raw topic")
    p.add_argument("paths", nargs="+")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("feed", help="poll the sources of a YAML file (feeds, sitemaps, URL lists) into the raw topic")
    p.add_argument("--config", required=True, help="sources file, e.g. deploy/sources.yaml")
    p.add_argument("--once", action="store_true", help="one pass over every source, then exit")
    p.set_defaults(func=cmd_feed)

    p = sub.add_parser("backfill", help="WARC files, HTML folders and JSONL into the raw topic, marked as seen; "
                       "URLs already sent are skipped")
    p.add_argument("paths", nargs="+")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--all", action="store_true", help="send pages whose URL was already sent too")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("process", help="run the stages offline, one JSON line per input document")
    p.add_argument("paths", nargs="+")
    p.add_argument("--out", required=True, help="output file, '-' for stdout")
    p.set_defaults(func=cmd_process)

    p = sub.add_parser("sql", help="query the warehouse (through the worker when it holds the embedded one)")
    p.add_argument("query")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="query parameter for {NAME:Type} placeholders")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("cookbook", help="list the analyst queries in schemas/queries/, or run one by name")
    p.add_argument("name", nargs="?")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.set_defaults(func=cmd_cookbook)

    p = sub.add_parser("reconcile", help="re-send raw messages that have no outcome (article or dead letter) yet")
    p.add_argument("--dry-run", action="store_true", help="only count and list them")
    p.add_argument("--grace", type=_grace_seconds, default=None,
                   help="seconds a message may be in flight (default NEWSSTREAM_RECONCILE_GRACE_SECONDS)")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("replay", help="re-send the raw pages of dead letters, after a fix")
    p.add_argument("--stage", help="only dead letters of this stage (clean, entities, stories, sink)")
    p.add_argument("--reason", help="only dead letters with this reason")
    p.add_argument("--since", help="only dead letters written since this time (ISO 8601)")
    p.add_argument("--dry-run", action="store_true", help="only count them")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("report", help="write a self-contained HTML chart of mentions per actor per week")
    p.add_argument("--out", default="newsstream-report.html")
    p.add_argument("--since", help="first day (YYYY-MM-DD); default: 26 weeks before --until")
    p.add_argument("--until", help="last day (YYYY-MM-DD); default: today")
    p.add_argument("--metric", choices=["stories", "mentions", "articles"], default="stories")
    p.add_argument("--top", type=int, default=8, help="how many actors to draw when --actor is not given")
    p.add_argument("--actor", action="append", default=[], help="actor id to draw (repeatable)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("migrate", help="apply pending warehouse migrations")
    p.add_argument("--cluster", help="run every statement ON CLUSTER this cluster, with Replicated engines")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("demo", help="broker + worker + embedded ClickHouse, stream the sample corpus, print weekly counts")
    p.add_argument("paths", nargs="*", help="pages to stream instead of the bundled samples")
    p.set_defaults(func=cmd_demo)

    from streams.cli_actors import register as register_actor_commands

    register_actor_commands(sub)
    from streams.cli_archive import register as register_archive_commands

    register_archive_commands(sub)
    sub.add_parser("config", help="print every setting, its environment variable and value").set_defaults(func=cmd_config)
    sub.add_parser("schemas", help="regenerate schemas/topics/*.schema.json from the record models").set_defaults(
        func=cmd_schemas)
    return parser


def main(argv: list[str] | None = None) -> int:
    from streams.errors import UserError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:  # one readable line, no traceback
        print(f"newsstream: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `newsstream cookbook | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
