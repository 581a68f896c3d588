"""The analyst SQL door on chDB: each attack of issue 13 is refused with a one-line reason; ordinary analyst
SQL, the pipeline's own reads and the limits behave."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from streams.errors import UserError
from streams.warehouse.sql_door import Limits, QueryFailed, Refused, SqlDoor, check_tree
from streams.runtime.story_index_loader import index_query
from tests.analytics import filled_warehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    w = filled_warehouse(tmp_path_factory.mktemp("door"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def door(warehouse):
    return SqlDoor(warehouse.client, Limits(max_execution_seconds=3, max_memory_bytes=256 << 20,
                                            max_result_rows=1000, max_result_bytes=64 << 20))


ATTACKS = {
    "SELECT 'x' INTO OUTFILE '{out}' APPEND": "INTO OUTFILE is refused",
    "SELECT * FROM numbers(2) INTO OUTFILE '{out}' TRUNCATE FORMAT CSV": "FORMAT clauses are refused",
    "SHOW TABLES INTO OUTFILE '{out}'": "INTO OUTFILE is refused",
    "EXPLAIN SELECT 1 INTO OUTFILE '{out}'": "INTO OUTFILE is refused",
    "SELECT file('/etc/passwd')": "function file is refused",
    "SELECT lower(FiLe('/etc/passwd'))": "function FiLe",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')": "function file is refused",
    "EXPLAIN SYNTAX SELECT file('/etc/passwd')": "function file is refused",
    "SELECT * FROM url('http://127.0.0.1:1/', CSV, 'a String')": "function url is not on the allow-list",
    "SELECT * FROM s3('http://127.0.0.1:1/b/k', CSV)": "function s3 is not on the allow-list",
    "SELECT * FROM remote('127.0.0.1', system.one)": "function remote is not on the allow-list",
    "SELECT * FROM clusterAllReplicas('default', system.one)": "function clusterAllReplicas is not on the allow-list",
    "SELECT * FROM executable('sh', CSV, 'a String')": "function executable is not on the allow-list",
    "SELECT * FROM input('a String')": "function input is not on the allow-list",
    "SELECT * FROM mysql('127.0.0.1:1', 'd', 't', 'u', 'p')": "function mysql is not on the allow-list",
    "SELECT * FROM postgresql('127.0.0.1:1', 'd', 't', 'u', 'p')": "function postgresql is not on the allow-list",
    "SELECT * FROM hdfs('hdfs://127.0.0.1:1/x', CSV)": "function hdfs is not on the allow-list",
    "SELECT * FROM dictionary('d')": "function dictionary is not on the allow-list",
    "SELECT dictGet('d', 'a', toUInt64(1))": "function dictGet is refused",
    "SELECT * FROM python(x)": "function python is not on the allow-list",
    "SYSTEM STOP MERGES": "SYSTEM statements are refused",
    "KILL QUERY WHERE 1": "KILL is refused",
    "USE system": "USE is refused",
    "SET readonly = 0": "SET is refused",
    "SELECT 1 SETTINGS readonly = 0": "SETTINGS clauses are refused",
    "SELECT (SELECT 1 SETTINGS max_execution_time = 0)": "SETTINGS clauses are refused",
    "SELECT 1; SYSTEM STOP MERGES": "Multi-statements are not allowed",
    "SELECT 1 FORMAT JSON": "FORMAT clauses are refused",
    "DROP TABLE articles": "this DROP statement (DropQuery) is refused",
    "INSERT INTO actors SELECT * FROM actors": "this INSERT statement (InsertQuery) is refused",
    "ALTER TABLE articles DELETE WHERE 1": "this ALTER statement",
    "SELECT sleep(3)": "function sleep is refused",
    "": "empty query",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_refused_with_one_line(attack, door, warehouse, tmp_path):
    out = tmp_path / "written-by-sql.sh"
    out.write_text("#!/bin/sh\n")
    with pytest.raises(Refused) as refused:
        door.run(attack.format(out=out))
    message = str(refused.value)
    assert ATTACKS[attack] in message and "\n" not in message and len(message) < 500
    assert isinstance(refused.value, UserError), "the CLI prints it as one line and exits 2"
    assert out.read_text() == "#!/bin/sh\n", "nothing was written"
    assert warehouse.client.query("SELECT count() FROM articles FINAL").result_rows[0][0] > 0


def test_a_newline_in_an_alias_cannot_hide_a_node(door):
    """Identifiers holding newlines add lines to the EXPLAIN AST dump; they only ever make the door refuse."""
    with pytest.raises(Refused):
        door.run("SELECT 1 AS `x\n    Function file` FROM system.one")
    with pytest.raises(Refused):
        door.run("SELECT 1 AS `x\nSelectWithUnionQuery`")


def test_tree_walk_refuses_what_it_does_not_know():
    ok = "SelectWithUnionQuery (children 2)\n ExpressionList (children 1)\n  SelectQuery (children 1)\n" \
         "   ExpressionList (children 1)\n    Literal UInt64_1\n Identifier TabSeparatedRaw\n"
    check_tree(ok, lambda name: None)
    with pytest.raises(Refused, match="not on the read-only allow-list"):
        check_tree(ok.replace("Literal UInt64_1", "CreateQuery x"), lambda name: None)
    with pytest.raises(Refused, match="INTO OUTFILE"):
        check_tree(ok.replace(" Identifier Tab", " Literal 'x'\n Identifier Tab"), lambda name: None)


ORDINARY = [
    ("SELECT actor_id, sum(mentions) AS m FROM mentions_per_actor_week GROUP BY actor_id ORDER BY m DESC LIMIT 3", {}),
    ("WITH w AS (SELECT week, mentions FROM mentions_per_actor_week) SELECT count() FROM w", {}),
    ("SELECT countIf(lang = 'ar'), uniqExactIf(site, 1), quantilesTDigestIf(0.5)(length(text), 1), "
     "row_number() OVER (ORDER BY count()) FROM articles FINAL", {}),
    ("SELECT arrayMap(x -> x + 1, [1, 2]), toStartOfWeek(now(), 1), {who:String} AS who", {"who": "lavrov"}),
    ("SELECT * FROM articles FINAL WHERE published_at >= {since:DateTime} LIMIT 1", {"since": "2000-01-01 00:00:00"}),
    ("SELECT number FROM numbers(5) UNION ALL SELECT number FROM numbers(5)", {}),
    ("SHOW TABLES", {}),
    ("DESCRIBE TABLE articles", {}),
    ("EXISTS TABLE articles", {}),
    ("SHOW CREATE TABLE articles", {}),
    ("EXPLAIN SELECT count() FROM articles", {}),
    ("SELECT 1 -- a comment; SYSTEM STOP MERGES", {}),
    ("SELECT 'a;b', 'INTO OUTFILE', 'file(x)'", {}),
]


@pytest.mark.parametrize("sql, params", ORDINARY)
def test_ordinary_analyst_sql_passes(sql, params, door):
    answer = door.run(sql, params)
    assert answer.rows and not answer.cut


def test_the_pipeline_reads_pass_the_door(door):
    """Workers without chDB rebuild their story index through /sql: that query must pass."""
    door.run(index_query(timedelta(days=30)))


def test_runaway_query_is_stopped_within_its_limit(door):
    with pytest.raises(QueryFailed, match="TIMEOUT_EXCEEDED|Timeout exceeded"):
        door.run("SELECT count() FROM numbers(1e12)")
    with pytest.raises(QueryFailed, match="MEMORY_LIMIT_EXCEEDED|memory limit"):
        door.run("SELECT length(groupArray(number)) FROM numbers(2e8)")
    assert door.run("SELECT 1").rows == [(1,)], "the connection is healthy after a stopped query"


def test_the_query_runs_read_only(door):
    assert door.run("SELECT getSetting('readonly'), getSetting('max_execution_time')").rows == [(1, 3.0)]


def test_a_long_result_is_cut_and_says_so(door):
    answer = door.run("SELECT number FROM numbers(1000000)")
    assert answer.cut and len(answer.rows) == 1000
    exact = door.run("SELECT number FROM numbers(1000)")
    assert not exact.cut and len(exact.rows) == 1000


def test_the_limits_are_settings(monkeypatch):
    from streams.settings import Settings

    defaults = Limits.from_settings(Settings(_env_file=None))
    assert (defaults.max_execution_seconds, defaults.max_memory_bytes) == (30, 1 << 30)
    assert defaults.clickhouse_settings()["readonly"] == 1
    monkeypatch.setenv("NEWSSTREAM_SQL_MAX_EXECUTION_SECONDS", "7")
    monkeypatch.setenv("NEWSSTREAM_SQL_MAX_MEMORY_BYTES", str(512 << 20))
    limits = Limits.from_settings(Settings(_env_file=None))
    assert limits.max_execution_seconds == 7 and limits.max_memory_bytes == 512 << 20


def test_rows_a_stopped_query_left_behind_never_reach_the_next_query(door):
    """chDB keeps the blocks a failed query had already produced and hands them out ahead of the next query's rows
    on the same connection: an analyst could plant rows in another's answer, or the statement the door runs next
    (sec-review: `SELECT count() FROM articles` answered 'you were hijacked' through the worker's /sql)."""
    planted = "SELECT 'hijacked' AS answer"
    with pytest.raises(QueryFailed, match="TIMEOUT_EXCEEDED|Timeout exceeded"):
        door.run(f"SELECT '{planted.replace(chr(39), chr(39) * 2)}' AS x "
                 "UNION ALL SELECT toString(count()) FROM numbers(1e12)")
    assert door.run("SELECT count() AS n FROM numbers(3)") == ((["n"], [(3,)], False))
    with pytest.raises(QueryFailed):
        door.run("SELECT 'left' AS x UNION ALL SELECT toString(count()) FROM numbers(1e12)")
    assert door.run("SELECT 'mine' AS x").rows == [("mine",)]


def test_files_of_the_chdb_default_database_stay_shut(door, warehouse, tmp_path):
    """chDB's `default` database overlays the file system (`default.`/path``); readonly=1 only refuses a file the
    engine has not opened before, so the door refuses that database by name whatever the engine has cached."""
    secret = tmp_path / "secret.csv"
    secret.write_text("s3cr3t\n")
    name = f"default.`{secret}`"
    warehouse.client.query(f"SELECT * FROM {name}")  # another part of the process opened it (no readonly there)
    for attack in (f"SELECT * FROM {name}", f"SELECT * FROM (SELECT * FROM {name})",
                   f"SELECT 1 WHERE 's3cr3t' IN {name}", f"SELECT * FROM numbers(1) JOIN {name} AS f ON 1",
                   f"DESCRIBE TABLE {name}", f"SHOW CREATE TABLE {name}", "SHOW TABLES FROM default",
                   ):
        with pytest.raises(Refused, match="the database default is refused"):
            door.run(attack)
    assert door.run("SELECT count() FROM system.one").rows == [(1,)]


def test_a_result_over_the_byte_limit_is_cut_and_says_so(warehouse):
    """max_result_bytes with result_overflow_mode=break stops only after the block that crossed it, and one block
    can hold all of a short result (sec-review: 1000 rows of 1 MB came back whole, 1 GB through /sql, cut=False);
    the door counts the bytes it hands back and cuts there."""
    door = SqlDoor(warehouse.client, Limits(max_execution_seconds=10, max_memory_bytes=256 << 20,
                                            max_result_rows=1000, max_result_bytes=1 << 20))
    answer = door.run("SELECT repeat('x', 100000) AS s FROM numbers(100)")
    assert answer.cut and 0 < len(answer.rows) <= 10, len(answer.rows)
    assert sum(len(r[0]) for r in answer.rows) <= 1 << 20
    whole = door.run("SELECT repeat('x', 1000) AS s FROM numbers(100)")
    assert not whole.cut and len(whole.rows) == 100


def test_an_empty_result_still_names_its_columns(door):
    """chDB returns no column names with no rows; the CLI printed a table with no header."""
    answer = door.run("SELECT actor_id, mentions FROM mentions_per_actor_week WHERE week < {d:Date}",
                      {"d": "1970-01-02"})
    assert answer.rows == [] and answer.columns == ["actor_id", "mentions"]
    assert door.run("SELECT 1 AS one").rows == [(1,)]  # the door's connection is clean after the DESCRIBE


@pytest.mark.parametrize("sql, value, message", [
    ("SELECT {d:Date} AS d", "2025-02-30", "parameter d='2025-02-30': no such day"),
    ("SELECT {d:Date32} AS d", "2025-13-01", "parameter d='2025-13-01': no such day"),
    ("SELECT {d:Nullable(Date)} AS d", "yesterday", "parameter d='yesterday' is not a Nullable(Date) (YYYY-MM-DD)"),
    ("SELECT {t:DateTime} AS t", "2024-04-31 10:00:00", "parameter t='2024-04-31 10:00:00': no such day"),
])
def test_a_date_parameter_naming_no_real_day_is_refused(sql, value, message, door):
    """chDB read 2025-02-30 as 1970-01-01 and answered for that day without a word."""
    name = sql.split("{")[1].split(":")[0]
    with pytest.raises(Refused) as refused:
        door.run(sql, {name: value})
    assert str(refused.value) == message


def test_real_days_and_timestamps_pass_as_date_parameters(door):
    assert door.run("SELECT {d:Date} AS d", {"d": "2024-02-29"}).rows[0][0].isoformat() == "2024-02-29"
    assert door.run("SELECT toUnixTimestamp({t:DateTime('UTC')}) AS t", {"t": "1700000000"}).rows == [(1700000000,)]
    assert door.run("SELECT {d:Nullable(Date)} AS d", {"d": "\\N"}).rows == [(None,)]


@pytest.mark.parametrize("type_, value, message", [
    ("LowCardinality(Date)", "2025-02-30", "no such day"),
    ("Array(Date)", "['2025-02-30']", "no such day"),
    ("Nullable( Date)", "2025-02-30", "no such day"),
    ("DATE", "2025-02-30", "no such day"),
    ("Tuple(Date, String)", "('2025-02-30', 'x')", "no such day"),
    ("Map(String, Date)", "{'a': '2025-02-30'}", "no such day"),
    ("DateTime", "2025-02-28 25:61:61", "no such time of day"),
    ("DateTime64(3)", "2025-02-28 24:00:00", "no such time of day"),
    ("Date", "1969-12-31", "outside Date's range"),
    ("Date", "2200-01-01", "outside Date's range"),
    ("Date", "20250230", "no such day"),
    ("UInt8", "300", "out of UInt8's range (0 to 255)"),
    ("Nullable(Int8)", "-129", "out of Int8's range (-128 to 127)"),
    ("UInt32", "1.5", "is not a UInt32"),
])
def test_values_clickhouse_would_silently_change_are_refused(type_, value, message, door):
    """An attacker's list: each spelling answered for another day (2025-03-02) or another number (300 -> 44)."""
    with pytest.raises(Refused, match=re.escape(message)):
        door.run(f"SELECT {{v:{type_}}} AS v", {"v": value})


@pytest.mark.parametrize("type_, value", [
    ("Date", "20250228"), ("DateTime64(3)", "1700000000.123"), ("Date32", "1900-01-01"), ("UInt8", "255"),
    ("Int64", "-9223372036854775808"), ("Array(Date)", "[]"), ("DateTime('UTC')", "2024-02-29 23:59:59"),
])
def test_valid_typed_values_pass(type_, value, door):
    assert door.run(f"SELECT {{v:{type_}}} AS v", {"v": value}).rows
