"""Feeder behaviour a long-running deployment depends on: robots.txt over time, answers that are final,
a warehouse that cannot answer, gzipped sitemaps, headers on the record. A local site, never the internet."""

from __future__ import annotations

import asyncio
import gzip
import logging
import time

import orjson
import pytest
from aiohttp import web

from streams.inputs.feeder.config import Source
from streams.inputs.feeder.fetch import Fetcher, FetchPolicy
from streams.inputs.feeder.run import Feeder
from streams.inputs.feeder.store import SeenStore
from tests.conftest import CORPUS
from tests.loopback import loopback_sites

PAGE = (CORPUS / "01-rt-lavrov-west-signals.html").read_bytes()
POLICY = FetchPolicy(allow_private=True, host_delay_seconds=0, backoff_seconds=0.01, max_bytes=20_000, retries=1)


class Site:
    """Answers are set per path by the test: (status, body, headers); every request is logged with its time."""

    def __init__(self, routes: dict[str, tuple[int, bytes, dict]]):
        self.routes = routes
        self.delays: dict[str, float] = {}
        self.hits: list[tuple[str, float]] = []
        self.base = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append((request.path, time.monotonic()))
        await asyncio.sleep(self.delays.get(request.path, 0))
        status, body, headers = self.routes.get(request.path, (404, b"", {}))
        return web.Response(status=status, body=body, headers=headers)

    def count(self, path: str) -> int:
        return sum(p == path for p, _ in self.hits)


@pytest.fixture
async def serve():
    async with loopback_sites(Site) as start:
        yield start


HTML = {"Content-Type": "text/html; charset=utf-8"}


class Sent(list):
    async def __call__(self, topic: str, key, value: bytes) -> None:
        self.append((topic, key, orjson.loads(value)))

    def urls(self, topic: str = "raw-html") -> list[str]:
        return [v["url"] for t, _, v in self if t == topic]


async def test_unreachable_robots_txt_disallows_until_read_again(serve):
    site = await serve({"/robots.txt": (503, b"", {}), "/news/1": (200, PAGE, HTML)})
    async with Fetcher(FetchPolicy(allow_private=True, host_delay_seconds=0, backoff_seconds=0.01,
                                   robots_ttl_seconds=0.2)) as fetcher:
        assert (await fetcher.get(f"{site.base}/news/1")).error == "robots", "RFC 9309: 5xx robots.txt = disallow"
        assert (await fetcher.get(f"{site.base}/news/1")).error == "robots"
        assert site.count("/robots.txt") == 2, "one try and one retry, then cached"
        site.routes["/robots.txt"] = (200, b"User-agent: *\nDisallow: /private/\n", {})
        await asyncio.sleep(0.25)
        assert (await fetcher.get(f"{site.base}/news/1")).ok, "re-read after the TTL"
    assert site.count("/news/1") == 1


async def test_crawl_delay_spaces_requests_to_the_host(serve):
    routes = {"/robots.txt": (200, b"User-agent: *\nCrawl-delay: 1\n", {})}  # urllib reads whole seconds only
    routes |= {f"/news/{i}": (200, PAGE, HTML) for i in range(2)}
    site = await serve(routes)
    async with Fetcher(POLICY) as fetcher:  # the policy's own spacing is 0
        results = await asyncio.gather(*(fetcher.get(f"{site.base}/news/{i}") for i in range(2)))
    assert all(r.ok for r in results)
    first, second = sorted(t for p, t in site.hits if p.startswith("/news/"))
    assert second - first >= 0.95


async def test_gzipped_child_sitemap_is_read(serve, tmp_path):
    site = await serve({})
    site.routes["/sitemap.xml"] = (200, (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f'<sitemap><loc>{site.base}/sitemap-1.xml.gz</loc></sitemap></sitemapindex>').encode(), {})
    site.routes["/sitemap-1.xml.gz"] = (200, gzip.compress((
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f'<url><loc>{site.base}/news/1</loc></url></urlset>').encode()), {"Content-Type": "application/x-gzip"})
    site.routes["/news/1"] = (200, PAGE, HTML)
    sent = Sent()
    source = Source(name="maps", kind="sitemap", url=f"{site.base}/sitemap.xml")
    await Feeder([source], SeenStore(tmp_path / "seen.sqlite"), sent, POLICY).run(once=True)
    assert sent.urls() == [f"{site.base}/news/1"]


