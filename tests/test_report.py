"""`newsstream report` on the sample corpus: a self-contained HTML file with the chart and the weekly figures."""

from __future__ import annotations

from datetime import date

from streams.report import render_report
from streams.sql_door import Limits, SqlDoor
from streams.warehouse import Warehouse
from tests.analytics import filled_warehouse


def test_report_draws_the_top_actors_of_the_corpus(tmp_path):
    warehouse = filled_warehouse(tmp_path / "chdb")
    door = SqlDoor(warehouse.client, Limits())  # the report's queries pass the analysts' door
    page = render_report(lambda sql, params: door.run(sql, params)[:2], since=date(2016, 9, 1),
                         until=date(2017, 12, 31), metric="stories", top=3)
    warehouse.close()
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "src=" not in page and "href=\"http" not in page, "nothing to fetch: the file stands alone"
    assert "Sergey Lavrov" in page
    assert "2016-11-21" in page, "the week of the wire story is a row"
    assert page.count("<tr><th>20") >= 3


def test_report_says_so_when_the_range_is_empty(tmp_path):
    warehouse = Warehouse(f"chdb://{tmp_path / 'chdb'}")
    warehouse.migrate()
    page = render_report(lambda sql, params: warehouse.query(sql, parameters=params), since=date(2020, 1, 1),
                         until=date(2020, 2, 1))
    warehouse.close()
    assert "No mentions in this range." in page
