"""One worker holds a data directory: a second `newsstream run` refuses before touching anything of the first's;
extra workers (NEWSSTREAM_SINK=false) take a free web port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from streams.cli import commands as cli
from streams.runtime.data_dir import choose_web_port, claim_data_dir
from streams.errors import UserError
from streams.settings import Settings

HOLD_LOCK = """
import sys, time
from streams.settings import Settings
from streams.runtime.data_dir import claim_data_dir
lock = claim_data_dir(Settings(_env_file=None, data_dir=sys.argv[1]))
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def first_worker(tmp_path):
    """Another process holding the data directory, with its worker.json, as a running sink worker has."""
    data = tmp_path / "data"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(data)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    (data / "worker.json").write_text(json.dumps({"web_url": "http://127.0.0.1:6066", "pid": holder.pid}))
    yield data, holder
    holder.kill()
    holder.wait()


def test_a_second_worker_on_the_data_directory_refuses(first_worker, monkeypatch, capsys):
    data, holder = first_worker
    before = (data / "worker.json").read_text()
    monkeypatch.setenv("NEWSSTREAM_DATA_DIR", str(data))
    for var in ("KAFKA_URL", "CLICKHOUSE_URL", "NEWSSTREAM_SINK"):
        monkeypatch.delenv(var, raising=False)
    code = cli.main(["run"])
    assert (code, capsys.readouterr().err) == (
        2, f"newsstream: a worker (pid {holder.pid}) already runs on {data}; add workers with NEWSSTREAM_SINK=false, "
           "or give this one another NEWSSTREAM_DATA_DIR\n")
    assert (data / "worker.json").read_text() == before  # the first worker's address is untouched
    assert not (data / "broker.json").exists()  # and no broker was started


def test_the_lock_is_free_again_when_its_holder_dies(first_worker):
    data, holder = first_worker
    settings = Settings(_env_file=None, data_dir=data)
    with pytest.raises(UserError):
        claim_data_dir(settings)
    holder.kill()
    holder.wait()
    lock = claim_data_dir(settings)  # no stale lock after a crash
    assert lock is not None
    lock.release()


def test_extra_workers_need_no_lock(first_worker):
    data, _ = first_worker
    assert claim_data_dir(Settings(_env_file=None, data_dir=data, NEWSSTREAM_SINK=False)) is None
    # with a ClickHouse server several sink workers may share a data directory; only the holder writes worker.json
    assert claim_data_dir(Settings(_env_file=None, data_dir=data, CLICKHOUSE_URL="http://ch:8123/db")) is None


def test_a_busy_default_web_port_is_replaced_by_a_free_one(monkeypatch):
    monkeypatch.delenv("NEWSSTREAM_WEB_PORT", raising=False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = Settings(_env_file=None, web_port=port)
        settings.__pydantic_fields_set__.discard("web_port")  # as if this port were the default
        chosen = choose_web_port(settings)
        assert chosen.web_port != port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", chosen.web_port))  # free

        monkeypatch.setenv("NEWSSTREAM_WEB_PORT", str(port))
        with pytest.raises(UserError, match=f"NEWSSTREAM_WEB_PORT={port} is in use"):
            choose_web_port(Settings(_env_file=None))


def test_a_free_web_port_is_kept():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(_env_file=None, web_port=port)
    assert choose_web_port(settings) is settings
