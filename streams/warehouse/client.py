"""The warehouse client: one interface, two ways to reach ClickHouse, chosen by `connect(settings)` alone.

- `Warehouse` (direct): clickhouse-connect on the URL, a server (http[s]://) or embedded chDB (chdb:///dir).
- `WorkerWarehouse` (through the worker): chDB allows one process per directory, so while a worker holds the
  embedded warehouse every other process goes through that worker's HTTP API (bearer token:
  streams.runtime.webauth). Analyst SQL passes the worker's door (streams.warehouse.sql_door) there.

Both answer `query` (every row; parameters bound server-side as {name:Type}), `analyst` (through the SQL door,
possibly cut at its limits), `maintain` (a maintenance action: run here on a direct client, POSTed to the
worker otherwise, where it keeps the worker's auth), `migrate` and `close`; errors are the same types and words
on both (the door's Refused / QueryFailed / Busy, UserError for the rest).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.binding import bind_query

from schemas import MIGRATIONS_DIR
from streams.errors import UserError, make_directory
from streams.warehouse.sql_door import Answer, Busy, Limits, QueryFailed, Refused, SqlDoor

if TYPE_CHECKING:
    from streams.settings import Settings

log = logging.getLogger("newsstream")
DEFAULT_DATABASE = "newsstream"
_OPENED_HERE: set[str] = set()  # chDB URLs this process opened: its engine keeps their lock until the process ends
_MIGRATION_NAME = re.compile(r"^(\d+)_.*\.sql$")
CHDB_MALLOC_CONF = "dirty_decay_ms:0"
"""chDB's own allocator (jemalloc, read from JE_MALLOC_CONF when the engine loads) returns freed pages at once instead
of keeping them 5 s: its merges free and reallocate tens of MiB, which the worker otherwise holds as resident memory
(benchmarks/RESULTS.md, "The holder's memory"). A JE_MALLOC_CONF set by the user wins."""


def split_statements(sql: str) -> list[str]:
    """Statements of a migration file: separated by ';' at a line end; '--' comment lines dropped."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


_DDL_NAME = re.compile(r"^((?:CREATE (?:TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS|ALTER TABLE) [\w.]+)", re.I)
_RENAME = re.compile(r"^RENAME TABLE (\w+) TO (\w+)$", re.I)
_ENGINE = re.compile(r"ENGINE = (Replacing|Aggregating|)MergeTree(?:\(([^)]*)\))?")


def on_cluster(statement: str, cluster: str) -> str:
    """The same DDL for a replicated cluster: ON CLUSTER, and each MergeTree engine as its Replicated twin.

    Replicas of one shard then hold the same data and every query sees all of it. Sharding further means
    Distributed tables over these, keyed by cityHash64(article_id) so a replay lands on the same shard.
    """
    statement = _DDL_NAME.sub(lambda m: f"{m.group(1)} ON CLUSTER '{cluster}'", statement, count=1)
    if statement.upper().startswith("RENAME TABLE"):  # RENAME names its cluster at the end
        statement = f"{statement} ON CLUSTER '{cluster}'"

    def replicated(m: re.Match) -> str:
        args = ["'/clickhouse/tables/{shard}/{database}/{table}'", "'{replica}'"] + ([m.group(2)] if m.group(2) else [])
        return f"ENGINE = Replicated{m.group(1)}MergeTree({', '.join(args)})"

    return _ENGINE.sub(replicated, statement)


def migrations(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, str, str]]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        if m := _MIGRATION_NAME.match(path.name):
            found.append((int(m.group(1)), path.name, path.read_text("utf-8")))
    return found


@contextlib.contextmanager
def _native_stderr_kept_on_success() -> Iterator[None]:
    """chDB's engine prints a failed start (another process holds the directory: "Code: 76 ... Cannot lock file")
    to file descriptor 2 itself, before the exception the CLI turns into its one line: held back while chDB starts,
    and written out only if it started. Only in a one-thread process (a command), where nothing else writes then."""
    if threading.active_count() != 1:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield  # an exception leaves here, past the replay below: its native text is dropped
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        held.seek(0)
        if text := held.read():
            os.write(2, text)


