"""Crashes and churn on the real local broker: after reconcile, nothing lost and nothing counted twice.

Expected figures come from the offline path over the same pages (a clean run without a broker).
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.pipeline.dictionary import ActorDictionary
from streams.pipeline.topics import topic_specs
from streams.runtime.broker import LocalBroker
from streams.runtime.kafka import KafkaClients, stream_group
from streams.inputs.ingest import ingest
from streams.inputs.paths import iter_documents
from streams.pipeline.offline import process_documents
from tests.worker_calls import query_worker, worker_action
from streams.settings import Settings
from streams.pipeline.stages.clean import CleanLimits
from tests.stack import WorkerProcess
from tests.synthetic import synthetic_pages, write_jsonl

pytestmark = pytest.mark.integration

PAGES = 2000


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("pages") / "pages.jsonl", synthetic_pages(PAGES))


@pytest.fixture(scope="module")
def clean_run(pages):
    docs = iter_documents([pages], max_bytes=Settings().max_page_bytes)
    lines = list(process_documents(docs, limits=CleanLimits(), dictionary=ActorDictionary.load()))
    ok = list({line["article_id"]: line for line in lines if line["status"] == "ok"}.values())
    mentions = Counter((l["article_id"], m["actor_id"], m["start"]) for l in ok for m in l["mentions"])
    weekly: dict[tuple[str, str], list] = {}
    for line in ok:
        d = datetime.fromisoformat(line["published_at"]).date()
        week = str(d - timedelta(days=d.weekday()))
        for m in line["mentions"]:
            entry = weekly.setdefault((m["actor_id"], week), [0, set()])
            entry[0] += 1
            entry[1].add(line["article_id"])
    return {"outcomes": len(lines), "articles": len(ok), "mentions": mentions,
            "weekly": {k: (n, len(a)) for k, (n, a) in weekly.items()}}


def ledger_total(web: str) -> int:
    return query_worker(web, "SELECT count() FROM ledger FINAL")[1][0][0]


def wait_until_quiet(web: str, target: int, quiet_seconds: float = 20, timeout: float = 300) -> int:
    """Until every raw offset has an outcome, or the count stops moving once started (what is left was lost)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            count = ledger_total(web)
        except (OSError, RuntimeError):
            time.sleep(1)
            continue
        if count >= target:
            return count
        if count != last or count == 0:  # zero: the group may still be rejoining after a restart
            last, since = count, time.monotonic()
        elif time.monotonic() - since > quiet_seconds:
            return count
        time.sleep(0.5)
    return last


def reconcile_until_complete(data, web: str, target: int, rounds: int = 5) -> int:
    """Re-send what has no outcome until the ledger is complete; returns how many were re-sent in all."""
    resent = 0
    for _ in range(rounds):
        if ledger_total(web) >= target:
            return resent
        report = worker_action(Settings(_env_file=None, data_dir=data), "reconcile", {"grace_seconds": "0"})
        resent += report["resent"] + report["dead_lettered"]
        wait_until_quiet(web, target)
    return resent


def assert_same_as_clean_run(web: str, clean_run: dict) -> None:
    assert ledger_total(web) == clean_run["outcomes"], "every raw page has exactly one outcome"
    rows = query_worker(web, "SELECT count(), uniqExact(article_id) FROM articles FINAL")[1][0]
    assert rows == (clean_run["articles"], clean_run["articles"])
    mentions = query_worker(web, "SELECT article_id, actor_id, char_start FROM mentions FINAL")[1]
    assert Counter(mentions) == clean_run["mentions"]
    weekly = query_worker(web, "SELECT actor_id, toString(week), mentions, articles FROM mentions_per_actor_week")[1]
    assert {(a, w): (m, n) for a, w, m, n in weekly} == clean_run["weekly"]


def settle_and_compare(data, web: str, sent: int, clean_run: dict, label: str) -> None:
    """Let the stream finish, count what it left without an outcome, reconcile, then compare with the clean run."""
    before = wait_until_quiet(web, sent)
    resent = reconcile_until_complete(data, web, sent)
    print(f"{label}: {sent - before} of {sent} raw pages had no outcome before reconcile; it re-sent {resent}")
    assert_same_as_clean_run(web, clean_run)


def start_when_reachable(worker: WorkerProcess, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            query_worker(worker.web, "SELECT 1", timeout=5)
            return
        except (OSError, RuntimeError):
            time.sleep(0.3)
    raise TimeoutError(worker.log_tail())


def wait_for(check, what: str, timeout: float = 180):
    """Poll `check()` until it is truthy (returns its value); observable state, not a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (OSError, RuntimeError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"waited {timeout:.0f}s for {what}")


def wait_for_ledger(web: str, at_least: int) -> int:
    return wait_for(lambda: (n := ledger_total(web)) >= at_least and n, f"{at_least} outcomes in the ledger")


def stage_passed(worker: WorkerProcess, stage: str) -> int:
    """Records this worker's stage sent on, from its open /metrics."""
    with urllib.request.urlopen(f"{worker.plain_web}/metrics", timeout=5) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "newsstream_stage_messages_total" and sample.labels.get("stage") == stage
                    and sample.labels.get("outcome") == "passed"):
                return int(sample.value)
    return 0


