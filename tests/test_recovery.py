"""Nothing lost on the real local broker: reconcile closes offset gaps, replay re-runs dead letters,
and the sink commits nothing the warehouse did not take."""

from __future__ import annotations

import asyncio
import json
import time

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.records import RawPage
from streams.inputs.archive import ArchiveWriter
from streams.runtime.broker import LocalBroker, bootstrap_servers
from streams.pipeline.identity import page_id_for
from streams.cli.demo import wait_for_outcomes
from streams.inputs.ingest import ingest
from tests.worker_calls import query_worker, worker_action
from streams.settings import Settings
from streams.pipeline.topics import ensure_topics
from streams.runtime.kafka import KafkaClients
from streams.warehouse.client import Warehouse
from streams.warehouse.sink import WarehouseSink
from tests.stack import WorkerProcess
from tests.synthetic import synthetic_pages, write_jsonl

pytestmark = pytest.mark.integration


async def produce_skipped(url: str, settings: Settings, pages: list[dict]) -> int:
    """Archive and send pages (as ingest does), then commit the Faust group's offsets past them, as Faust does
    when it commits across a gap."""
    topic = settings.topic("raw-html")
    await ensure_topics(KafkaClients(settings, url))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(url))
    await producer.start()
    ends: dict[int, int] = {}
    try:
        for i, page in enumerate(pages):
            record = RawPage(source=f"skipped-{i}", url=page["url"], html=page["html"],
                             page_id=page_id_for(page["url"], f"skipped-{i}", page["html"]))
            with ArchiveWriter(settings.archive_path) as archive:
                archive.append(record)
            value = record.model_dump(mode="json")
            meta = await producer.send_and_wait(topic, orjson.dumps(value), key=str(i).encode())
            ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(url), group_id=settings.app_id,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in ends])
        await consumer.commit({TopicPartition(topic, p): end for p, end in ends.items()})
    finally:
        await consumer.stop()
    return len(pages)


def ledger_count(web: str) -> int:
    return query_worker(web, "SELECT count() FROM ledger FINAL")[1][0][0]


def test_reconcile_resends_pages_the_stream_skipped(tmp_path):
    pages = write_jsonl(tmp_path / "pages.jsonl", synthetic_pages(24))
    with LocalBroker(tmp_path) as broker:
        settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=tmp_path)
        skipped = asyncio.run(produce_skipped(broker.url, settings, synthetic_pages(48)[24:]))
        worker = WorkerProcess(tmp_path, broker.url, NEWSSTREAM_RECONCILE_SECONDS="0").start()
        try:
            second = asyncio.run(ingest([pages], settings, broker.url, progress=False))
            wait_for_outcomes(worker.web, second.sent, 0, timeout=180)
            assert ledger_count(worker.web) == second.sent, "the skipped first copy must not have landed"

            dry = worker_action(Settings(_env_file=None, data_dir=tmp_path), "reconcile",
                                {"dry_run": "1", "grace_seconds": "0"})
            assert dry["missing"] == skipped and dry["resent"] == 0
            done = worker_action(Settings(_env_file=None, data_dir=tmp_path), "reconcile", {"grace_seconds": "0"})
            assert done["resent"] == skipped
            wait_for_outcomes(worker.web, skipped + second.sent, 0, timeout=180)
            again = worker_action(Settings(_env_file=None, data_dir=tmp_path), "reconcile", {"grace_seconds": "0"})
            assert again["missing"] == 0 and again["resent"] == 0
            assert again["archived"] == skipped + second.sent
            rows = query_worker(worker.web, "SELECT page_id, outcome FROM ledger FINAL")[1]
            assert len(rows) == len({r[0] for r in rows}) == skipped + second.sent
        except Exception:
            print(worker.log_tail())
            raise
        finally:
            worker.stop()