class WarehouseClient(Protocol):
    """What every command and the worker need from the warehouse, whichever way it is reached."""

    via: str  # "direct" or "worker", for reports and messages

    def query(self, sql: str, parameters: dict | None = None) -> tuple[list[str], list[tuple]]: ...

    def analyst(self, sql: str, parameters: dict[str, str] | None = None) -> Answer: ...

    def maintain(self, action: str, params: dict[str, str], here: Callable[[Warehouse], dict]) -> dict: ...

    def migrate(self, cluster: str | None = None) -> list[str]: ...

    def close(self) -> None: ...


class Warehouse:
    """The direct client: clickhouse-connect on `url`; analyst SQL through the door on `analyst_url`'s client."""

    via = "direct"

    def __init__(self, url: str, analyst_url: str | None = None, limits: Limits | None = None):
        self.url = url
        self.analyst_url = analyst_url or url
        self.limits = limits or Limits()
        self._door: tuple[Warehouse, SqlDoor] | None = None
        self.embedded = url.startswith("chdb://")
        self._client: Any = None  # clickhouse_connect's client, opened at first use
        self._columns: dict[str, tuple[list[str], list[str]]] = {}  # table -> its column names and types

    @property
    def client(self):
        """The clickhouse-connect client, opened at first use: a command that fails before it needs the warehouse
        (no broker, a bad option) neither creates nor locks the embedded directory."""
        if self._client is None:
            if self.embedded:
                make_directory(Path(self.url.removeprefix("chdb://")), f"the embedded warehouse {self.url}")
                os.environ.setdefault("JE_MALLOC_CONF", CHDB_MALLOC_CONF)  # before chDB's library loads
                _OPENED_HERE.add(self.url)
                with _native_stderr_kept_on_success():
                    bootstrap = clickhouse_connect.get_client(dsn=self.url)
                    bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {DEFAULT_DATABASE}")
                self._client = clickhouse_connect.get_client(dsn=self.url, database=DEFAULT_DATABASE)
            else:
                database = urlsplit(self.url).path.strip("/") or DEFAULT_DATABASE
                self._client = clickhouse_connect.get_client(dsn=self.url, database=database)
        return self._client

    def open(self) -> Warehouse:
        """Open the client now: chDB starts its engine, and locks its directory, at the first statement."""
        self.client.query("SELECT 1")
        return self

    def migrate(self, cluster: str | None = None) -> list[str]:
        """Apply the numbered migrations not yet recorded in `schema_migrations`; return their names.
        With `cluster`, every statement runs ON CLUSTER with Replicated engines (see on_cluster)."""
        ddl = (lambda sql: on_cluster(sql, cluster)) if cluster else (lambda sql: sql)
        self.client.command(ddl(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version UInt32, name String, applied_at DateTime64(3, 'UTC')) "
            "ENGINE = ReplacingMergeTree ORDER BY version"
        ))
        done = {row[0] for row in self.client.query("SELECT version FROM schema_migrations").result_rows}
        applied = []
        for version, name, sql in migrations():
            if version in done:
                continue
            for statement in split_statements(sql):
                if self._rename_done(statement):
                    continue
                self.client.command(ddl(statement))
            self.client.insert("schema_migrations", [[version, name, datetime.now(UTC)]],
                               column_names=["version", "name", "applied_at"])
            applied.append(name)
        self._columns.clear()
        return applied

    def _rename_done(self, statement: str) -> bool:
        """A RENAME cannot be written idempotently in SQL: it is skipped once its source is gone or its target
        exists (a migration interrupted after it and run again)."""
        m = _RENAME.match(statement)
        if not m:
            return False
        rows = self.client.query("SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN "
                                 "({a:String}, {b:String})", parameters={"a": m.group(1), "b": m.group(2)}).result_rows
        names = {r[0] for r in rows}
        return m.group(1) not in names or m.group(2) in names

    def columns(self, table: str) -> list[str]:
        """Column names as the DDL declares them: rows are checked against these, never a hand-kept list."""
        return self._declared(table)[0]

    def _declared(self, table: str) -> tuple[list[str], list[str]]:
        """Names and types of a table's columns, read once (migrate() forgets them): an insert that names its
        types is not preceded by a DESCRIBE, a round trip per table per batch otherwise."""
        if table not in self._columns:
            result = self.client.query(
                "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
                "ORDER BY position", parameters={"t": table})
            if not result.result_rows:
                raise LookupError(f"table {table!r} does not exist; run `newsstream migrate`")
            self._columns[table] = ([r[0] for r in result.result_rows], [r[1] for r in result.result_rows])
        return self._columns[table]

    def insert_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        columns, types = self._declared(table)
        missing = set(columns) - rows[0].keys()
        extra = rows[0].keys() - set(columns)
        if missing or extra:
            raise ValueError(f"rows for {table} do not match its DDL: missing {sorted(missing)}, extra {sorted(extra)}")
        # column-oriented: the driver encodes column by column, so it need not transpose the rows again
        self.client.insert(table, [[row[c] for row in rows] for c in columns], column_names=columns,
                           column_type_names=types, column_oriented=True)

    def query(self, sql: str, parameters: dict | None = None, readonly: bool = False) -> tuple[list[str], list[tuple]]:
        try:
            result = self.client.query(sql, parameters=parameters, settings={"readonly": 1} if readonly else None)
        finally:
            if readonly and self.embedded:
                self._drop_sticky_readonly()
        return list(result.column_names), [tuple(r) for r in result.result_rows]

    def _drop_sticky_readonly(self) -> None:
        """chDB keeps `readonly=1` for the session after a refused write statement, so every later insert would
        fail too: reopen the client when that happened."""
        if self.client.query("SELECT getSetting('readonly')").result_rows[0][0]:
            self.client.close()
            self._client = None  # reopened at the next use

    def analyst(self, sql: str, parameters: dict[str, str] | None = None) -> Answer:
        """Analyst SQL through the one door, on its own client (CLICKHOUSE_ANALYST_URL may name a read-only user)."""
        if self._door is None:
            client = Warehouse(self.analyst_url)
            self._door = (client, SqlDoor(client.client, self.limits))
        return self._door[1].run(sql, parameters)

    def maintain(self, action: str, params: dict[str, str], here: Callable[[Warehouse], dict]) -> dict:
        """A maintenance action runs here, on this client (the worker's own endpoint for it calls the same code)."""
        return here(self) | {"via": self.via}

    def close(self) -> None:
        if self._door is not None:
            self._door[0].close()
            self._door = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- through the worker ---------------------------------------------------------------------------------------