def test_three_sigkills_mid_stream(tmp_path, pages, clean_run):
    rng = random.Random(8)
    with LocalBroker(tmp_path) as broker:
        settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=tmp_path)
        worker = WorkerProcess(tmp_path, broker.url, NEWSSTREAM_RECONCILE_SECONDS="0").start()
        try:
            start_when_reachable(worker)
            report = asyncio.run(ingest([pages], settings, broker.url, progress=False))
            assert report.sent == PAGES
            for _ in range(3):
                # kill after the stream moved on by a random number of pages: mid-stream by what it did, not a clock
                landed = wait_for_ledger(worker.web, ledger_total(worker.web) + rng.randint(50, 250))
                assert landed < PAGES, "the kill must come mid-stream"
                worker.kill()
                worker.start()
                start_when_reachable(worker)
            settle_and_compare(tmp_path, worker.web, report.sent, clean_run, "after 3 SIGKILLs")
        except Exception:
            print(worker.log_tail())
            raise
        finally:
            worker.stop()


def test_a_sigkill_while_the_entities_agent_holds_a_batch(tmp_path, pages, clean_run):
    """The entities agent takes the events already waiting, up to NEWSSTREAM_ENTITIES_BATCH_SIZE, and acks them only
    once the batch's records are sent (streams.runtime.stage_runner). Killed right after its first records, the
    worker is killed while the agent is taking, stepping or sending batches; whether one is in flight at that instant
    is not controlled here (tests/test_stage_runner.py::test_a_send_that_fails_mid_batch_acks_nothing_of_that_batch
    checks the ack order itself). The restarted worker reads what was not acked: nothing lost, nothing counted
    twice."""
    with LocalBroker(tmp_path) as broker:
        settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=tmp_path)
        worker = WorkerProcess(tmp_path, broker.url, NEWSSTREAM_RECONCILE_SECONDS="0",
                               NEWSSTREAM_ENTITIES_BATCH_SIZE="256").start()
        try:
            start_when_reachable(worker)
            report = asyncio.run(ingest([pages], settings, broker.url, progress=False))
            passed = wait_for(lambda: (n := stage_passed(worker, "entities")) > 0 and n,
                              "the entities agent's first records")
            worker.kill()
            assert passed < PAGES, "the kill must come mid-stream"
            print(f"killed with {passed} records sent by the entities agent")
            worker.start()
            start_when_reachable(worker)
            settle_and_compare(tmp_path, worker.web, report.sent, clean_run, "after a SIGKILL mid-batch")
            # and the batches' acks reach Faust's commits: the group's offsets on `cleaned` go to the end (events
            # never acked would hold them back, and a restart would read everything again)
            kafka, cleaned = KafkaClients(settings, broker.url), topic_specs(settings)["cleaned"].name
            wait_for(lambda: all(c is not None and c >= end for end, c in asyncio.run(
                kafka.offsets([cleaned], group=stream_group(settings))).values()),
                "the stream group's committed offsets on the cleaned topic at its end", timeout=60)
        except Exception:
            print(worker.log_tail())
            raise
        finally:
            worker.stop()


def test_a_worker_joins_and_leaves_mid_stream(tmp_path, pages, clean_run):
    with LocalBroker(tmp_path) as broker:
        settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=tmp_path)
        first = WorkerProcess(tmp_path, broker.url, NEWSSTREAM_RECONCILE_SECONDS="0").start()
        # chDB allows one process per directory: the second worker runs the stages, not the sink.
        second = WorkerProcess(tmp_path, broker.url, name="second", NEWSSTREAM_SINK="false")
        try:
            start_when_reachable(first)
            report = asyncio.run(ingest([pages], settings, broker.url, progress=False))
            wait_for_ledger(first.web, 1)  # the stream is flowing through the first worker
            second.start()
            # churn really happened: the second worker was given partitions and cleaned pages of its own
            cleaned = wait_for(lambda: (n := stage_passed(second, "clean")) >= 20 and n,
                               "the second worker to clean 20 pages")
            left_at = ledger_total(first.web)
            second.stop()
            print(f"worker churn: the second worker cleaned {cleaned} pages; it left with {left_at} of "
                  f"{report.sent} outcomes in the ledger")
            assert left_at < report.sent, "the second worker must leave mid-stream"
            settle_and_compare(tmp_path, first.web, report.sent, clean_run, "worker churn")
        except Exception:
            print(first.log_tail())
            print(second.log_tail())
            raise
        finally:
            second.stop()
            first.stop()
