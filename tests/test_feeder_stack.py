"""The feeder's commands on the real local broker: backfill skips what was sent, `feed` stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer

from schemas.records import RawPage
from streams.runtime.broker import LocalBroker, bootstrap_servers, free_port
from streams.inputs.feeder.backfill import backfill
from streams.inputs.feeder.store import SeenStore
from streams.settings import Settings
from tests.conftest import CORPUS
from tests.synthetic import synthetic_pages, write_jsonl

pytestmark = pytest.mark.integration
PAGE = (CORPUS / "01-rt-lavrov-west-signals.html").read_bytes()


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with LocalBroker(tmp_path_factory.mktemp("feeder-broker")) as running:
        yield running


async def raw_urls(kafka_url: str, topic: str, expect: int, timeout: float = 20.0) -> list[str]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap_servers(kafka_url), auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    out: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < expect and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(RawPage.model_validate_json(m.value).url for m in messages)
    finally:
        await consumer.stop()
    return out


def test_a_second_backfill_sends_only_what_was_not_sent(tmp_path, broker):
    first = write_jsonl(tmp_path / "first.jsonl", synthetic_pages(6)[:4])
    both = write_jsonl(tmp_path / "both.jsonl", synthetic_pages(6))
    settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=tmp_path, topic_prefix="bf")
    assert asyncio.run(backfill([first], settings, broker.url, progress=False)).sent == 4
    again = asyncio.run(backfill([both], settings, broker.url, progress=False))
    assert (again.sent, again.skipped) == (2, 4)
    urls = asyncio.run(raw_urls(broker.url, "bf.raw-html", 6))
    assert sorted(urls) == sorted(p["url"] for p in synthetic_pages(6)), "each page exactly once"
    forced = asyncio.run(backfill([first], settings, broker.url, progress=False, resend_seen=True))
    assert (forced.sent, forced.skipped) == (4, 0)


class SlowSite:
    """A feed of two pages, one answering after 3 s, served from a thread (the feeder runs as a subprocess)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.base = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        if request.path == "/feed.xml":
            items = "".join(f"<item><title>{p}</title><link>{self.base}{p}</link></item>" for p in ("/fast", "/slow"))
            return web.Response(text=f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'
                                     "</channel></rss>", content_type="application/rss+xml")
        if request.path == "/slow":
            await asyncio.sleep(3)
        if request.path in ("/fast", "/slow"):
            return web.Response(body=PAGE, content_type="text/html", charset="utf-8")
        return web.Response(status=404)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        tcp = web.TCPSite(self.runner, "127.0.0.1", 0)
        await tcp.start()
        self.base = f"http://127.0.0.1:{tcp._server.sockets[0].getsockname()[1]}"

    def __enter__(self) -> "SlowSite":
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_feed_command_serves_metrics_and_lets_in_flight_fetches_finish_on_sigterm(tmp_path, broker):
    store = SeenStore(tmp_path / "feeder.sqlite")  # a page sent long ago: reconcile is due at start
    store.mark_sent("https://old.example/1", "https://old.example/1", "site", at=time.time() - 7200)
    store.close()
    port = free_port()
    with SlowSite() as site:
        sources = tmp_path / "sources.yaml"
        sources.write_text(f"sources:\n  - name: site\n    kind: feed\n    url: {site.base}/feed.xml\n"
                           "    interval_seconds: 3600\n")
        env = os.environ | {"KAFKA_URL": broker.url, "NEWSSTREAM_DATA_DIR": str(tmp_path),
                            "NEWSSTREAM_TOPIC_PREFIX": "sig", "NEWSSTREAM_FEEDER_ALLOW_PRIVATE": "true",
                            "NEWSSTREAM_FEEDER_HOST_DELAY": "0", "NEWSSTREAM_FEEDER_METRICS_PORT": str(port),
                            "NEWSSTREAM_FEEDER_RESEND_AFTER_SECONDS": "60"}
        env.pop("CLICKHOUSE_URL", None)
        process = subprocess.Popen([sys.executable, "-m", "streams.cli", "feed", "--config", str(sources)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            fetched_fast = 'newsstream_feeder_pages_total{outcome="fetched",source="site"} 1.0'
            deadline = time.monotonic() + 60
            while True:
                assert time.monotonic() < deadline and process.poll() is None, process.stderr.read().decode()
                try:
                    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
                except OSError:
                    metrics = ""
                if fetched_fast in metrics and "/slow" in site.requests:
                    break
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)  # /slow is still being served
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    assert process.returncode == 0, err.decode()
    assert json.loads(out) == {"site": {"fetched": 2}}, "the in-flight page was finished and sent"
    assert sorted(asyncio.run(raw_urls(broker.url, "sig.raw-html", 2))) == [f"{site.base}/fast", f"{site.base}/slow"]
    assert "reconcile skipped" in err.decode() and "no running worker" in err.decode()
    assert not (tmp_path / "clickhouse").exists(), "the feeder never opens the embedded warehouse itself"
