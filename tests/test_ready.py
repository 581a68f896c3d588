"""Time to ready: the consumer groups of a worker on the local broker use the local session timeout.

Tansu answers a group join only once half the group's session timeout has passed (in 1 s steps), so that timeout
bounds how soon `newsstream run` consumes; Kafka refuses session timeouts under 6 s, so it keeps its own.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import streams.runtime.worker as worker
from streams.runtime.kafka import KafkaClients
from streams.settings import Settings


def _settings(tmp_path, **kw) -> Settings:
    return Settings(_env_file=None, data_dir=str(tmp_path), **kw)


def _child_env(monkeypatch, tmp_path, external_url, **kw) -> dict:
    seen = {}

    def popen(cmd, env, **_):
        seen.update(env)
        return SimpleNamespace(poll=lambda: None)

    supervisor = worker.Supervisor(_settings(tmp_path, **kw), external_url)
    supervisor.broker = SimpleNamespace(url="kafka://127.0.0.1:1")  # type: ignore[assignment]
    # worker.subprocess is the subprocess module: patched only around the start, or a later first import that
    # runs a command (croniter, imported with Faust, calls platform.architecture()) gets the fake
    with monkeypatch.context() as patch:
        patch.setattr(worker.subprocess, "Popen", popen)
        supervisor._start_child(None)
    return seen


def test_the_worker_on_the_local_broker_joins_with_the_local_session_timeout(monkeypatch, tmp_path):
    env = _child_env(monkeypatch, tmp_path, None, group_session_timeout=10.0, local_group_session_timeout=2.5)
    assert env["KAFKA_URL"] == "kafka://127.0.0.1:1"
    child = Settings(_env_file=None, group_session_timeout=float(env["NEWSSTREAM_GROUP_SESSION_TIMEOUT"]))
    assert child.group_session_timeout == 2.5
    options = KafkaClients(child, env["KAFKA_URL"]).faust_options()
    assert options["broker_session_timeout"] == 2.5 and options["broker_heartbeat_interval"] < 2.5 / 2


def test_a_worker_on_kafka_keeps_the_kafka_session_timeout(monkeypatch, tmp_path):
    monkeypatch.delenv("NEWSSTREAM_GROUP_SESSION_TIMEOUT", raising=False)
    env = _child_env(monkeypatch, tmp_path, "kafka://kafka.test:9092", local_group_session_timeout=2.5)
    assert "NEWSSTREAM_GROUP_SESSION_TIMEOUT" not in env
    assert Settings(_env_file=None).group_session_timeout == 10.0


def test_a_second_worker_on_the_local_broker_another_run_started_uses_it_too(monkeypatch, tmp_path):
    seen = []
    monkeypatch.delenv(worker.SUPERVISED, raising=False)
    monkeypatch.setattr(worker, "kafka_url", lambda settings: "kafka://127.0.0.1:1")  # from broker.json
    monkeypatch.setattr(worker, "_run_faust", lambda settings, url, holds_data_dir: seen.append(settings) or 0)
    settings = _settings(tmp_path, local_group_session_timeout=2.5, **{"NEWSSTREAM_SINK": False})
    assert worker.run_worker(settings) == 0
    assert [s.group_session_timeout for s in seen] == [2.5]  # the Faust app's and the sink's groups


def test_the_stage_consumer_subscribes_without_fausts_pause_for_tables(tmp_path):
    """Faust's table manager sleeps a second at start before the consumer may subscribe; this app has no tables."""
    from streams.pipeline.topology import PromptTableManager, create_app

    app = create_app(_settings(tmp_path, **{"NEWSSTREAM_SINK": False}), "kafka://127.0.0.1:1")
    tables = app.tables
    assert isinstance(tables, PromptTableManager) and len(tables) == 0
    calls = []

    async def record(name, *args):
        calls.append(name)

    tables.sleep = lambda *a: record("sleep")  # type: ignore[method-assign]
    tables._update_channels = lambda: record("channels")  # type: ignore[method-assign]
    tables._recovery = SimpleNamespace(start=lambda: record("recovery"))  # type: ignore[assignment]
    asyncio.run(tables.on_start())
    assert calls == ["channels", "recovery"]


