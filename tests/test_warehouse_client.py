"""The one warehouse client: the same tests against the direct client and the client through the worker.

`connect(settings)` picks the implementation; every command and the worker use it, so what holds here holds for
them: values bound server-side alike, the same errors in the same words, maintenance on either side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.errors import UserError
from streams.inputs.feeder.run import chunks_by_size, landed_urls
from streams.ops.catalog import run_actors_sync
from streams.ops.reconcile import run_maintenance
from streams.ops.reprocess import run_reprocess
from streams.settings import Settings
from streams.warehouse.client import Warehouse, WorkerWarehouse, connect, worker_address_file
from streams.warehouse.query import analyst_sql, run_sql
from streams.warehouse.sql_door import QueryFailed, Refused
from tests.stack import WorkerProcess

UNSET = ("KAFKA_URL", "NEWSSTREAM_KAFKA_URL", "CLICKHOUSE_URL", "NEWSSTREAM_CLICKHOUSE_URL", "NEWSSTREAM_WEB_TOKEN")


def settings_for(data: Path, **values) -> Settings:
    return Settings(_env_file=None, data_dir=data, clickhouse_url=None, analyst_clickhouse_url=None, **values)


@pytest.fixture(scope="module")
def worker_data(tmp_path_factory):
    """A worker (with the local broker it supervises) holding the embedded warehouse of its data directory."""
    data = tmp_path_factory.mktemp("held")
    worker = WorkerProcess(data, None, NEWSSTREAM_RECONCILE_SECONDS="0").start()
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with connect(settings_for(data), role="borrower") as warehouse:
                    warehouse.query("SELECT count() FROM ledger")
                break
            except (OSError, UserError):
                if time.monotonic() > deadline or worker.process.poll() is not None:
                    raise AssertionError(worker.log_tail()) from None
                time.sleep(0.5)
        yield data
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def broker_url(worker_data) -> str:
    return json.loads((worker_data / "broker.json").read_text())["url"]


@pytest.fixture(scope="module", params=["direct", "worker"])
def backend(request, tmp_path_factory):
    """(settings, the client connect() chose for them): a free embedded warehouse, or one a worker holds."""
    if request.param == "direct":
        data = tmp_path_factory.mktemp("free")
        broker = request.getfixturevalue("broker_url")
        settings = settings_for(data, kafka_url=broker)
    else:
        settings = settings_for(request.getfixturevalue("worker_data"))
    warehouse = connect(settings)
    assert warehouse.via == request.param
    warehouse.migrate() if request.param == "direct" else None
    yield settings, warehouse
    warehouse.close()


TRICKY = ["it's", "back\\slash", "new\nline", "tab\there", "comma, [bracket]"]


def test_python_values_are_bound_server_side_alike(backend):
    _, warehouse = backend
    at = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)
    columns, rows = warehouse.query(
        "SELECT {ids:Array(String)} AS ids, {at:DateTime64(3, 'UTC')} AS at, {n:UInt32} AS n, {s:String} AS s",
        {"ids": TRICKY, "at": at, "n": 7, "s": TRICKY[0] + TRICKY[2]})
    assert columns == ["ids", "at", "n", "s"]
    ids, when, n, s = rows[0]
    assert (ids, n, s) == (TRICKY, 7, "it'snew\nline")
    if warehouse.via == "worker":  # answers travel as JSON: a time comes back as its ISO 8601 text
        when = datetime.fromisoformat(when)
    assert when.replace(tzinfo=UTC) == at


def test_analyst_parameters_are_clickhouse_text_as_typed(backend):
    """`--param ids=['a','b']` is an Array, as clickhouse-client's --param_ids would be (it was escaped as a
    Python string and could not be parsed)."""
    _, warehouse = backend
    answer = warehouse.analyst("SELECT {ids:Array(String)} AS ids, {who:String} AS who",
                               {"ids": "['a','b']", "who": "O'Brien"})
    assert answer.rows == [(["a", "b"], "O'Brien")] and not answer.cut


def test_the_door_refuses_and_fails_in_the_same_words(backend):
    _, warehouse = backend
    with pytest.raises(Refused) as refused:
        warehouse.analyst("SELEC 1")
    # ClickHouse's own words (the CLI trims its list of expected tokens: test_sql_errors_read_the_same_on_both_paths)
    assert str(refused.value).startswith("not a single valid statement: Syntax error: failed at position 7 (1): 1. ")
    with pytest.raises(Refused, match="this DROP statement"):
        warehouse.analyst("DROP TABLE articles")
    with pytest.raises(QueryFailed) as failed:
        warehouse.analyst("SELECT * FROM nosuch")
    assert str(failed.value) == "Unknown table expression identifier 'nosuch'"
    assert warehouse.query("SELECT count() FROM articles")[1] == [(0,)], "the refused DROP did nothing"


def test_maintenance_runs_where_the_warehouse_is(backend):
    settings, warehouse = backend
    synced = run_actors_sync(settings)
    assert synced["via"] == warehouse.via and synced["actors"] > 0
    assert warehouse.query("SELECT count() FROM actors FINAL")[1] == [(synced["actors"],)]
    report = run_reprocess(settings, "2016-01-01", "2017-01-01")
    assert report["via"] == warehouse.via and report["articles"] == 0
    reconciled = run_maintenance(settings, "reconcile", dry_run=True, grace_seconds=0)
    assert reconciled["via"] == warehouse.via and reconciled["missing"] == 0


def test_migrate_directly_or_refused_while_a_worker_holds_the_warehouse(backend):
    settings, warehouse = backend
    if warehouse.via == "direct":
        assert warehouse.migrate() == []  # up to date
        return
    with pytest.raises(UserError) as refused:
        warehouse.migrate()
    assert str(refused.value) == (f"the worker at http://127.0.0.1:{settings_port(settings)} holds the embedded "
                                  f"warehouse {settings.warehouse_url} and applied the migrations when it started; "
                                  "stop it to run `migrate` by hand")


def settings_port(settings: Settings) -> int:
    return int(json.loads(worker_address_file(settings).read_text())["web_url"].rsplit(":", 1)[1])


def test_the_feeder_asks_for_landed_urls_in_chunks(backend):
    """Forty long URLs (13 kB): in chunks that fit the worker's request line; a landed one is found."""
    settings, warehouse = backend
    urls = [f"https://example.org/{i}/it's" + "x" * 300 for i in range(40)]
    landed = set()
    if warehouse.via == "direct":  # the worker's warehouse is written by its sink only
        warehouse.client.command("INSERT INTO ledger (page_id, url, outcome) VALUES ('p', {u:String}, 'article')",
                                 parameters={"u": urls[33]})
        landed = {urls[33]}
    assert landed_urls(warehouse, urls) == landed


