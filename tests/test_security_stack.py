"""Issue 13's attacks against a running worker (local broker, embedded chDB), as an outsider would try them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from streams.runtime.broker import LocalBroker
from streams.inputs.ingest import ingest
from tests.worker_calls import WorkerError, ask_worker, post_worker
from streams.warehouse.sql_door import Busy, Refused
from streams.settings import Settings
from tests.conftest import CORPUS
from tests.stack import WorkerProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data = tmp_path_factory.mktemp("secure")
    with LocalBroker(data) as broker:
        worker = WorkerProcess(data, broker.url, NEWSSTREAM_LAG_SECONDS="0.5", NEWSSTREAM_SQL_CONCURRENCY="2",
                               NEWSSTREAM_RECONCILE_SECONDS="0").start()
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    ask_worker(worker.web, "SELECT count() FROM ledger", timeout=10)
                    break
                except (OSError, WorkerError):
                    if time.monotonic() > deadline or worker.process.poll() is not None:
                        raise AssertionError(worker.log_tail())
                    time.sleep(0.5)
            yield data, broker, worker
            assert worker.process.poll() is None, "no attack stopped the worker"
        finally:
            worker.stop()


def raw(url: str, method: str = "GET", **headers) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, headers=headers, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            return response.status, json.loads(body) if body.startswith(b"{") else {}
    except urllib.error.HTTPError as exc:
        body = exc.read()
        return exc.code, json.loads(body) if body.startswith(b"{") else {}


def test_no_token_gets_401_and_a_foreign_host_or_origin_403(stack):
    _, _, worker = stack
    base, bearer = worker.plain_web, {"Authorization": f"Bearer {worker.token}"}
    query = "/sql?" + urllib.parse.urlencode({"q": "SELECT 1"})
    assert raw(base + query)[0] == 401
    for action in ("reconcile", "replay", "reprocess", "actors-sync"):
        assert raw(f"{base}/{action}?dry_run=1", "POST")[0] == 401, action
        assert raw(f"{base}/{action}?dry_run=1", "GET", **bearer)[0] == 405, f"{action} is POST only"
    assert raw(base + query, Host="attacker.example:6066", **bearer)[0] == 403, "DNS rebinding"
    assert raw(base + query, Origin="http://attacker.example", **bearer)[0] == 403, "a web page's request"
    assert raw(f"{base}/graph")[0] == 401, "Faust's own pages are behind the check too"
    assert raw(base + query, **bearer)[0] == 200
    assert raw(f"{base}/health")[0] == 200 and raw(f"{base}/metrics")[0] == 200


@pytest.mark.parametrize("attack, reason", [
    ("SELECT 'echo pwned' INTO OUTFILE '{out}' APPEND", "INTO OUTFILE is refused"),
    ("SELECT file('/etc/passwd')", "function file is refused"),
    ("SYSTEM STOP MERGES", "SYSTEM statements are refused"),
    ("KILL QUERY WHERE 1", "KILL is refused"),
    ("USE system", "USE is refused"),
    ("SELECT count() FROM numbers(10) SETTINGS max_execution_time = 0", "SETTINGS clauses are refused"),
])
def test_attacks_through_the_worker_are_refused(stack, tmp_path, attack, reason):
    _, _, worker = stack
    out = tmp_path / "hook.sh"
    out.write_text("#!/bin/sh\n")
    with pytest.raises(Refused, match=reason):  # the door's own error and words, as on a direct client
        ask_worker(worker.web, attack.format(out=out))
    assert out.read_text() == "#!/bin/sh\n"


def cli(data, *args, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("CLICKHOUSE_URL", "NEWSSTREAM_WEB_TOKEN")}
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, timeout=120,
                          env=environment | {"NEWSSTREAM_DATA_DIR": str(data)} | env)


def test_cli_works_with_no_set_up_and_refuses_attacks_in_one_line(stack, tmp_path):
    data, _, _ = stack
    ok = cli(data, "sql", "SELECT count() AS n FROM ledger")
    assert ok.returncode == 0 and "(1 rows)" in ok.stdout, ok.stderr
    out = tmp_path / "hook.sh"
    bad = cli(data, "sql", f"SELECT 'x' INTO OUTFILE '{out}'")
    assert bad.returncode == 2 and not out.exists()
    assert bad.stderr.count("\n") == 1 and "INTO OUTFILE is refused" in bad.stderr and "Traceback" not in bad.stderr
    cut = cli(data, "sql", "SELECT number FROM numbers(10)", NEWSSTREAM_SQL_MAX_RESULT_ROWS="3")
    assert cut.returncode == 0 and "(10 rows)" in cut.stdout, "the limit is the worker's, not the caller's"


def sink_rows(worker) -> float:
    text = urllib.request.urlopen(f"{worker.plain_web}/metrics", timeout=10).read().decode()
    return sum(float(v) for v in re.findall(r'^newsstream_sink_rows_total\{[^}]*\} ([0-9.e+]+)$', text, re.M))


def test_runaway_queries_stop_at_the_limit_and_the_sink_keeps_writing(stack):
    """Two runaway queries fill the analyst lane; a third is told 429; the sink's writes go on meanwhile."""
    data, broker, worker = stack
    errors: list[str] = []

    def runaway():
        while True:
            try:
                ask_worker(worker.web, "SELECT count() FROM numbers(1e12)", timeout=120)
                errors.append("finished?")
            except WorkerError as exc:
                if isinstance(exc, Busy):  # 429: the probe below held a slot for a moment: ask again
                    time.sleep(0.05)
                    continue
                errors.append(str(exc))
            return

    threads = [threading.Thread(target=runaway) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while True:  # both slots taken: observable as a 429 for the next query
        try:
            ask_worker(worker.web, "SELECT 1", timeout=30)
        except WorkerError as exc:
            assert isinstance(exc, Busy), exc  # 429
            break
        assert time.monotonic() < deadline, f"the lane never filled: {errors}"
        time.sleep(0.2)
    before = sink_rows(worker)
    settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=data)
    sent = asyncio.run(ingest([CORPUS], settings, broker.url, progress=False)).sent
    assert sent
    written_while_running = 0.0
    while any(t.is_alive() for t in threads):
        rows = sink_rows(worker) - before
        if all(t.is_alive() for t in threads):
            written_while_running = rows  # outcomes of the new pages, consumer-lag rows: all through the sink
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    assert all("TIMEOUT_EXCEEDED" in e or "Timeout exceeded" in e for e in errors), errors
    assert written_while_running > 0, f"the sink wrote nothing while both analyst queries ran: {worker.log_tail()}"
    assert ask_worker(worker.web, "SELECT 1").rows == [(1,)], "the lane is free again"


def test_cli_opening_chdb_itself_goes_through_the_same_door(tmp_path):
    """No worker holds this data directory: the CLI opens chDB in its own process, behind the same door."""
    data = tmp_path / "alone"
    assert cli(data, "migrate").returncode == 0
    out = tmp_path / "hook.sh"
    for attack, reason in [(f"SELECT 'x' INTO OUTFILE '{out}' APPEND", "INTO OUTFILE is refused"),
                           ("SELECT file('/etc/passwd')", "function file is refused"),
                           ("SYSTEM STOP MERGES", "SYSTEM statements are refused")]:
        bad = cli(data, "sql", attack)
        assert bad.returncode == 2 and reason in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr
    assert not out.exists()
    cut = cli(data, "sql", "SELECT number FROM numbers(100000)", NEWSSTREAM_SQL_MAX_RESULT_ROWS="10")
    assert cut.returncode == 0 and "(10 rows)" in cut.stdout and "result cut at 10 rows" in cut.stderr
    slow = cli(data, "sql", "SELECT count() FROM numbers(1e12)", NEWSSTREAM_SQL_MAX_EXECUTION_SECONDS="2")
    assert slow.returncode == 2 and "Timeout exceeded" in slow.stderr, slow.stderr
