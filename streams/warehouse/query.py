"""SQL for analysts from the command line: straight to the warehouse, or through the worker that holds chDB."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from streams.errors import UserError
from streams.runtime.broker import _alive
from streams.runtime.webauth import client_token
from streams.settings import Settings
from streams.warehouse.sql_door import Answer, Limits, QueryFailed, SqlDoor


def sql_string(value: str) -> str:
    """A ClickHouse string literal, for values that travel inside SQL text (lists of URLs, topic names)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def worker_web_url(settings: Settings) -> str | None:
    try:
        info = json.loads((settings.data_path / "worker.json").read_text())
    except (OSError, ValueError):
        return None
    return info["web_url"] if _alive(int(info["pid"])) else None


def _split_credentials(web_url: str, token: str | None) -> tuple[str, str | None]:
    """A worker URL may carry its token as the password (http://newsstream:TOKEN@host:port), like CLICKHOUSE_URL."""
    parts = urllib.parse.urlsplit(web_url)
    if parts.password is None:
        return web_url, token
    host = parts.hostname or ""
    netloc = host if ":" not in host else f"[{host}]"
    netloc += f":{parts.port}" if parts.port else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), token or urllib.parse.unquote(parts.password)


class WorkerError(UserError, RuntimeError):
    """The worker refused or failed a request (4xx/5xx): its one-line reason."""


def _call_worker(request: urllib.request.Request, token: str | None, timeout: float) -> dict:
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        raise WorkerError(f"worker said {exc.code}: {body.get('error') or exc.reason}") from None


def ask_worker(web_url: str, query: str, timeout: float = 60.0, parameters: dict[str, str] | None = None,
               token: str | None = None) -> Answer:
    """GET /sql on the worker: the door runs there, in the analyst lane."""
    web_url, token = _split_credentials(web_url, token)
    fields = {"q": query} | {f"param_{k}": v for k, v in (parameters or {}).items()}
    body = _call_worker(urllib.request.Request(f"{web_url}/sql?{urllib.parse.urlencode(fields)}"), token, timeout)
    return Answer(body["columns"], [tuple(r) for r in body["rows"]], bool(body.get("cut")))


def query_worker(web_url: str, query: str, timeout: float = 60.0,
                 parameters: dict[str, str] | None = None, token: str | None = None) -> tuple[list[str], list[tuple]]:
    return _whole(ask_worker(web_url, query, timeout, parameters, token))


def _whole(answer: Answer) -> tuple[list[str], list[tuple]]:
    """Callers that need every row (the feeder, report, workers without chDB) get an error, never a cut result."""
    if answer.cut:
        raise QueryFailed(f"the result has more than {len(answer.rows)} rows (NEWSSTREAM_SQL_MAX_RESULT_ROWS / "
                          "NEWSSTREAM_SQL_MAX_RESULT_BYTES); narrow the query")
    return answer.columns, answer.rows


def analyst_sql(settings: Settings, query: str, parameters: dict[str, str] | None = None) -> Answer:
    """Analyst SQL through the door: on the worker that holds an embedded chDB, else on a client opened here."""
    if settings.embedded_warehouse and (web_url := worker_web_url(settings)):
        return ask_worker(web_url, query, timeout=settings.sql_max_execution_seconds + 30, parameters=parameters,
                          token=client_token(settings))
    from streams.warehouse.client import Warehouse

    warehouse = Warehouse(settings.analyst_warehouse_url)
    try:
        return SqlDoor(warehouse.client, Limits.from_settings(settings)).run(query, parameters)
    finally:
        warehouse.close()


def run_sql(settings: Settings, query: str, parameters: dict[str, str] | None = None) -> tuple[list[str], list[tuple]]:
    """Embedded warehouse held by a running worker: ask the worker (chDB allows one process per directory)."""
    return _whole(analyst_sql(settings, query, parameters))


def _cell(value) -> str:
    """One line per row: a newline inside a value (article text in context columns) is shown as ⏎."""
    return "" if value is None else " ⏎ ".join(str(value).splitlines())


def format_table(columns: list[str], rows: list[tuple]) -> str:
    cells = [[str(c) for c in columns]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines) + f"\n({len(rows)} rows)"


def worker_action(settings: Settings, action: str, params: dict[str, str], timeout: float = 600.0) -> dict | None:
    """POST /<action> on the worker holding the embedded warehouse; None when no such worker runs."""
    if not settings.embedded_warehouse or not (web_url := worker_web_url(settings)):
        return None
    return post_worker(web_url, action, params, timeout, client_token(settings))


def post_worker(web_url: str, action: str, params: Mapping[str, str | None], timeout: float = 600.0,
                token: str | None = None) -> dict:
    web_url, token = _split_credentials(web_url, token)
    url = f"{web_url}/{action}?{urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})}"
    return _call_worker(urllib.request.Request(url, method="POST", data=b""), token, timeout)
