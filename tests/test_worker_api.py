"""The worker's maintenance jobs and HTTP API as plain calls: no Faust web server, no broker, no warehouse."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import orjson
import pytest

from streams.inputs.archive import ArchiveWriter
from streams.inputs.paths import RawDocument
from streams.ops.reconcile import ReconcileReport
from streams.pipeline.offline import raw_page
from streams.pipeline.stages.stories import StoryIndex
from streams.runtime import backoff
from streams.runtime import maintenance as maintenance_module
from streams.runtime.maintenance import Maintenance
from streams.runtime.metrics import WorkerMetrics
from streams.runtime.story_index_owner import StoryIndexOwner
from streams.runtime.worker_api import WorkerApi
from streams.settings import Settings


class Actors:
    def __init__(self, version="v1"):
        self.dictionary = SimpleNamespace(version=version)

    def current(self):
        return self.dictionary


class Parts:
    """A WorkerApi over fakes: `landed` page ids answer the ledger query; `run` records the warehouse calls."""

    def __init__(self, tmp_path, run_sink=True, landed=(), lane=None):
        self.settings = Settings(_env_file=None, data_dir=str(tmp_path), **{"NEWSSTREAM_SINK": run_sink})
        self.landed, self.ran, self.written = set(landed), [], []
        self.metrics = WorkerMetrics()
        self.actors = Actors()
        self.maintenance = Maintenance(self.settings, "kafka://127.0.0.1:1", self.query, self.run, self.write,
                                       self.metrics, self.actors)
        self.owner = StoryIndexOwner(("newsstream.entities", 0), StoryIndex, self.load)
        self.api = WorkerApi(self.settings, "kafka://127.0.0.1:1", self.maintenance, self.metrics, self.actors,
                             self.owner, lane, self.open_warehouse)

    async def query(self, sql, parameters=None):
        assert "FROM ledger" in sql
        return [(p,) for p in parameters["ids"] if p in self.landed]

    async def run(self, fn):
        self.ran.append(fn)
        return 7

    async def write(self, rows):
        self.written.append(rows)

    async def load(self, index):
        return 0, 0

    async def open_warehouse(self):
        pass

    def archive(self, *names, entered=None):
        writer = ArchiveWriter(self.settings.archive_path, self.settings.archive_segment_bytes)
        ids = []
        for name in names:
            page = raw_page(RawDocument(source=name, url=f"https://x.test/{name}", body=b"<p>x</p>", fetched_at=None))
            writer.append(page, entered or datetime.now(UTC) - timedelta(hours=1))
            ids.append(page.page_id)
        writer.close()
        return ids


def call(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def test_only_the_warehouse_holder_runs_maintenance(tmp_path):
    api = Parts(tmp_path, run_sink=False).api
    for action in (api.reconcile, api.replay, api.reprocess, api.actors_sync):
        status, body = call(action({}))
        assert status == 400 and "does not hold the warehouse" in body["error"]


@pytest.mark.parametrize("query, message", [
    ({"grace_seconds": "-1"}, "a number of seconds from 0 to"),
    ({"grace_seconds": "nan"}, "a number of seconds from 0 to"),
    ({"grace_seconds": "soon"}, "could not convert"),
    ({"entered_before": "yesterday"}, "Invalid isoformat"),
])
def test_a_bad_parameter_is_the_callers_400(tmp_path, query, message):
    status, body = call(Parts(tmp_path).api.reconcile(query))
    assert status == 400 and message in body["error"]


def test_replay_with_a_bad_since_is_400(tmp_path):
    status, body = call(Parts(tmp_path).api.replay({"since": "last week"}))
    assert status == 400 and "since: not a time" in body["error"]


def test_reconcile_dry_run_lists_the_archived_pages_without_an_outcome(tmp_path):
    parts = Parts(tmp_path)
    done, missing = parts.archive("done.html", "lost.html")
    parts.landed.add(done)
    status, body = call(parts.api.reconcile({"dry_run": "1", "grace_seconds": "0"}))
    assert status == 200
    assert (body["archived"], body["missing"], body["resent"]) == (2, 1, 0)
    assert [s["page_id"] for s in body["sample"]] == [missing]
    assert parts.metrics.unaccounted._value.get() == 1


def test_health_says_whether_the_story_index_is_ready(tmp_path):
    parts = Parts(tmp_path)
    assert call(parts.api.health({}))[1]["story_index_ready"] is False
    parts.owner.ready.set()
    status, body = call(parts.api.health({}))
    assert status == 200 and body == {"status": "ok", "story_index_ready": True, "dictionary_version": "v1"}


def test_sql_on_a_worker_without_the_warehouse_is_400(tmp_path):
    status, body = call(Parts(tmp_path, run_sink=False).api.sql({"q": "SELECT 1"}))
    assert status == 400 and "does not hold the embedded warehouse" in body["error"]


def test_sql_answers_through_the_lane_and_maps_its_refusals(tmp_path):
    from streams.warehouse.sql_door import Busy, QueryFailed, Refused

    class Lane:
        ready = False

        async def run(self, sql, params):
            if sql == "busy":
                raise Busy("too many queries")
            if sql == "refused":
                raise Refused("INSERT is not a read")
            if sql == "bad":
                raise QueryFailed("Syntax error")
            return SimpleNamespace(columns=["n", "p"], rows=[[1, params]], cut=False)

    api = Parts(tmp_path, lane=Lane()).api
    status, body = call(api.sql({"q": "SELECT 1", "param_week": "2024-05-06"}))
    assert status == 200 and orjson.loads(body) == {"columns": ["n", "p"], "rows": [[1, {"week": "2024-05-06"}]],
                                                    "cut": False}
    assert api.lane.ready
    assert [call(api.sql({"q": q}))[0] for q in ("busy", "refused", "bad")] == [429, 403, 400]


def test_the_actors_table_is_synced_once_per_dictionary_version(tmp_path):
    parts = Parts(tmp_path)
    assert call(parts.api.actors_sync({})) == (200, {"actors": 7, "dictionary_version": "v1"})
    call(parts.maintenance.actor_table_tick())
    assert len(parts.ran) == 1  # same version: nothing to do
    parts.actors.dictionary = SimpleNamespace(version="v2")
    call(parts.maintenance.actor_table_tick())
    assert len(parts.ran) == 2 and parts.maintenance.synced_version == "v2"


def test_healing_after_a_broker_start_retries_until_reconcile_works(tmp_path, monkeypatch):
    parts = Parts(tmp_path)
    answers = [ConnectionError("no broker yet"), ReconcileReport(resent=2, dead_lettered=1)]
    seen = []

    async def reconcile(**options):
        seen.append(options)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def no_wait(seconds):
        pass

    monkeypatch.setattr(parts.maintenance, "reconcile", reconcile)
    monkeypatch.setattr(backoff.asyncio, "sleep", no_wait)
    started = datetime(2024, 5, 1, tzinfo=UTC)
    assert call(parts.maintenance.heal(started)).resent == 2
    assert seen == [{"entered_before": started}] * 2
    assert parts.metrics.healed._value.get() == 3


def test_timers_never_raise(tmp_path, monkeypatch):
    parts = Parts(tmp_path)

    async def broken(*args, **kwargs):
        raise ConnectionError("Kafka is down")

    monkeypatch.setattr(parts.maintenance, "reconcile", broken)
    monkeypatch.setattr(maintenance_module, "record_lag", broken)
    call(parts.maintenance.reconcile_tick())
    call(parts.maintenance.lag_tick())
    assert parts.written == []

    async def lag(settings, url, metrics):
        return [{"grp": "g", "lag": 3}]

    monkeypatch.setattr(maintenance_module, "record_lag", lag)
    call(parts.maintenance.lag_tick())
    assert parts.written == [{"consumer_lag": [{"grp": "g", "lag": 3}]}]


def test_a_broker_start_with_nothing_lost_is_no_warning(tmp_path, monkeypatch, caplog):
    """A fresh data directory logged "broker started empty ...: 0 archived pages ... re-sent" as a warning at every
    first `run`; only pages actually re-sent are worth one."""
    import logging

    parts = Parts(tmp_path)
    answers = [ReconcileReport(), ReconcileReport(resent=2)]

    async def reconcile(**options):
        return answers.pop(0)

    monkeypatch.setattr(parts.maintenance, "reconcile", reconcile)
    started = datetime(2024, 5, 1, tzinfo=UTC)
    with caplog.at_level(logging.INFO, logger="newsstream"):
        call(parts.maintenance.heal(started))
        call(parts.maintenance.heal(started))
    levels = [r.levelno for r in caplog.records if "broker started empty" in r.getMessage()]
    assert levels == [logging.INFO, logging.WARNING]