def test_chunks_by_size_keeps_order_and_bounds():
    items = ["a" * 5, "b" * 5, "c" * 12, "d", "e" * 3]
    chunks = chunks_by_size(items, 10)
    assert [x for chunk in chunks for x in chunk] == items
    assert chunks == [["aaaaa", "bbbbb"], ["c" * 12], ["d", "eee"]]
    assert chunks_by_size([], 10) == []


# -- the choice itself, without a worker ---------------------------------------------------------------------

def test_connect_goes_direct_when_no_live_worker_is_named(tmp_path):
    settings = settings_for(tmp_path)
    worker_address_file(settings).write_text(json.dumps({"web_url": "http://127.0.0.1:9", "pid": 2 ** 22 + 1}))
    warehouse = connect(settings)
    assert isinstance(warehouse, Warehouse) and warehouse._client is None, "opened lazily"
    assert not (tmp_path / "clickhouse").exists()


def test_connect_goes_through_a_live_worker_with_its_token(tmp_path):
    settings = settings_for(tmp_path)
    worker_address_file(settings).write_text(json.dumps({"web_url": "http://127.0.0.1:9", "pid": os.getpid()}))
    (tmp_path / "worker-token").write_text("t" * 20 + "\n")
    os.chmod(tmp_path / "worker-token", 0o600)
    warehouse = connect(settings)
    assert isinstance(warehouse, WorkerWarehouse) and warehouse.token == "t" * 20
    assert warehouse.web_url == "http://127.0.0.1:9"


def test_a_borrower_never_opens_the_embedded_warehouse(tmp_path):
    settings = settings_for(tmp_path)
    with pytest.raises(UserError, match="no running worker holds the embedded warehouse"):
        connect(settings, role="borrower")
    assert not (tmp_path / "clickhouse").exists()