class WorkerError(UserError, RuntimeError):
    """The worker refused or failed a request: its one-line reason (a RuntimeError too, for the services)."""


class RefusedByWorker(Refused, WorkerError):
    """The worker's door refused the statement: the same error and words as the door on a direct client."""


class FailedOnWorker(QueryFailed, WorkerError):
    """The statement passed the worker's door and ClickHouse stopped it."""


class WorkerBusy(Busy, WorkerError):
    """Every analyst slot of the worker is taken (HTTP 429)."""


def text_parameters(sql: str, parameters: dict | None) -> dict[str, str]:
    """Python values as the text clickhouse-connect itself sends a server for {name:Type} (a list as an Array
    literal, a datetime with its fraction...), for the worker's /sql, which binds them as they are."""
    if not parameters:
        return {}
    _, bound = bind_query(sql, parameters, UTC)
    return {k.removeprefix("param_"): v for k, v in bound.items()}


def split_credentials(web_url: str, token: str | None) -> tuple[str, str | None]:
    """A worker URL may carry its token as the password (http://newsstream:TOKEN@host:port), like CLICKHOUSE_URL."""
    parts = urllib.parse.urlsplit(web_url)
    if parts.password is None:
        return web_url, token
    host = parts.hostname or ""
    netloc = host if ":" not in host else f"[{host}]"
    netloc += f":{parts.port}" if parts.port else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), token or urllib.parse.unquote(parts.password)


