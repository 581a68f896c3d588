"""SQL for analysts from the command line, over the one warehouse client (streams.warehouse.client.connect)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from streams.errors import UserError
from streams.settings import Settings
from streams.warehouse.client import WorkerError, WorkerWarehouse, connect, whole, worker_web_url
from streams.warehouse.sql_door import Answer

__all__ = ["WorkerError", "analyst_sql", "ask_worker", "format_table", "post_worker", "query_worker", "run_sql",
           "worker_action", "worker_web_url"]


def analyst_sql(settings: Settings, query: str, parameters: dict[str, str] | None = None) -> Answer:
    """Analyst SQL through the door: on the worker that holds an embedded chDB, else on a client opened here."""
    if settings.embedded_warehouse and worker_web_url(settings) is None:
        directory = Path(settings.warehouse_url.removeprefix("chdb://"))
        if not directory.exists():  # a mistyped NEWSSTREAM_DATA_DIR would otherwise get an empty new warehouse
            raise UserError(f"no warehouse in {directory} yet (NEWSSTREAM_DATA_DIR={settings.data_path}): start "
                            "`newsstream run`, which creates it, or run `newsstream migrate`")
    with connect(settings) as warehouse:
        return warehouse.analyst(query, parameters)


def run_sql(settings: Settings, query: str, parameters: dict | None = None) -> tuple[list[str], list[tuple]]:
    """Every row of an analyst query (report): an answer the door cut short is an error, not a partial chart."""
    return whole(analyst_sql(settings, query, parameters))


def ask_worker(web_url: str, query: str, timeout: float = 60.0, parameters: dict | None = None,
               token: str | None = None) -> Answer:
    """GET /sql on the worker at `web_url` (tests, demo: a worker they started themselves)."""
    return WorkerWarehouse(web_url, token, timeout).analyst(query, parameters)


def query_worker(web_url: str, query: str, timeout: float = 60.0, parameters: dict | None = None,
                 token: str | None = None) -> tuple[list[str], list[tuple]]:
    return WorkerWarehouse(web_url, token, timeout).query(query, parameters)


def post_worker(web_url: str, action: str, params: Mapping[str, str | None], timeout: float = 600.0,
                token: str | None = None) -> dict:
    return WorkerWarehouse(web_url, token, action_timeout=timeout).post(action, params)


def worker_action(settings: Settings, action: str, params: dict[str, str]) -> dict | None:
    """POST /<action> on the worker holding the embedded warehouse; None when no such worker runs."""
    warehouse = connect(settings) if settings.embedded_warehouse and worker_web_url(settings) else None
    return warehouse.post(action, params) if isinstance(warehouse, WorkerWarehouse) else None


def _cell(value) -> str:
    """One line per row: a newline inside a value (article text in context columns) is shown as ⏎."""
    return "" if value is None else " ⏎ ".join(str(value).splitlines())


def format_table(columns: list[str], rows: list[tuple]) -> str:
    cells = [[str(c) for c in columns]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines) + f"\n({len(rows)} rows)"