def test_replay_turns_dead_letters_into_articles_after_a_fix(tmp_path):
    listings = sum("tag-archive" in page["url"] for page in synthetic_pages(8))
    pages = write_jsonl(tmp_path / "pages.jsonl", synthetic_pages(8))
    with LocalBroker(tmp_path) as broker:
        settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=tmp_path)
        # A misconfiguration that rejects every page: the bug to be fixed.
        broken = WorkerProcess(tmp_path, broker.url, NEWSSTREAM_MIN_TEXT_CHARS="1000000").start()
        try:
            report = asyncio.run(ingest([pages], settings, broker.url, progress=False))
            wait_for_outcomes(broken.web, report.sent, 0, timeout=180)
            outcomes = dict(query_worker(broken.web, "SELECT outcome, count() FROM ledger FINAL GROUP BY outcome")[1])
            assert outcomes == {"dead_letter": report.sent}
        finally:
            broken.stop()
        fixed = WorkerProcess(tmp_path, broker.url).start()
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    result = worker_action(Settings(_env_file=None, data_dir=tmp_path), "replay",
                                           {"reason": "no article text"})
                    if result is not None:
                        break
                    time.sleep(0.5)
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            assert result["selected"] == report.sent and result["resent"] == report.sent
            for _ in range(240):
                rows = dict(query_worker(fixed.web, "SELECT outcome, count() FROM ledger FINAL GROUP BY outcome")[1])
                if rows.get("article", 0) + rows.get("dead_letter", 0) == report.sent and rows.get("article"):
                    if not any(r == "no article text" for (r,) in query_worker(
                            fixed.web, "SELECT reason FROM ledger FINAL WHERE outcome = 'dead_letter'")[1]):
                        break
                time.sleep(0.5)
            # The tag archives of the corpus stay dead letters, for their own reason.
            reasons = query_worker(fixed.web, "SELECT reason, count() FROM ledger FINAL WHERE outcome = 'dead_letter' "
                                              "GROUP BY reason")[1]
            assert dict(reasons) == {"listing page": listings}
            assert rows["article"] == report.sent - listings
        except Exception:
            print(fixed.log_tail())
            raise
        finally:
            fixed.stop()


class FlakyWarehouse:
    """The real embedded warehouse behind a switch: while `down`, every insert fails like an outage would."""

    def __init__(self, url: str):
        self.warehouse = Warehouse(url)
        self.warehouse.migrate()
        self.down = True
        self.failures = 0

    async def write(self, rows) -> None:
        if self.down:
            self.failures += 1
            raise ConnectionError("warehouse unreachable")
        for table, table_rows in rows.items():
            self.warehouse.insert_rows(table, table_rows)


async def produce_stories(url: str, settings: Settings, count: int) -> None:
    from schemas.records import DeadLetter
    from datetime import datetime, timezone

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(url))
    await producer.start()
    try:
        for i in range(count):
            letter = DeadLetter(stage="clean", reason="empty", source=f"page-{i}", raw={"topic": "raw", "partition": 0,
                                "offset": i}, at=datetime.now(timezone.utc))
            await producer.send_and_wait(settings.topic("dead-letters"), orjson.dumps(letter.model_dump(mode="json")))
    finally:
        await producer.stop()


async def committed(url: str, settings: Settings) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(url), group_id=f"{settings.app_id}-sink",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(settings.topic("dead-letters"), 0))
    finally:
        await consumer.stop()


def test_sink_commits_nothing_while_the_warehouse_is_down_and_loses_nothing_after(tmp_path):
    async def scenario(url: str) -> None:
        settings = Settings(_env_file=None, kafka_url=url, data_dir=tmp_path, sink_flush_seconds=0.2,
                            group_session_timeout=6, sink_retry_first_seconds=0.05, sink_retry_max_seconds=0.2,
                            sink_max_retries=10_000)
        await ensure_topics(KafkaClients(settings, url))
        await produce_stories(url, settings, 30)
        flaky = FlakyWarehouse(settings.warehouse_url)
        write = flaky.write

        sink = WarehouseSink(settings, url, write)
        task = asyncio.create_task(sink.run())
        while flaky.failures < 5:
            await asyncio.sleep(0.1)
        assert await committed(url, settings) is None, "no commit while the batch is not written"
        task.cancel()  # the worker dies during the outage
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await committed(url, settings) is None

        flaky.down = False  # the warehouse is back; a new sink picks up the uncommitted messages
        sink = WarehouseSink(settings, url, write)
        task = asyncio.create_task(sink.run())
        deadline = time.monotonic() + 60
        while await committed(url, settings) != 30 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        sink.stop()
        await task
        assert await committed(url, settings) == 30
        rows = flaky.warehouse.query("SELECT count(), uniqExact(source) FROM dead_letters FINAL")[1]
        flaky.warehouse.close()  # chDB holds one data directory per process: free it for later tests
        assert rows == [(30, 30)]

    with LocalBroker(tmp_path) as broker:
        asyncio.run(scenario(broker.url))