WORKER_MAX_REQUEST_LINE = 8190  # aiohttp's max_line_size, the request line the worker's web server accepts


class WorkerWarehouse:
    """The client through the worker that holds the embedded warehouse: its /sql door for reads, its POST
    endpoints (/reconcile, /replay, /reprocess, /actors-sync) for maintenance, always with its bearer token."""

    via = "worker"

    def __init__(self, web_url: str, token: str | None = None, timeout: float = 60.0,
                 action_timeout: float = 600.0, warehouse_url: str = ""):
        self.web_url, self.token = split_credentials(web_url, token)
        self.warehouse_url = warehouse_url  # shown in messages (without its password)
        self.timeout = timeout
        self.action_timeout = action_timeout

    def _call(self, request: urllib.request.Request, timeout: float) -> dict:
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read() or b"{}")
            except ValueError:
                body = {}
            reason = str(body.get("error") or exc.reason)
            if exc.code == 403 and reason.startswith("refused: "):
                raise RefusedByWorker(reason.removeprefix("refused: ")) from None
            if exc.code == 429:
                raise WorkerBusy(reason) from None
            if exc.code == 400 and request.get_method() == "GET":
                raise FailedOnWorker(reason) from None
            if exc.code == 400:  # a maintenance action refused a parameter: the caller's mistake, in its words
                raise WorkerError(reason) from None
            raise WorkerError(f"the worker at {self.web_url} answered {exc.code}: {reason}") from None

    def analyst(self, sql: str, parameters: dict[str, str] | None = None, timeout: float | None = None) -> Answer:
        """GET /sql: the door runs on the worker, in its analyst lane, with the worker's limits. Parameters are
        ClickHouse text values (as typed after --param), as for the door on a direct client."""
        fields = {"q": sql} | {f"param_{k}": v for k, v in (parameters or {}).items()}
        url = f"{self.web_url}/sql?{urllib.parse.urlencode(fields)}"
        line = len(urllib.parse.urlsplit(url).path) + len(urllib.parse.urlsplit(url).query) + len("GET ? HTTP/1.1")
        if line > WORKER_MAX_REQUEST_LINE:
            raise UserError(f"the query and its parameters are too long to send to the worker ({line} bytes "
                            f"URL-encoded; its limit is {WORKER_MAX_REQUEST_LINE}): shorten them")
        body = self._call(urllib.request.Request(url), timeout or self.timeout)
        return Answer(body["columns"], [tuple(r) for r in body["rows"]], bool(body.get("cut")))

    def query(self, sql: str, parameters: dict | None = None) -> tuple[list[str], list[tuple]]:
        """Every row, or an error: the worker offers reads through its door only, so a cut answer is refused."""
        return whole(self.analyst(sql, text_parameters(sql, parameters)))

    def post(self, action: str, params: Mapping[str, str | None]) -> dict:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self._call(urllib.request.Request(f"{self.web_url}/{action}?{query}", method="POST", data=b""),
                          self.action_timeout)

    def maintain(self, action: str, params: dict[str, str], here: Callable[[Warehouse], dict]) -> dict:
        """POST /<action>: the worker runs the same code on the warehouse it holds."""
        return self.post(action, params) | {"via": self.via}

    def migrate(self, cluster: str | None = None) -> list[str]:
        held = f"the embedded warehouse {self.warehouse_url}" if self.warehouse_url else "the embedded warehouse"
        raise UserError(f"the worker at {self.web_url} holds {held} and applied the migrations when it started; "
                        "stop it to run `migrate` by hand")

    def close(self) -> None:
        pass

    def __enter__(self) -> WorkerWarehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def whole(answer: Answer) -> tuple[list[str], list[tuple]]:
    """Callers that need every row (the feeder, report, maintenance) get an error, never a cut result."""
    if answer.cut:
        raise QueryFailed(f"the result has more than {len(answer.rows)} rows (NEWSSTREAM_SQL_MAX_RESULT_ROWS / "
                          "NEWSSTREAM_SQL_MAX_RESULT_BYTES); narrow the query")
    return answer.columns, answer.rows


