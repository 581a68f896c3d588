"""Grafana cannot run here: expand each panel's macros and run its SQL on chDB with fixture data."""

from __future__ import annotations

import json
import re
import importlib.util
from datetime import datetime, timedelta, timezone

import pytest

from streams.warehouse.sql_door import Limits, SqlDoor
from tests.analytics import filled_warehouse
from tests.conftest import ROOT

DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
# From the corpus's dates (2016-2017) to now, where the ledger and lag rows of the fixture live.
FROM, TO = "2016-01-01 00:00:00", (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
VARIABLES = {"actor": ["sergey-lavrov", "john-kerry"]}


def expand(sql: str) -> str:
    """The grafana-clickhouse-datasource macros and variable formats the dashboards use."""
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)",
                 lambda m: f"{m.group(1)} >= toDateTime('{FROM}') AND {m.group(1)} <= toDateTime('{TO}')", sql)
    sql = sql.replace("$__fromTime", f"toDateTime('{FROM}')").replace("$__toTime", f"toDateTime('{TO}')")
    sql = sql.replace("$__interval_s", "604800")
    for name, values in VARIABLES.items():
        quoted = ",".join(f"'{v}'" for v in values)
        sql = re.sub(r"\$\{" + name + r"(:singlequote|:sqlstring)?\}", quoted, sql)
        sql = re.sub(r"\$" + name + r"\b", quoted, sql)
    assert "$" not in sql, f"unexpanded macro in: {sql}"
    return sql


def panel_queries():
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                yield pytest.param(panel, target, id=f"{path.stem}:{panel['title']}")
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                query = variable["query"] if isinstance(variable["query"], str) else variable["query"].get("rawSql")
                yield pytest.param({"title": variable["name"], "type": "variable"}, {"rawSql": query},
                                   id=f"{path.stem}:${variable['name']}")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    w = filled_warehouse(tmp_path_factory.mktemp("dash"))
    yield w
    w.close()


def test_there_are_dashboards_and_they_are_built_from_the_generator():
    spec = importlib.util.spec_from_file_location("build_dashboards", ROOT / "deploy/grafana/build_dashboards.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    assert {p.stem for p in DASHBOARDS} == set(builder.DASHBOARDS)
    for path in DASHBOARDS:
        assert path.read_text("utf-8") == builder.render(path.stem), "run deploy/grafana/build_dashboards.py"


@pytest.mark.parametrize("panel, target", list(panel_queries()))
def test_panel_sql_runs_and_returns_rows(panel, target, warehouse):
    answer = SqlDoor(warehouse.client, Limits()).run(expand(target["rawSql"]))  # what the grafana user may run
    columns, rows = answer.columns, answer.rows
    assert rows, f"{panel['title']} returned no rows on fixture data"
    if panel.get("type") == "timeseries":
        assert columns[0] == "time"