def test_cli_reconcile_grace_zero_is_zero_not_the_default(tmp_path):
    """`newsstream reconcile --grace 0` through the worker: 0 is a value (it used to be dropped as falsy and the
    120 s default applied, so a page archived a moment ago counted as in flight)."""
    import os
    import subprocess
    import sys

    with LocalBroker(tmp_path) as broker:
        settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=tmp_path)
        page = RawPage(source="lost.html", url="https://example.org/lost?id=1", html="<html>x</html>",
                       page_id=page_id_for("https://example.org/lost?id=1", "lost.html", "<html>x</html>"))
        with ArchiveWriter(settings.archive_path) as archive:
            archive.append(page)  # archived, then lost before it reached the broker
        worker = WorkerProcess(tmp_path, broker.url, NEWSSTREAM_RECONCILE_SECONDS="0").start()
        env = os.environ | {"NEWSSTREAM_DATA_DIR": str(tmp_path)}
        env.pop("KAFKA_URL", None)

        def cli(*args) -> dict:
            done = subprocess.run([sys.executable, "-m", "streams.cli", "reconcile", "--dry-run", *args], env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)

        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if worker_action(Settings(_env_file=None, data_dir=tmp_path), "reconcile", {"dry_run": "1"}):
                        break
                except OSError:
                    pass  # the address file is written before the web server listens
                assert time.monotonic() < deadline, worker.log_tail()
                time.sleep(0.5)
            default = cli()
            assert default["in_flight"] == 1 and default["missing"] == 0
            zero = cli("--grace", "0")
            assert zero["missing"] == 1 and zero["in_flight"] == 0
            assert zero["sample"][0]["page_id"] == page.page_id
        except Exception:
            print(worker.log_tail())
            raise
        finally:
            worker.stop()


def test_a_page_another_tool_produced_is_archived_by_the_clean_stage(tmp_path):
    """A raw page produced straight to the topic (no page id: not through ingest/feed/backfill) is archived when the
    clean stage first sees it, under the id the ledger gives it; after the broker loses it, reconcile finds it in
    the archive and counts it as landed, and `reprocess --from-archive` would cover it."""
    from streams.inputs import archive

    body = "<html><body><article><h1>خبر</h1><p>" + "نص الخبر الكامل هنا. " * 30 + "</p></article></body></html>"
    url = "https://example.org/other-tool?id=7"

    with LocalBroker(tmp_path) as broker:
        settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=tmp_path)

        async def produce() -> None:
            await ensure_topics(KafkaClients(settings, broker.url))
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(broker.url))
            await producer.start()
            try:
                await producer.send_and_wait(settings.topic("raw-html"), orjson.dumps(
                    {"source": "other-tool", "url": url, "html": body, "schema_version": 1}))
            finally:
                await producer.stop()

        asyncio.run(produce())
        worker = WorkerProcess(tmp_path, broker.url, NEWSSTREAM_RECONCILE_SECONDS="0").start()
        try:
            wait_for_outcomes(worker.web, 1, 0, timeout=180)
            rows = query_worker(worker.web, "SELECT page_id, outcome FROM ledger FINAL")[1]
            assert len(rows) == 1 and rows[0][0] == page_id_for(url, "other-tool", body), rows
            deadline = time.monotonic() + 30
            while not list(archive.entries(settings.archive_path)) and time.monotonic() < deadline:
                time.sleep(0.3)
            found = list(archive.entries(settings.archive_path))
            assert [e.page_id for e in found] == [rows[0][0]]
            kept = archive.read_page(settings.archive_path, found[0])
            assert kept.url == url and kept.html == body and kept.page_id == rows[0][0]
            report = worker_action(settings, "reconcile", {"grace_seconds": "0", "dry_run": "1"})
            assert report["archived"] == 1 and report["missing"] == 0, report
        except Exception:
            print(worker.log_tail())
            raise
        finally:
            worker.stop()