# -- choosing one ---------------------------------------------------------------------------------------------

def worker_address_file(settings: Settings) -> Path:
    """DATA_DIR/worker.json: where the worker that holds the data directory says it answers."""
    return settings.data_path / "worker.json"


def worker_web_url(settings: Settings) -> str | None:
    """The address of the running worker that holds this data directory's warehouse, if one runs."""
    from streams.runtime.broker import process_alive

    try:
        info = json.loads(worker_address_file(settings).read_text())
        return info["web_url"] if process_alive(int(info["pid"])) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def held_elsewhere(directory: Path) -> bool:
    """Whether another process holds this chDB directory: ClickHouse keeps an exclusive flock on its `status` file."""
    try:
        fd = os.open(directory / "status", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


Role = Literal["command", "reader", "holder", "borrower"]


@overload
def connect(settings: Settings, role: Literal["holder"]) -> Warehouse: ...
@overload
def connect(settings: Settings,
            role: Literal["command", "reader", "borrower"] = "command") -> Warehouse | WorkerWarehouse: ...


def connect(settings: Settings, role: Role = "command") -> Warehouse | WorkerWarehouse:
    """The one place that decides how this process reaches the warehouse.

    - "command" (the CLI): through the worker that holds the embedded warehouse when one runs, else directly;
      a chDB directory another process holds is refused in one line (chDB allows one process per directory).
    - "reader" (analyst SQL, reports): as "command", but an embedded warehouse that does not exist yet is refused
      in one line instead of created empty (a mistyped NEWSSTREAM_DATA_DIR).
    - "holder" (the worker that holds the warehouse): directly, with the pending migrations applied.
    - "borrower" (the feeder, a worker with NEWSSTREAM_SINK=false): never opens the embedded chDB itself (it would
      lock the holder out): through the worker, or a UserError when none runs. A server warehouse: directly.
    """
    from streams.runtime.webauth import client_token

    limits = Limits.from_settings(settings)
    if role != "holder" and settings.embedded_warehouse:
        if web_url := worker_web_url(settings):
            return WorkerWarehouse(web_url, client_token(settings), timeout=settings.sql_max_execution_seconds + 30,
                                   warehouse_url=settings.warehouse_url)
        where = settings.warehouse_url
        if role == "borrower":
            raise UserError(f"no running worker holds the embedded warehouse {where} (start `newsstream run` with "
                            f"NEWSSTREAM_DATA_DIR={settings.data_path})")
        directory = Path(where.removeprefix("chdb://"))
        if role == "reader" and not directory.exists():
            raise UserError(f"no warehouse in {directory} yet (NEWSSTREAM_DATA_DIR={settings.data_path}): start "
                            "`newsstream run`, which creates it, or run `newsstream migrate`")
        if where not in _OPENED_HERE and held_elsewhere(directory):
            raise UserError(f"another process holds the embedded warehouse {where} (chDB allows one process per "
                            "directory); stop it, or start `newsstream run` so commands go through it")
    warehouse = Warehouse(settings.warehouse_url, settings.analyst_warehouse_url, limits)
    if role == "holder" and (applied := warehouse.migrate()):
        log.info("applied migrations %s", applied)
    return warehouse
