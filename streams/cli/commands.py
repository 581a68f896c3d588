"""`newsstream`: a thin command line over the library."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import traceback
from pathlib import Path

from schemas import DEAD_LETTER_STAGES
from streams.collector import set_thresholds
from streams.errors import UserError, make_directory


def _settings():
    from streams.settings import load_settings

    return load_settings()


def _existing_paths(paths: list[str]) -> list[str]:
    """Input paths must exist: a typo is a usage error, not a dead letter."""
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise UserError(f"no such file or folder: {missing[0]}")
    return paths


def _writable(out: str) -> Path:
    """An output file whose folder exists, checked before any work is done."""
    path = Path(out)
    if path.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name")
    if not path.parent.is_dir():
        raise UserError(f"--out {out}: no such folder {path.parent}")
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise UserError(f"--out {out}: permission denied")
    return path


def _broker(settings) -> str:
    from streams.runtime.broker import kafka_url

    url = kafka_url(settings)
    if url is None:
        raise UserError("no broker: set KAFKA_URL or start one with `newsstream run`")
    return url


def _shown(url: str) -> str:
    """A URL for a message: without its password."""
    from streams.settings import mask_url_password

    return mask_url_password(url)


def _warehouse_error(exc: Exception, settings) -> UserError:
    """A warehouse refusal (bad SQL, unknown table, bad parameter) as one line; a hint when the warehouse is empty."""
    import re

    from clickhouse_connect.driver.exceptions import OperationalError

    from streams.errors import warehouse_error_line

    where = _shown(settings.warehouse_url)
    if settings.embedded_warehouse and "EmbeddedServer" in str(exc):  # chDB could not lock its directory
        return UserError(f"another process holds the embedded warehouse {where} (chDB allows one "
                         "process per directory); stop it, or start `newsstream run` so commands go through it")
    if isinstance(exc, OperationalError) and "Code:" not in str(exc):  # the server did not answer
        reason = re.search(r"\[Errno -?\d+\] ([^\"')]+)", str(exc))
        return UserError(f"cannot reach the warehouse {where}: {reason.group(1) if reason else 'no answer'}")
    line = warehouse_error_line(str(exc))
    if "UNKNOWN_TABLE" in line or "Unknown table" in line:
        demo = settings.data_path / "demo"
        line += f" (warehouse {where}"
        if settings.embedded_warehouse and (demo / "clickhouse").is_dir():
            line += f"; the demo's data is in {demo}: NEWSSTREAM_DATA_DIR={demo} newsstream sql ..."
        elif (name := re.search(r"identifier '(\w+)'|[Tt]able \S*?\.?(\w+) does(?:n't| not) exist", line)) and \
                (name.group(1) or name.group(2)) in _schema_objects():
            line += "; not created yet: `newsstream migrate` (or `newsstream run`) creates the project's tables"
        line += ")"
    return UserError(line)


def _schema_objects() -> set[str]:
    """The tables and views the migrations create (schemas/migrations/)."""
    import re

    from streams.warehouse.client import migrations

    return {m for _, _, sql in migrations()
            for m in re.findall(r"CREATE (?:MATERIALIZED )?(?:TABLE|VIEW) IF NOT EXISTS (\w+)", sql)}


def _query(settings, sql: str, params: dict[str, str] | None = None) -> tuple[list[str], list[tuple]]:
    """Every row of a query (report): an answer the door cut short is an error, not a partial chart."""
    from streams.warehouse.query import run_sql

    return _refusals_as_one_line(settings, run_sql, sql, params)


def _analyst(settings, sql: str, params: dict[str, str] | None = None):
    """The analyst's answer (sql, cookbook), possibly cut at the door's limits."""
    from streams.warehouse.query import analyst_sql

    return _refusals_as_one_line(settings, analyst_sql, sql, params)


def _refusals_as_one_line(settings, ask, sql: str, params: dict[str, str] | None):
    """The warehouse's refusals mapped to UserError at the CLI edge."""
    from clickhouse_connect.driver.exceptions import Error as ClickHouseError

    try:
        return ask(settings, sql, params)
    except UserError as exc:  # worded where it was raised; ClickHouse's own text in it tidied to one line
        if any(mark in str(exc) for mark in ("Code: ", "Expected one of", "\n", "Unknown table")):
            raise _warehouse_error(exc, settings) from exc
        raise
    except (ClickHouseError, LookupError) as exc:
        raise _warehouse_error(exc, settings) from exc
    except OSError as exc:
        raise UserError(f"cannot reach the warehouse {_shown(settings.warehouse_url)}: {exc}") from exc


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {value!r}")
    return number


