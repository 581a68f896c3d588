"""SQL for analysts from the command line: straight to the warehouse, or through the worker that holds chDB."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from streams.broker import _alive
from streams.settings import Settings


def sql_string(value: str) -> str:
    """A ClickHouse string literal, for values that travel inside SQL text (lists of URLs, topic names)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def worker_web_url(settings: Settings) -> str | None:
    try:
        info = json.loads((settings.data_path / "worker.json").read_text())
    except (OSError, ValueError):
        return None
    return info["web_url"] if _alive(int(info["pid"])) else None


def query_worker(web_url: str, query: str, timeout: float = 60.0,
                 parameters: dict[str, str] | None = None) -> tuple[list[str], list[tuple]]:
    fields = {"q": query} | {f"param_{k}": v for k, v in (parameters or {}).items()}
    url = f"{web_url}/sql?{urllib.parse.urlencode(fields)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        raise RuntimeError(body.get("error") or str(exc)) from None
    return body["columns"], [tuple(r) for r in body["rows"]]


def run_sql(settings: Settings, query: str, parameters: dict[str, str] | None = None) -> tuple[list[str], list[tuple]]:
    """Embedded warehouse held by a running worker: ask the worker (chDB allows one process per directory)."""
    if settings.embedded_warehouse and (web_url := worker_web_url(settings)):
        return query_worker(web_url, query, parameters=parameters)
    from streams.warehouse import Warehouse

    warehouse = Warehouse(settings.warehouse_url)
    try:
        return warehouse.query(query, parameters=parameters, readonly=True)
    finally:
        warehouse.close()


def format_table(columns: list[str], rows: list[tuple]) -> str:
    cells = [[str(c) for c in columns]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines) + f"\n({len(rows)} rows)"


def worker_action(settings: Settings, action: str, params: dict[str, str], timeout: float = 600.0) -> dict | None:
    """POST /<action> on the worker holding the embedded warehouse; None when no such worker runs."""
    if not settings.embedded_warehouse or not (web_url := worker_web_url(settings)):
        return None
    url = f"{web_url}/{action}?{urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})}"
    request = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        raise RuntimeError(body.get("error") or str(exc)) from None