async def test_final_answers_are_not_fetched_again_but_server_errors_are(serve, tmp_path):
    site = await serve({"/robots.txt": (200, b"User-agent: *\nDisallow: /private/\n", {}),
                        "/gone": (404, b"", {}), "/forbidden": (403, b"", {}), "/down": (503, b"", {}),
                        "/big": (200, b"x" * 30_000, HTML), "/private/1": (200, PAGE, HTML)})
    source = Source(name="list", kind="urls", urls=[f"{site.base}{p}" for p in
                                                    ("/gone", "/forbidden", "/down", "/big", "/private/1")])

    async def nothing_landed(urls):
        return set()

    for _ in range(2):  # the second pass is a restart after the resend period, with reconcile first
        sent = Sent()
        feeder = Feeder([source], SeenStore(tmp_path / "seen.sqlite"), sent, POLICY, resend_after_seconds=0.01,
                        outcome_query=nothing_landed)
        await asyncio.sleep(0.05)
        await feeder.run(once=True)
        feeder.store.close()
        letters = [v["reason"] for t, _, v in sent if t == "dead-letters"]
        if _ == 0:
            assert letters == ["oversized"]
    assert letters == [], "the oversized page was dead-lettered once, not once per resend period"
    assert (site.count("/gone"), site.count("/forbidden"), site.count("/big")) == (1, 1, 1)
    assert site.count("/private/1") == 0
    assert site.count("/down") == 4, "a 5xx page is tried again next poll (one retry each time)"


async def test_a_warehouse_that_cannot_answer_does_not_stop_the_feeder(serve, tmp_path, caplog):
    site = await serve({"/news/1": (200, PAGE, HTML | {"ETag": '"p1"', "Content-Language": "ar"}),
                        "/news/2": (200, PAGE, HTML)})
    store = SeenStore(tmp_path / "seen.sqlite")
    store.mark_sent("https://old.example/1", "https://old.example/1", "list", at=time.time() - 7200)

    async def warehouse_down(urls):
        raise ConnectionRefusedError("clickhouse:8123")

    sent = Sent()
    source = Source(name="list", kind="urls", urls=[f"{site.base}/news/1", f"{site.base}/news/2"])
    with caplog.at_level(logging.WARNING, logger="newsstream.feeder"):
        await Feeder([source], store, sent, POLICY, resend_after_seconds=60,
                     outcome_query=warehouse_down).run(once=True)
    assert sorted(sent.urls()) == [f"{site.base}/news/1", f"{site.base}/news/2"]
    assert "reconcile skipped" in caplog.text and "clickhouse:8123" in caplog.text
    assert store.unlanded(time.time())[0][1] == "https://old.example/1", "still waiting for its outcome"
    record = next(v for _, _, v in sent if v["url"].endswith("/news/1"))
    assert record["headers"]["etag"] == '"p1"' and record["headers"]["content-language"] == "ar"
    assert record["headers"]["content-type"] == record["content_type"] == "text/html; charset=utf-8"


async def test_retry_and_redirect_limits_come_from_the_settings(serve, tmp_path):
    from streams.inputs.feeder.run import policy_from
    from streams.settings import Settings

    site = await serve({"/down": (503, b"", {}), "/r0": (302, b"", {"Location": "/r1"}),
                        "/r1": (302, b"", {"Location": "/r2"}), "/r2": (200, PAGE, HTML)})
    settings = Settings(_env_file=None, data_dir=tmp_path, feeder_retries=2, feeder_max_redirects=1,
                        feeder_allow_private=True, feeder_host_delay=0)
    async with Fetcher(policy_from(settings)) as fetcher:
        down, redirected = await fetcher.get(f"{site.base}/down"), await fetcher.get(f"{site.base}/r0")
    assert site.count("/down") == 3 and down.error == "http 503"
    assert redirected.error == "redirects: more than 1" and site.count("/r2") == 0


async def test_a_slow_source_does_not_hold_up_the_others(serve, tmp_path):
    slow = await serve({"/slow": (200, PAGE, HTML)})
    slow.delays["/slow"] = 2
    fast = await serve({"/feed.xml": (200, b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                                           b"</channel></rss>", {"Content-Type": "application/rss+xml"})})
    sources = [Source(name="slow", kind="urls", urls=[f"{slow.base}/slow"], interval_seconds=3600),
               Source(name="fast", kind="feed", url=f"{fast.base}/feed.xml", interval_seconds=0.2)]
    feeder = Feeder(sources, SeenStore(tmp_path / "seen.sqlite"), Sent(), POLICY)
    task = asyncio.create_task(feeder.run())
    while slow.count("/slow") == 0:
        await asyncio.sleep(0.01)
    polls_before = fast.count("/feed.xml")
    await asyncio.sleep(1.2)  # the slow page is still being served
    assert fast.count("/feed.xml") - polls_before >= 3, "the fast source kept its 0.2 s schedule"
    feeder.stopping.set()
    await asyncio.wait_for(task, 10)