def _date(value: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _when(value: str) -> str:
    """A time for `replay --since`: checked here, passed on as typed (the warehouse parses it)."""
    from datetime import datetime

    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time (ISO 8601, e.g. 2024-05-01T00:00:00): {value!r}") from None
    return value


def cmd_run(args) -> int:
    from streams.runtime.worker import run_worker

    settings = _settings()
    make_directory(settings.data_path, f"NEWSSTREAM_DATA_DIR={settings.data_dir}")
    return run_worker(settings) or 0


def cmd_ingest(args) -> int:
    from streams.inputs.ingest import ingest

    _existing_paths(args.paths)
    settings = _settings()
    url = _broker(settings)
    report = asyncio.run(ingest(args.paths, settings, url, progress=not args.quiet))
    print(f"sent {report.sent} pages to the raw topic; {report.dead_lettered} dead-lettered {report.reasons or ''}")
    return 0


def cmd_feed(args) -> int:
    import logging

    import yaml
    from pydantic import ValidationError

    from streams.inputs.feeder.config import load_sources
    from streams.inputs.feeder.run import run_feeder

    try:  # the sources file is checked before the broker: its mistakes are the user's to fix first
        sources = load_sources(args.config)
    except OSError as exc:
        raise UserError(f"--config {args.config}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"--config {args.config}: not YAML: {' '.join(str(exc).split())}") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise UserError(f"--config {args.config}: {where + ': ' if where else ''}{error['msg']}") from exc
    settings = _settings()
    url = _broker(settings)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    counters = asyncio.run(run_feeder(settings, sources, url, once=args.once))
    print(json.dumps(counters, indent=1))
    return 0


def cmd_backfill(args) -> int:
    from streams.inputs.feeder.backfill import backfill

    _existing_paths(args.paths)
    settings = _settings()
    url = _broker(settings)
    report = asyncio.run(backfill(args.paths, settings, url, progress=not args.quiet, resend_seen=args.all))
    print(f"sent {report.sent} pages to the raw topic; {report.dead_lettered} dead-lettered {report.reasons or ''}; "
          f"{report.skipped} skipped (URL already sent)")
    return 0


def cmd_process(args) -> int:
    # Python's recipe for a parent that forks: no cyclic GC while the start-up builds long-lived objects (imports,
    # the language model, the dictionary: ~0.1 s of collections that found almost nothing), frozen before the fork
    # (budget.CleanBudget) and again once the dictionary is loaded, enabled in the children (budget._warm_up) and here.
    gc.disable()
    try:
        return _process(args)
    finally:
        gc.enable()


def _process(args) -> int:
    import orjson

    from streams.inputs.paths import iter_documents
    from streams.pipeline.budget import CleanBudget
    from streams.pipeline.dictionary import ActorDictionary
    from streams.pipeline.ner.model import shipped as shipped_recognizer
    from streams.pipeline.offline import process_documents
    from streams.pipeline.steps import clean_limits

    _existing_paths(args.paths)
    settings = _settings()
    limits = clean_limits(settings)
    if args.out != "-":
        _writable(args.out)  # before any work: a wrong --out is one line at once

    def dictionary() -> ActorDictionary:  # loaded once the first pages are queued: the cleaning children start on them
        loaded = ActorDictionary.from_settings(settings)
        loaded.scanner  # noqa: B018  (built now, while the children clean, not at the first entities call)
        try:  # the recognizer too, before the GC is on: its gazetteer's ~100,000 containers are frozen with the
            shipped_recognizer()  # dictionary instead of walked by the first collections (~85 ms of CPU measured)
        except Exception:  # process_documents tries again, and each article's line says why it failed
            pass
        gc.freeze()
        gc.enable()
        return loaded

    with CleanBudget(settings.clean_timeout_seconds, workers=args.jobs, cache_dir=settings.cache_dir) as budget:
        # the cleaning children start (and warm up) as the first input is read: process_documents starts them
        out = None  # opened at the first line: a dictionary that fails to load leaves no file behind
        try:
            for line in process_documents(iter_documents(args.paths, max_bytes=settings.max_page_bytes),
                                          limits=limits, dictionary=dictionary, max_mentions=settings.max_mentions,
                                          budget=budget, batch=settings.entities_batch_size, close_budget=True,
                                          batch_chars=settings.entities_batch_chars):
                out = out or _output(args.out)
                out.write(orjson.dumps(line) + b"\n")
            out = out or _output(args.out)
            out.flush()
        except OSError as exc:  # a full disk, a closed pipe: the output, not the inputs
            raise UserError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from exc
        finally:
            if out is not None and out is not sys.stdout.buffer:
                try:
                    out.close()
                except OSError:
                    pass  # already said above
    return 0


def _output(path: str):
    try:
        return sys.stdout.buffer if path == "-" else open(_writable(path), "wb")
    except OSError as exc:
        raise UserError(f"--out {path}: {exc.strerror or exc}") from exc


def cmd_sql(args) -> int:
    from streams.warehouse.query import format_table

    answer = _analyst(_settings(), args.query, _params(args.param) or None)
    columns, rows = answer.columns, answer.rows
    if args.format == "json":
        print(json.dumps([dict(zip(columns, r, strict=False)) for r in rows],
                         ensure_ascii=False, default=str, indent=1))
    else:
        print(format_table(columns, rows))
    _say_if_cut(answer)
    return 0


def _say_if_cut(answer) -> None:
    if answer.cut:
        print(f"newsstream: result cut at {len(answer.rows)} rows (NEWSSTREAM_SQL_MAX_RESULT_ROWS / "
              "NEWSSTREAM_SQL_MAX_RESULT_BYTES); narrow the query or add LIMIT", file=sys.stderr)


def _maintenance(action: str, **params) -> dict:
    """reconcile / replay: through the worker, or directly with a broker; their refusals as one line."""
    from clickhouse_connect.driver.exceptions import Error as ClickHouseError

    from streams.ops.reconcile import run_maintenance

    settings = _settings()
    try:
        return run_maintenance(settings, action, **params)
    except UserError:
        raise
    except (ClickHouseError, LookupError) as exc:
        raise _warehouse_error(exc, settings) from exc
    except (RuntimeError, ValueError) as exc:  # a refused parameter (grace out of range, a bad date) included
        raise UserError(str(exc)) from exc


def cmd_reconcile(args) -> int:
    report = _maintenance("reconcile", dry_run=args.dry_run, grace_seconds=args.grace)
    print(json.dumps(report, indent=1, default=str))
    return 0


def cmd_replay(args) -> int:
    report = _maintenance("replay", stage=args.stage, reason=args.reason, since=args.since, dry_run=args.dry_run)
    print(json.dumps(report, indent=1, default=str))
    return 0


def _params(pairs: list[str]) -> dict[str, str]:
    bad = [p for p in pairs if "=" not in p]
    if bad:
        raise UserError(f"--param takes NAME=VALUE, got {bad[0]!r}")
    return dict(p.split("=", 1) for p in pairs)


def _check_params(sql: str, params: dict[str, str], examples: dict[str, str]) -> None:
    """Dates and integers checked before the query runs, so the message names the parameter.

    A parameter is a date when its type is Date or its documented example is one (`toDate({week:String})`).
    """
    import re
    from datetime import date

    def is_date(text: str) -> bool:
        try:
            date.fromisoformat(text)
        except ValueError:
            return False
        return True

    for name, type_ in re.findall(r"\{(\w+):\s*([^}]+?)\s*\}", sql):
        value = params.get(name)
        if value is None:
            continue
        if is_date(examples.get(name, "")) and not is_date(value):
            raise UserError(f"--param {name}={value}: not a date (YYYY-MM-DD), e.g. {name}={examples[name]}")
        try:
            if type_.startswith("Date") and not type_.startswith("DateTime"):
                date.fromisoformat(value)
            elif re.fullmatch(r"U?Int\d+", type_):
                int(value)
        except ValueError:
            raise UserError(f"--param {name}={value}: not a {type_}"
                            + (" (YYYY-MM-DD)" if type_.startswith("Date") else "")) from None


def cmd_cookbook(args) -> int:
    from streams.warehouse.cookbook import queries
    from streams.warehouse.query import format_table

    book = queries()
    if not args.name:
        for name, query in book.items():
            usage = " ".join(f"--param {p}={query.example_params.get(p, '...')}" for p in query.params)
            print(f"{name}\n    {query.question}" + (f"\n    {usage}" if usage else ""))
        return 0
    if args.name not in book:
        raise UserError(f"no cookbook query {args.name!r}; `newsstream cookbook` lists them")
    query = book[args.name]
    params = _params(args.param)
    if unknown := sorted(params.keys() - set(query.params)):
        raise UserError(f"{args.name} has no parameter {unknown[0]!r} "
                        f"(it takes: {', '.join(query.params)})" if query.params else
                        f"{args.name} has no parameter {unknown[0]!r} (it takes none)")
    missing = set(query.params) - params.keys()
    if missing:
        raise UserError(f"{args.name} needs --param " + " --param ".join(f"{m}=..." for m in sorted(missing)))
    _check_params(query.sql, params, query.example_params)
    answer = _analyst(_settings(), query.sql, params)
    print(format_table(answer.columns, answer.rows))
    _say_if_cut(answer)
    return 0


def cmd_report(args) -> int:
    from streams.warehouse.report import data_range, never_mentioned, write_report

    out = _writable(args.out)
    settings = _settings()

    def query(sql, params):
        return _query(settings, sql, params)

    since, until = args.since, args.until
    if since is None or until is None:  # default: the weeks that have data, not the last months from today
        first, last = data_range(query)
        if first is None:
            raise UserError(f"no mentions in the warehouse {_shown(settings.warehouse_url)} yet; nothing to draw")
        since, until = since or first, until or last
    if since > until:
        raise UserError(f"--since {since} is after --until {until}")
    if unknown := never_mentioned(query, args.actor or []):
        raise UserError(f"--actor {unknown[0]}: no mentions of this actor id in the warehouse; "
                        "`newsstream actors list --search ...` finds ids")
    try:
        path = write_report(out, query, since=since, until=until, metric=args.metric, top=args.top,
                            actors=args.actor)
    except OSError as exc:
        raise UserError(f"--out {args.out}: {exc.strerror or exc}") from exc
    print(path)
    return 0


def cmd_migrate(args) -> int:
    from clickhouse_connect.driver.exceptions import Error as ClickHouseError

    from streams.warehouse.client import connect

    settings = _settings()
    try:
        with connect(settings) as warehouse:  # through a running worker: refused, it migrated when it started
            applied = warehouse.migrate(cluster=args.cluster)
    except ClickHouseError as exc:
        raise _warehouse_error(exc, settings) from exc
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def cmd_demo(args) -> int:
    from streams.cli.demo import run_demo

    return run_demo(_settings(), [Path(p) for p in _existing_paths(args.paths)] or None)


def cmd_config(args) -> int:
    from streams.settings import Settings

    settings = _settings()
    values = settings.model_dump()
    from streams.settings import mask_url_password

    for (var, help_text), name in zip(Settings.env_vars().items(), Settings.model_fields, strict=False):
        value = values[name] if values[name] is not None else ""
        print(f"{var}={mask_url_password(str(value))}\n    {help_text}")
    print(f"# warehouse in use: {mask_url_password(settings.warehouse_url)}")
    return 0


def cmd_schemas(args) -> int:
    from streams.pipeline.topic_schemas import write_topic_schemas

    for path in write_topic_schemas():
        print(path)
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line naming the command, like every other user error."""

    def error(self, message: str):
        known = self._option_string_actions
        unknown = [a for a in self._given if a.startswith("-") and a.split("=", 1)[0] not in known]
        if "required" in message and unknown and not any(a in self._commands() for a in self._given):
            message = f"unrecognized arguments: {' '.join(unknown)}"  # `newsstream --nosuch`: the typo, not COMMAND
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")

    _given: list[str] = []

    def _commands(self) -> set[str]:
        return {name for action in self._actions if isinstance(action, argparse._SubParsersAction)
                for name in action.choices}

    def parse_args(self, args=None, namespace=None):
        """Unknown options are reported by the (sub)command they were given to, whose --help lists its options."""
        self._given = list(sys.argv[1:] if args is None else args)
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            getattr(parsed, "command_parser", self).error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


def _command(sub, name: str, help_text: str, examples: str, func=None, **kwargs) -> argparse.ArgumentParser:
    """A subcommand with its help and examples (shown by `newsstream NAME --help`)."""
    p = sub.add_parser(name, help=help_text, description=help_text, epilog="examples:\n" + examples.strip("\n"),
                       formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
    p.set_defaults(command_parser=p)  # the deepest command given wins: its own --help is the one to point at
    if func:
        p.set_defaults(func=func)
    return p


def _default_jobs() -> int:
    from streams.cores import available_cores

    return available_cores()


def _jobs(text: str) -> int:
    """A whole number of cleaning processes, 1 to 64: more would only cost memory (~150 MB each)."""
    try:
        jobs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= jobs <= 64:
        raise argparse.ArgumentTypeError(f"{jobs} is out of range (1 to 64)")
    return jobs


def _grace_seconds(text: str) -> float:
    """Checked before anything runs, by reconcile's own rule (streams.ops.reconcile.checked_grace)."""
    from streams.ops.reconcile import checked_grace

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    try:
        return checked_grace(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="newsstream", description="Monitor news: ingest pages into the streaming pipeline, run its "
                     "workers, and query what it found in the warehouse.",
                     epilog="`newsstream COMMAND --help` shows a command's options and examples; "
                            "`newsstream demo` runs the whole pipeline on the bundled samples.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _command(sub, "run", "run a worker (starts the local broker when KAFKA_URL is unset)", """
  newsstream run                              # broker + worker + embedded ClickHouse in .newsstream/
  NEWSSTREAM_SINK=false newsstream run        # one more worker on the same data directory (free web port)
  KAFKA_URL=kafka://kafka:9092 CLICKHOUSE_URL=http://default:@clickhouse:8123/newsstream newsstream run
""", cmd_run)

    p = _command(sub, "ingest", "produce HTML files, folders or JSONL records to the raw topic", """
  newsstream ingest samples/corpus
  newsstream ingest pages.jsonl crawl/ -q
""", cmd_ingest)
    p.add_argument("paths", nargs="+", help="HTML files, folders of them, JSONL or WARC files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p = _command(sub, "feed", "poll the sources of a YAML file (feeds, sitemaps, URL lists) into the raw topic", """
  newsstream feed --config deploy/sources.yaml --once
  newsstream feed --config deploy/sources.yaml        # poll forever, each source at its interval
""", cmd_feed)
    p.add_argument("--config", required=True, help="sources file, e.g. deploy/sources.yaml")
    p.add_argument("--once", action="store_true", help="one pass over every source, then exit")

    p = _command(sub, "backfill", "WARC files, HTML folders and JSONL into the raw topic, marked as seen; "
                 "URLs already sent are skipped", """
  newsstream backfill archive/2024-01.warc.gz
  newsstream backfill old-site/ --all                 # send URLs that were already sent too
""", cmd_backfill)
    p.add_argument("paths", nargs="+", help="WARC files, HTML folders, JSONL files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--all", action="store_true", help="send pages whose URL was already sent too")

    p = _command(sub, "process", "run the stages offline, one JSON line per input document", """
  newsstream process samples/corpus --out -
  newsstream process page.html --out result.jsonl
""", cmd_process)
    p.add_argument("paths", nargs="+", help="HTML files, folders of them, JSONL or WARC files")
    p.add_argument("--out", required=True, help="output file, '-' for stdout")
    p.add_argument("--jobs", type=_jobs, default=_default_jobs(), metavar="N",
                   help="pages cleaned side by side, one process each (default: the usable cores, at most 4; "
                        "the lines and their order do not change; with NEWSSTREAM_CLEAN_TIMEOUT_SECONDS=0 pages are "
                        "cleaned one at a time in this process)")

    p = _command(sub, "sql", "query the warehouse, read-only (through the worker when it holds the embedded one)", """
  newsstream sql "SELECT * FROM mentions_per_actor_week LIMIT 10"
  newsstream sql "SELECT count() FROM articles FINAL WHERE site = {site:String}" --param site=rt.com
  newsstream sql "SELECT stage, reason, count() FROM dead_letters GROUP BY ALL" --format json
""", cmd_sql)
    p.add_argument("query", help="one SELECT; {NAME:Type} placeholders are bound by the server")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="query parameter for {NAME:Type} placeholders")

    p = _command(sub, "cookbook", "list the analyst queries in schemas/queries/, or run one by name", """
  newsstream cookbook                                  # the questions they answer and their parameters
  newsstream cookbook mentions_per_actor_per_week
  newsstream cookbook actor_daily --param actor=sergey-lavrov
""", cmd_cookbook)
    p.add_argument("name", nargs="?", help="query name, as `newsstream cookbook` lists them")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a parameter the query needs")

    p = _command(sub, "reconcile", "re-send raw messages that have no outcome (article or dead letter) yet", """
  newsstream reconcile --dry-run                       # count and list what would be re-sent
  newsstream reconcile --grace 600
""", cmd_reconcile)
    p.add_argument("--dry-run", action="store_true", help="only count and list them")
    p.add_argument("--grace", type=_grace_seconds, default=None,
                   help="seconds a message may be in flight (default NEWSSTREAM_RECONCILE_GRACE_SECONDS)")

    p = _command(sub, "replay", "re-send the raw pages of dead letters, after a fix", """
  newsstream replay --stage clean --reason timeout --dry-run
  newsstream replay --since 2024-05-01T00:00:00
""", cmd_replay)
    p.add_argument("--stage", choices=DEAD_LETTER_STAGES, metavar="STAGE",
                   help="only dead letters of this stage (" + ", ".join(DEAD_LETTER_STAGES) + ")")
    p.add_argument("--reason", help="only dead letters with this reason")
    p.add_argument("--since", type=_when, help="only dead letters written since this time (ISO 8601)")
    p.add_argument("--dry-run", action="store_true", help="only count them")

    p = _command(sub, "report", "write a self-contained HTML chart of mentions (or articles, stories) per actor "
                 "per week", """
  newsstream report                                    # every week with data, mentions, top 8 actors
  newsstream report --since 2024-01-01 --until 2024-03-31 --metric stories --out q1.html
  newsstream report --actor sergey-lavrov --actor john-kerry
""", cmd_report)
    p.add_argument("--out", default="newsstream-report.html", help="HTML file to write (default: %(default)s)")
    p.add_argument("--since", type=_date, help="first day (YYYY-MM-DD); default: the first week with data")
    p.add_argument("--until", type=_date, help="last day (YYYY-MM-DD); default: the last week with data")
    p.add_argument("--metric", choices=["mentions", "articles", "stories"], default="mentions",
                   help="what the chart counts per week (default: mentions)")
    p.add_argument("--top", type=_positive, default=8, help="how many actors to draw when --actor is not given")
    p.add_argument("--actor", action="append", default=[], help="actor id to draw (repeatable)")

    p = _command(sub, "migrate", "apply pending warehouse migrations (a worker applies them when it starts)", """
  newsstream migrate
  CLICKHOUSE_URL=http://default:@clickhouse:8123/newsstream newsstream migrate --cluster main
""", cmd_migrate)
    p.add_argument("--cluster", help="run every statement ON CLUSTER this cluster, with Replicated engines")

    p = _command(sub, "demo", "broker + worker + embedded ClickHouse, stream the sample corpus, print weekly counts",
                 """
  newsstream demo                                      # the bundled samples; data stays in .newsstream/demo
  newsstream demo my-pages/
""", cmd_demo)
    p.add_argument("paths", nargs="*", help="pages to stream instead of the bundled samples")

    from streams.cli.actors import register as register_actor_commands

    register_actor_commands(sub)
    from streams.cli.archive import register as register_archive_commands

    register_archive_commands(sub)
    _command(sub, "config", "print every setting, its environment variable and value", """
  newsstream config
  NEWSSTREAM_DATA_DIR=/srv/newsstream newsstream config | grep WAREHOUSE
""", cmd_config)
    _command(sub, "schemas", "regenerate schemas/topics/*.schema.json from the record models", """
  newsstream schemas
""", cmd_schemas)
    return parser


def _kafka_connection_error(exc: BaseException) -> bool:
    """Without importing aiokafka (a noticeable share of start-up): a command that never imported it cannot raise it."""
    errors = sys.modules.get("aiokafka.errors")
    return errors is not None and isinstance(exc, errors.KafkaConnectionError)


def main(argv: list[str] | None = None) -> int:
    set_thresholds()  # the collector as every process of the pipeline runs it (streams/collector.py)
    args = build_parser().parse_args(argv)
    if not args.verbose and args.command not in ("run", "feed"):  # services: their logs keep every record
        import logging

        # the libraries' own records of a failed connection ("Unable connect to ...") reached stderr through
        # logging's last-resort handler beside our one line
        for library in ("aiokafka", "clickhouse_connect"):
            logger = logging.getLogger(library)
            if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
                logger.addHandler(logging.NullHandler())
    try:
        return args.func(args)
    except UserError as exc:  # one readable line, no traceback (with --verbose the traceback too, same status)
        if args.verbose:
            traceback.print_exc()
        print("newsstream: " + " ".join(str(exc).split()), file=sys.stderr)  # one line, whatever it quotes (YAML's
        # parser errors span four)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `newsstream actors list | head -1`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        return 0
    except Exception as exc:  # last: BrokenPipeError above is an Exception too
        if not _kafka_connection_error(exc):  # KAFKA_URL names no broker that answers: one line; anything else raises
            raise
        if args.verbose:
            traceback.print_exc()
        print(f"newsstream: cannot reach Kafka: {' '.join(str(exc).split())}", file=sys.stderr)
        return UserError.exit_code  # a setting to fix (KAFKA_URL), like every other user error


if __name__ == "__main__":
    sys.exit(main())
