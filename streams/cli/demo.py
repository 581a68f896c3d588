"""`newsstream demo`: the whole stack on embedded defaults, end to end, then the weekly table by SQL.

Uses DATA_DIR/demo, wiped at start, so every run starts from an empty warehouse.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from samples import BAD_DIR, CORPUS_DIR
from streams.errors import UserError, make_directory
from streams.inputs.ingest import ingest
from streams.runtime.broker import LocalBroker, free_port
from streams.runtime.webauth import server_token
from streams.settings import Settings
from streams.warehouse.client import WorkerWarehouse, connect
from streams.warehouse.query import format_table
from streams.warehouse.report import write_report

WEEKLY_SQL = """
SELECT week, actor_name, actor_type, mentions, articles, stories
FROM mentions_per_actor_week
ORDER BY week, mentions DESC, actor_name
"""
SUMMARY_SQL = """
SELECT
    (SELECT count() FROM articles FINAL)                 AS articles,
    (SELECT uniqExact(story_id) FROM articles FINAL)     AS stories,
    (SELECT count() FROM mentions FINAL)                 AS mentions,
    (SELECT count() FROM dead_letters FINAL)             AS dead_letters
"""


def wait_for_outcomes(worker: str | Settings, raw_sent: int, ingest_dead: int, timeout: float) -> None:
    """Until every raw offset has a ledger row and every ingest-time dead letter has landed. `worker`: its URL, or
    the settings of the data directory whose worker to ask (found as every command finds it)."""
    deadline = time.monotonic() + timeout
    query = ("SELECT (SELECT count() FROM ledger FINAL), "
             "(SELECT count() FROM dead_letters FINAL WHERE stage = 'ingest')")
    seen = (0, 0)
    while time.monotonic() < deadline:
        try:
            with (WorkerWarehouse(worker, timeout=10) if isinstance(worker, str)
                  else connect(worker, role="borrower")) as warehouse:
                seen = warehouse.query(query)[1][0]
            if seen[0] >= raw_sent and seen[1] >= ingest_dead:
                return
        except (OSError, RuntimeError, UserError):
            pass  # the worker is still starting or migrating
        time.sleep(0.5)
    raise TimeoutError(f"after {timeout}s the warehouse holds outcomes for {seen[0]}/{raw_sent} raw pages "
                       f"and {seen[1]}/{ingest_dead} ingest dead letters")


def newsstream_command() -> str:
    """How to run this same installation's CLI from any shell: the venv's script path, not a bare name."""
    script = Path(sys.executable).parent / "newsstream"
    return shlex.quote(str(script)) if script.exists() else f"{shlex.quote(sys.executable)} -m streams.cli"


def run_demo(settings: Settings, paths: list[Path] | None = None, timeout: float = 300.0) -> int:
    paths = paths or [CORPUS_DIR, BAD_DIR]
    demo_dir = settings.data_path / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    make_directory(demo_dir, f"NEWSSTREAM_DATA_DIR={settings.data_dir}")
    web_port = free_port()
    with LocalBroker(demo_dir) as broker:
        print(f"1/4 local broker (Tansu) on {broker.url}")
        env = os.environ | {"KAFKA_URL": broker.url, "NEWSSTREAM_DATA_DIR": str(demo_dir),
                            "NEWSSTREAM_WEB_PORT": str(web_port), "NEWSSTREAM_WEB_HOST": "127.0.0.1",
                            # the broker started here is the local one (streams.runtime.worker.on_local_broker)
                            "NEWSSTREAM_GROUP_SESSION_TIMEOUT": str(settings.local_group_session_timeout)}
        env.pop("CLICKHOUSE_URL", None)
        demo_settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=demo_dir, web_port=web_port,
                                 web_host="127.0.0.1", clickhouse_url=None)
        server_token(demo_settings)  # made before the worker starts; the worker and this client read the same file
        log = open(demo_dir / "worker.log", "wb")
        worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "run"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        print(f"2/4 worker pid {worker.pid}, embedded ClickHouse in {demo_settings.warehouse_url} "
              f"(log: {demo_dir / 'worker.log'})")
        try:
            report = asyncio.run(ingest(paths, demo_settings, broker.url, progress=True))
            print(f"3/4 ingested {report.sent} pages; {report.dead_lettered} rejected at ingest")
            wait_for_outcomes(demo_settings, report.sent, report.dead_lettered, timeout)
            warehouse = connect(demo_settings, role="borrower")  # the worker started above holds its chDB
            print("4/4 mentions per actor per week, from ClickHouse:\n")
            print(format_table(*warehouse.query(WEEKLY_SQL)))
            print()
            print(format_table(*warehouse.query(SUMMARY_SQL)))
            print()
            print(format_table(*warehouse.query(
                "SELECT stage, reason, source FROM dead_letters FINAL ORDER BY source")))
            chart = write_report(demo_dir / "report.html", warehouse.query,
                                 since=date(2000, 1, 1), until=date.today(), metric="mentions")
            print(f"\nA chart of the same figures: {chart}")
            command = f"NEWSSTREAM_DATA_DIR={shlex.quote(str(demo_dir))} {newsstream_command()}"
            print(f"The warehouse stays in {demo_dir / 'clickhouse'}; query it with\n"
                  f"  {command} sql \"SELECT * FROM mentions_per_actor_week\"\n"
                  f"  {command} cookbook   (the analyst queries)")
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
            log.close()
    return 0