def test_the_warehouse_opens_early_in_its_one_thread_and_a_failed_early_opening_is_retried(monkeypatch, tmp_path):
    import threading

    import streams.runtime.warehouse_thread as wt

    opened = []

    def connect(settings, role):
        opened.append((role, threading.current_thread().name))
        if len(opened) == 1:
            raise ConnectionError("warehouse still starting")
        return f"warehouse {len(opened)}"

    monkeypatch.setattr(wt, "connect", connect)
    thread = wt.WarehouseThread(_settings(tmp_path)).open_early()
    thread.executor.submit(lambda: None).result()  # the opening ran, before anyone asked
    assert [role for role, _ in opened] == ["holder"] and opened[0][1].startswith("warehouse")
    try:
        thread.executor.submit(thread.warehouse).result()
        raise AssertionError("the early opening's error is the first call's")
    except ConnectionError:
        pass
    assert thread.executor.submit(thread.warehouse).result() == "warehouse 2"
    assert thread.executor.submit(thread.warehouse).result() == "warehouse 2"  # opened once
    assert len(opened) == 2


def test_a_worker_that_does_not_hold_the_embedded_warehouse_never_opens_it(tmp_path):
    import streams.runtime.warehouse_thread as wt

    assert not wt.holds_warehouse(_settings(tmp_path, **{"NEWSSTREAM_SINK": False}))
    assert wt.holds_warehouse(_settings(tmp_path))
    assert wt.holds_warehouse(_settings(tmp_path, clickhouse_url="http://u:p@ch.test:8123/db",
                                        **{"NEWSSTREAM_SINK": False}))


def test_the_local_session_timeout_has_a_floor(tmp_path):
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        _settings(tmp_path, local_group_session_timeout=0.5)


def test_the_index_reads_the_unsunk_stories_before_the_warehouse(monkeypatch, tmp_path):
    """Read the other way round, a story the sink writes and commits between the two reads would be in neither."""
    import streams.pipeline.topology as topology
    from streams.pipeline.stages.stories import StoryIndex

    app = topology.create_app(_settings(tmp_path), "kafka://127.0.0.1:1")
    order = []

    async def unsunk(kafka, topic, partitions):
        order.append("unsunk stories")
        return []

    async def query(sql, parameters=None):
        order.append("warehouse")
        return []

    monkeypatch.setattr(topology, "unsunk_stories", unsunk)
    monkeypatch.setattr(app.warehouse_gate, "query", query)
    assert asyncio.run(app.story_index_owner.load(StoryIndex())) == (0, 0)
    assert order == ["unsunk stories", "warehouse"]


def _supervise_exiting_children(monkeypatch, tmp_path, reachable: list[bool]) -> tuple[int, list]:
    """Supervisor.run over children that each exit at once with 2 (the worker's `cannot reach Kafka`)."""
    started = []

    def popen(cmd, env, **_):
        started.append(cmd)
        if len(started) > 3:  # a loop: stop it so the test ends and says so
            supervisor.stopping = True
        return SimpleNamespace(poll=lambda: 2, returncode=2, wait=lambda timeout=None: 2, pid=0,
                               send_signal=lambda sig: None, kill=lambda: None)

    answers = iter(reachable)
    monkeypatch.setattr(worker.subprocess, "Popen", popen)
    monkeypatch.setattr(worker, "_kafka_reachable", lambda url: next(answers, reachable[-1]))
    monkeypatch.setattr(worker.signal, "signal", lambda *a: None)
    monkeypatch.setattr(worker.time, "sleep", lambda s: None)
    supervisor = worker.Supervisor(_settings(tmp_path), "kafka://127.0.0.1:1")
    return supervisor.run(), started


def test_a_kafka_url_that_never_answered_is_not_retried_forever(monkeypatch, tmp_path):
    """`KAFKA_URL=kafka://127.0.0.1:1 newsstream run` restarted its worker every few seconds, for ever."""
    code, started = _supervise_exiting_children(monkeypatch, tmp_path, [False])
    assert (code, len(started)) == (2, 1)


def test_a_kafka_that_answered_and_went_away_is_waited_for(monkeypatch, tmp_path):
    code, started = _supervise_exiting_children(monkeypatch, tmp_path, [True, False])
    assert len(started) > 1, "restarted with backoff until Kafka answers again"
