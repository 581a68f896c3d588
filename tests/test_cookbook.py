"""Every cookbook query runs on the embedded engine over the sample corpus (written twice, as a replay)."""

from __future__ import annotations

import pytest

from streams.warehouse.cookbook import queries
from streams.warehouse.sql_door import Limits, SqlDoor
from tests.analytics import filled_warehouse

COOKBOOK = queries()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    w = filled_warehouse(tmp_path_factory.mktemp("cookbook"))
    yield w
    w.close()


def test_the_cookbook_answers_a_dozen_questions():
    assert len(COOKBOOK) >= 10
    for query in COOKBOOK.values():
        assert query.question, f"{query.name} must say what it answers"
        assert set(query.params) == set(query.example_params), f"{query.name}: example params for every param"


@pytest.mark.parametrize("name", sorted(COOKBOOK))
def test_query_returns_rows_on_corpus_data(name, warehouse):
    query = COOKBOOK[name]
    answer = SqlDoor(warehouse.client, Limits()).run(query.sql, query.example_params)  # the analysts' door
    columns, rows = answer.columns, answer.rows
    assert rows, f"{name} returned nothing on the sample corpus"
    assert len(set(columns)) == len(columns)


def test_replayed_batches_are_not_counted_twice(warehouse):
    _, weekly = warehouse.query("SELECT sum(mentions), sum(articles) FROM mentions_per_actor_week")
    _, raw = warehouse.query("SELECT count(), uniqExact(actor_id, article_id) FROM mentions FINAL")
    assert weekly == raw
    _, pairs = warehouse.query("SELECT max(articles) FROM co_mentions_per_week")
    _, articles = warehouse.query("SELECT count() FROM articles FINAL")
    assert pairs[0][0] <= articles[0][0]
    _, sites = warehouse.query("SELECT sum(articles) FROM articles_per_site_day")
    assert sites == articles


def test_lavrov_leads_the_corpus_week(warehouse):
    query = COOKBOOK["risers_this_week"]
    _, rows = warehouse.query(query.sql, parameters=query.example_params)
    assert rows[0][0] == "sergey-lavrov"


def test_a_table_row_is_one_line_even_when_a_cell_holds_newlines():
    """actor_in_context / name_in_context return text spans across paragraphs; a raw newline split the row."""
    from streams.warehouse.query import format_table

    table = format_table(["surface", "context"], [("الأسد", "first paragraph\nsecond\r\nthird"), ("x", None)])
    assert table.splitlines() == [
        "surface | context                         ",
        "--------+---------------------------------",
        "الأسد   | first paragraph ⏎ second ⏎ third",
        "x       |                                 ",
        "(2 rows)",
    ]