def test_a_chdb_directory_held_by_another_process_is_refused_in_one_line(tmp_path):
    directory = tmp_path / "clickhouse"
    holder = subprocess.Popen([sys.executable, "-c", "import time\nfrom streams.warehouse.client import Warehouse\n"
                               f"w = Warehouse('chdb://{directory}').open()\n"
                               "print('held', flush=True)\ntime.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(UserError) as refused:
            connect(settings_for(tmp_path))
    finally:
        holder.kill()
        holder.wait()
    assert str(refused.value) == (f"another process holds the embedded warehouse chdb://{directory} (chDB allows one "
                                  "process per directory); stop it, or start `newsstream run` so commands go "
                                  "through it")


# -- the CLI over both: one line, exit 2, the same words ----------------------------------------------------

def cli(data: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in UNSET} | {"NEWSSTREAM_DATA_DIR": str(data)}
    return subprocess.run([sys.executable, "-m", "streams.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=120, cwd=data)


@pytest.mark.parametrize("sql, message", [
    ("SELEC 1", "not a single valid statement: Syntax error: failed at position 7 (1): 1"),
    ("SELECT * FROM nosuch", "Unknown table expression identifier 'nosuch' (warehouse chdb://{data}/clickhouse)"),
    ("SELECT 1 INTO OUTFILE '/tmp/x'", "INTO OUTFILE is refused: results go back to you, never to the server's files"),
])
def test_sql_errors_read_the_same_on_both_paths(worker_data, tmp_path, sql, message):
    assert cli(tmp_path, "migrate").returncode == 0  # a free warehouse that exists: analyst SQL never creates one
    for data in (tmp_path, worker_data):  # a free warehouse (direct), then the worker's
        run = cli(data, "sql", sql)
        assert (run.returncode, run.stderr) == (2, f"newsstream: {message.format(data=data)}\n"), data


def test_migrate_while_a_worker_holds_the_warehouse_is_one_line(worker_data):
    run = cli(worker_data, "migrate")
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "holds the embedded warehouse" in run.stderr and "stop it to run `migrate` by hand" in run.stderr


def test_report_reads_through_the_worker(worker_data):
    """`report` takes every row through the door; on an empty warehouse it says so in one line."""
    run = cli(worker_data, "report", "--out", str(worker_data / "r.html"))
    assert (run.returncode, run.stderr) == (
        2, f"newsstream: no mentions in the warehouse chdb://{worker_data}/clickhouse yet; nothing to draw\n")
    settings = settings_for(worker_data)
    assert run_sql(settings, "SELECT 1 AS one") == (["one"], [(1,)])
    assert analyst_sql(settings, "SELECT number FROM numbers(3)").rows == [(0,), (1,), (2,)]


def test_the_worker_path_keeps_the_workers_auth(worker_data):
    """Reads and maintenance writes through the worker carry its token; without it the worker refuses them."""
    from streams.warehouse.client import WorkerError

    url = json.loads(worker_address_file(settings_for(worker_data)).read_text())["web_url"]
    for ask in (lambda w: w.post("actors-sync", {}), lambda w: w.query("SELECT 1")):
        with pytest.raises(WorkerError, match=f"^the worker at {url} answered 401: missing or wrong token"):
            ask(WorkerWarehouse(url))
    run = subprocess.run([sys.executable, "-m", "streams.cli", "actors", "sync"], capture_output=True, text=True,
                         timeout=120, env={k: v for k, v in os.environ.items() if k not in UNSET}
                         | {"NEWSSTREAM_DATA_DIR": str(worker_data), "NEWSSTREAM_WEB_TOKEN": "w" * 20})
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "answered 401" in run.stderr, run.stderr


def test_a_query_too_long_for_the_worker_is_refused_in_one_line_before_it_is_sent():
    """The worker's web server cuts request lines at 8 KB: the answer was a bare 'Bad Request'."""
    from streams.errors import UserError
    from streams.warehouse.client import WorkerWarehouse

    urls = ", ".join(f"'https://example.org/news/{i}'" for i in range(400))
    with pytest.raises(UserError, match="too long to send to the worker"):
        WorkerWarehouse("http://127.0.0.1:9").analyst(f"SELECT count() FROM ledger WHERE url IN ({urls})")
