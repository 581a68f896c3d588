"""What survives what, on the real local broker started by `newsstream run` itself (no KAFKA_URL):
a stop and a new run (the broker's offsets start at 0 again), the broker killed mid-stream several times,
and the machine going away with the data directory kept. Every page ends with exactly one outcome, found
by its page id and by `what_happened_to_url`, with no manual step."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from streams.pipeline.dictionary import ActorDictionary
from streams.runtime.broker import running_local_broker
from streams.warehouse.cookbook import queries
from streams.pipeline.identity import page_id_for
from streams.inputs.ingest import ingest
from streams.inputs.paths import iter_documents
from streams.pipeline.offline import process_documents
from tests.worker_calls import query_worker, worker_action
from streams.settings import Settings
from streams.pipeline.stages.clean import CleanLimits
from tests.stack import WorkerProcess
from tests.synthetic import synthetic_pages, write_jsonl

pytestmark = pytest.mark.integration


def settings_for(data: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data)


def start_embedded(data: Path, **env: str) -> WorkerProcess:
    data.mkdir(parents=True, exist_ok=True)
    worker = WorkerProcess(data, None, NEWSSTREAM_RECONCILE_SECONDS="0", **env).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            query_worker(worker.web, "SELECT 1", timeout=5)
            if running_local_broker(settings_for(data)):
                return worker
        except (OSError, RuntimeError):
            pass
        time.sleep(0.3)
    raise TimeoutError(worker.log_tail())


def broker_pid(data: Path) -> int:
    return int(json.loads((data / "broker.json").read_text())["pid"])


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped is dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def send(data: Path, path: Path) -> int:
    settings = settings_for(data)
    url = running_local_broker(settings)
    assert url, "the run started a broker and wrote broker.json"
    return asyncio.run(ingest([path], settings, url, progress=False)).sent


def outcomes(web: str) -> tuple[int, int]:
    return tuple(query_worker(web, "SELECT count(), uniqExact(page_id) FROM ledger FINAL")[1][0])


def wait_for(web: str, target: int, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        try:
            count = outcomes(web)[0]
            if count >= target:
                return count
        except (OSError, RuntimeError):
            pass  # the worker is restarting
        time.sleep(0.5)
    return count


def expected(pages: list[dict], path: Path) -> dict:
    docs = iter_documents([path], max_bytes=Settings().max_page_bytes)
    lines = list(process_documents(docs, limits=CleanLimits(), dictionary=ActorDictionary.load()))
    ok = [line for line in lines if line["status"] == "ok"]
    return {"articles": len(ok), "mentions": Counter((l["article_id"], m["actor_id"], m["start"])
                                                     for l in ok for m in l["mentions"])}


def assert_one_outcome_each(web: str, data: Path, pages: list[dict], sources: list[str]) -> None:
    ids = {page_id_for(p["url"], s, p["html"]) for p, s in zip(pages, sources)}
    rows = query_worker(web, "SELECT page_id, count() FROM ledger FINAL GROUP BY page_id")[1]
    assert {pid for pid, _ in rows} == ids, "exactly the pages that entered, each once"
    assert all(n == 1 for _, n in rows)
    dry = worker_action(settings_for(data), "reconcile", {"dry_run": "1", "grace_seconds": "0"})
    assert dry["missing"] == 0 and dry["archived"] == len(ids)


def test_run_ingest_stop_run_ingest_every_page_has_one_outcome_and_is_found(tmp_path):
    pages = synthetic_pages(120)
    first, second = pages[:60], pages[60:]
    a, b = write_jsonl(tmp_path / "a.jsonl", first), write_jsonl(tmp_path / "b.jsonl", second)
    data = tmp_path / "data"
    worker = start_embedded(data)
    try:
        assert send(data, a) == 60
        assert wait_for(worker.web, 60) == 60
    finally:
        worker.stop()
    assert not (data / "broker.json").exists(), "the run stopped its broker"
    worker = start_embedded(data)  # a new broker: its offsets start at 0 again
    try:
        assert send(data, b) == 60
        assert wait_for(worker.web, 120) == 120
        time.sleep(3)  # nothing more may land: one outcome per page, not per offset
        assert outcomes(worker.web) == (120, 120)
        sources = [f"{a}:{i}" for i in range(1, 61)] + [f"{b}:{i}" for i in range(1, 61)]
        assert_one_outcome_each(worker.web, data, pages, sources)
        sql = queries()["what_happened_to_url"].sql
        for page in first[:5] + second[:5]:
            found = query_worker(worker.web, sql, parameters={"url": page["url"]})[1]
            assert len(found) == 1, page["url"]
        offsets = query_worker(worker.web, "SELECT raw_partition, raw_offset, count() FROM ledger FINAL "
                                           "GROUP BY raw_partition, raw_offset HAVING count() > 1")[1]
        assert offsets, "the second broker reused offsets of the first: they are provenance, not identity"
    except Exception:
        print(worker.log_tail())
        raise
    finally:
        worker.stop()


def test_killing_the_broker_mid_stream_loses_nothing(tmp_path):
    rng = random.Random(14)
    pages = synthetic_pages(400)
    path = write_jsonl(tmp_path / "pages.jsonl", pages)
    want = expected(pages, path)
    data = tmp_path / "data"
    worker = start_embedded(data)
    try:
        assert send(data, path) == len(pages)
        for _ in range(3):
            time.sleep(rng.uniform(1, 4))
            os.kill(broker_pid(data), signal.SIGKILL)
            time.sleep(1)
            start_deadline = time.monotonic() + 120
            while time.monotonic() < start_deadline:  # the run restarts the broker and its worker
                try:
                    query_worker(worker.web, "SELECT 1", timeout=5)
                    if running_local_broker(settings_for(data)):
                        break
                except (OSError, RuntimeError):
                    pass
                time.sleep(0.3)
        landed = wait_for(worker.web, len(pages), timeout=300)
        print(f"after 3 broker kills: {landed} of {len(pages)} pages have an outcome, no manual step")
        assert landed == len(pages)
        assert outcomes(worker.web) == (len(pages), len(pages))
        assert_one_outcome_each(worker.web, data, pages, [f"{path}:{i}" for i in range(1, len(pages) + 1)])
        rows = query_worker(worker.web, "SELECT count(), uniqExact(article_id) FROM articles FINAL")[1][0]
        assert rows == (want["articles"], want["articles"])
        mentions = query_worker(worker.web, "SELECT article_id, actor_id, char_start FROM mentions FINAL")[1]
        assert Counter(mentions) == want["mentions"], "nothing counted twice"
        metrics = __import__("urllib.request").request.urlopen(f"{worker.plain_web}/metrics").read().decode()
        assert "newsstream_broker_restarts 3.0" in metrics
        assert worker.log_path.read_text(errors="replace").count("the local broker exited") == 3
    except Exception:
        print(worker.log_tail())
        raise
    finally:
        worker.stop()


def test_a_machine_restart_with_the_data_directory_kept_loses_nothing(tmp_path):
    """SIGKILL of `newsstream run` takes its worker and its broker with it (all that a machine restart does to
    them); the next run re-sends from the archive every page that had not landed."""
    pages = synthetic_pages(300)
    path = write_jsonl(tmp_path / "pages.jsonl", pages)
    data = tmp_path / "data"
    worker = start_embedded(data)
    try:
        assert send(data, path) == len(pages)
        time.sleep(2)
        pid = broker_pid(data)
        worker.kill()
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(pid), "the broker died with its run"
        worker = start_embedded(data)
        assert wait_for(worker.web, len(pages)) == len(pages)
        assert_one_outcome_each(worker.web, data, pages, [f"{path}:{i}" for i in range(1, len(pages) + 1)])
    except Exception:
        print(worker.log_tail())
        raise
    finally:
        worker.stop()


def test_an_external_kafka_that_restarts_empty_is_reported_and_nothing_stalls(tmp_path):
    """KAFKA_URL set (no supervision of the broker): the broker dies mid-stream and comes back empty on the same
    address. The worker logs the loss and the return; seeing the raw topic's end offsets gone back, it has its
    supervisor restart it (fresh consumers) and re-sends what had no outcome from the archive. No manual step."""
    from streams.runtime.broker import LocalBroker
    from urllib.request import urlopen

    pages = synthetic_pages(160)
    a, b = write_jsonl(tmp_path / "a.jsonl", pages[:120]), write_jsonl(tmp_path / "b.jsonl", pages[120:])
    broker = LocalBroker(tmp_path).start()
    worker = WorkerProcess(tmp_path, broker.url, NEWSSTREAM_RECONCILE_SECONDS="0").start()
    settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                query_worker(worker.web, "SELECT 1", timeout=5)
                break
            except (OSError, RuntimeError):
                assert time.monotonic() < deadline, worker.log_tail()
                time.sleep(0.3)
        asyncio.run(ingest([a], settings, broker.url, progress=False))
        assert wait_for(worker.web, 10, timeout=120) >= 10
        time.sleep(3)  # the watchdog has seen the raw topic's end offsets
        broker.process.kill()  # mid-stream: some of A had not landed
        broker.process.wait()
        time.sleep(4)
        broker = LocalBroker(tmp_path, port=broker.port).start()
        time.sleep(3)
        asyncio.run(ingest([b], settings, broker.url, progress=False))
        landed = wait_for(worker.web, 160, timeout=180)
        print(f"external broker restarted empty: {landed} of 160 pages have an outcome, no manual step")
        if landed < 160:  # at worst after one reconcile (the restarted broker can fail produce requests early on)
            report = worker_action(settings_for(tmp_path), "reconcile", {"grace_seconds": "0"})
            landed = wait_for(worker.web, 160)
            print(f"one reconcile re-sent {report['resent']}: {landed} of 160")
        assert landed == 160, "no stall: pages sent before and after the broker came back all land"
        assert_one_outcome_each(worker.web, tmp_path, pages, [f"{a}:{i}" for i in range(1, 121)]
                                + [f"{b}:{i}" for i in range(1, 41)])
        log = worker.log_path.read_text(errors="replace")
        assert "lost the connection to Kafka" in log and "answers again" in log
        assert "came back without the messages it held" in log and "re-sent from the archive" in log
        metrics = urlopen(f"{worker.plain_web}/metrics").read().decode()
        assert "newsstream_broker_restarts 1.0" in metrics and "newsstream_broker_up 1.0" in metrics
    except Exception:
        print(worker.log_tail())
        raise
    finally:
        worker.stop()
        broker.stop()
