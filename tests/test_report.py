"""`newsstream report` on the sample corpus: a self-contained HTML file with the chart and the weekly figures."""

from __future__ import annotations

from datetime import date

from streams.warehouse.report import render_report
from streams.warehouse.sql_door import Limits, SqlDoor
from streams.warehouse.client import Warehouse
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


def test_report_defaults_to_the_weeks_with_data_and_to_mentions(tmp_path, monkeypatch, capsys):
    from streams.cli import commands as cli
    from streams.warehouse.report import data_range

    warehouse = filled_warehouse(tmp_path / "chdb")
    query = lambda sql, params: warehouse.query(sql, parameters=params)  # noqa: E731
    monkeypatch.setattr(cli, "_query", lambda settings, sql, params=None: query(sql, params))
    try:
        first, last = data_range(query)
        code = cli.main(["report", "--out", str(tmp_path / "report.html")])
    finally:
        warehouse.close()
    assert code == 0
    assert (first.weekday(), last.weekday()) == (0, 6)  # Monday of the first week, Sunday of the last
    assert first <= date(2016, 11, 21) <= last
    page = (tmp_path / "report.html").read_text()
    assert f"{first.isoformat()} to {last.isoformat()}" in page
    assert "No mentions in this range." not in page
    assert "<h1>Mentions per actor per week</h1>" in page  # the default metric is what the title says


def test_report_title_names_its_metric(tmp_path):
    page = render_report(lambda sql, params: ([], [] if "mentions_per_actor_week" in sql else [(0, 0, 0)]), since=date(2020, 1, 1), until=date(2020, 2, 1),
                         metric="stories")
    assert "<h1>Stories per actor per week</h1>" in page


def test_report_on_an_empty_warehouse_says_so(tmp_path, monkeypatch, capsys):
    from streams.cli import commands as cli

    monkeypatch.setenv("NEWSSTREAM_CLICKHOUSE_URL", "http://ch.invalid:8123/db")
    monkeypatch.setattr(cli, "_query", lambda settings, sql, params=None: ([], [(date(1970, 1, 1), date(1970, 1, 1), 0)]))
    assert cli.main(["report", "--out", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err == ("newsstream: no mentions in the warehouse http://ch.invalid:8123/db yet; "
                                       "nothing to draw\n")


def test_report_refuses_an_actor_the_warehouse_never_mentioned(tmp_path, monkeypatch, capsys):
    """A mistyped --actor drew an empty chart and exited 0; it is a user mistake: one line, exit 2, no file."""
    from streams.cli import commands as cli

    warehouse = filled_warehouse(tmp_path / "chdb")
    monkeypatch.setattr(cli, "_query", lambda settings, sql, params=None: warehouse.query(sql, parameters=params))
    try:
        refused = cli.main(["report", "--actor", "sergey-lavrov", "--actor", "lavrov", "--out",
                            str(tmp_path / "bad.html")])
        err = capsys.readouterr().err
        drawn = cli.main(["report", "--actor", "sergey-lavrov", "--out", str(tmp_path / "good.html")])
    finally:
        warehouse.close()
    assert (refused, err) == (2, "newsstream: --actor lavrov: no mentions of this actor id in the warehouse; "
                                 "`newsstream actors list --search ...` finds ids\n")
    assert not (tmp_path / "bad.html").exists()
    assert drawn == 0 and "Sergey Lavrov" in (tmp_path / "good.html").read_text()
