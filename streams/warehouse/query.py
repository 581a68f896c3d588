"""SQL for analysts from the command line, over the one warehouse client (streams.warehouse.client.connect)."""

from __future__ import annotations

from streams.settings import Settings
from streams.warehouse.client import connect, whole
from streams.warehouse.sql_door import Answer

__all__ = ["analyst_sql", "format_table", "run_sql"]


def analyst_sql(settings: Settings, query: str, parameters: dict[str, str] | None = None) -> Answer:
    """Analyst SQL through the door: on the worker that holds an embedded chDB, else on a client opened here."""
    with connect(settings, role="reader") as warehouse:
        return warehouse.analyst(query, parameters)


def run_sql(settings: Settings, query: str, parameters: dict | None = None) -> tuple[list[str], list[tuple]]:
    """Every row of an analyst query (report): an answer the door cut short is an error, not a partial chart."""
    return whole(analyst_sql(settings, query, parameters))


def _cell(value) -> str:
    """One line per row: a newline inside a value (article text in context columns) is shown as ⏎."""
    return "" if value is None else " ⏎ ".join(str(value).splitlines())


def format_table(columns: list[str], rows: list[tuple]) -> str:
    cells = [[str(c) for c in columns]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines) + f"\n({len(rows)} rows)"
