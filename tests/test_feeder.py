"""The feeder against a local HTTP server started by the test (never the internet)."""

from __future__ import annotations

import asyncio
import gzip
import io
import threading
import time

import orjson
import pytest
from aiohttp import web

from streams.inputs.feeder.config import Source, load_sources
from streams.inputs.feeder.fetch import Fetcher, FetchPolicy
from streams.inputs.feeder.guard import is_public
from streams.inputs.feeder.run import Feeder
from streams.inputs.feeder.store import SeenStore
from streams.inputs.paths import iter_documents
from tests.conftest import CORPUS, ROOT

PAGE = (CORPUS / "01-rt-lavrov-west-signals.html").read_bytes()


def rss(base: str, paths: list[str]) -> bytes:
    items = "".join(f"<item><title>n{i}</title><link>{base}{p}</link>"
                    f"<pubDate>Thu, 24 Nov 2016 1{i}:00:00 GMT</pubDate></item>" for i, p in enumerate(paths))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


class Site:
    """A small news site: robots.txt, a feed, a sitemap index, pages, and the failure modes a crawler meets."""

    def __init__(self):
        self.hits: dict[str, int] = {}
        self.app = web.Application()
        self.app.router.add_get("/{tail:.*}", self.handle)
        self.base = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        b = self.base
        if path == "/robots.txt":
            return web.Response(text="User-agent: *\nDisallow: /private/\n")
        if path == "/feed.xml":
            if request.headers.get("If-None-Match") == '"feed-v1"':
                return web.Response(status=304)
            return web.Response(body=rss(b, ["/news/1?utm_source=rss", "/news/2", "/private/3"]),
                                content_type="application/rss+xml", headers={"ETag": '"feed-v1"'})
        if path == "/sitemap.xml":
            return web.Response(text=f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                                     f'sitemap/0.9"><sitemap><loc>{b}/sitemap-news.xml</loc></sitemap></sitemapindex>',
                                content_type="application/xml")
        if path == "/sitemap-news.xml":
            urls = "".join(f'<url><loc>{b}/news/{n}</loc><news:news><news:publication_date>2016-11-2{n}'
                           f'</news:publication_date></news:news></url>' for n in (4, 5))
            return web.Response(text='<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
                                     ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
                                     f'{urls}</urlset>', content_type="application/xml")
        if path.startswith("/news/") or path.startswith("/private/"):
            return web.Response(body=PAGE, content_type="text/html", charset="utf-8")
        if path == "/flaky":
            if self.hits[path] < 3:
                return web.Response(status=503)
            return web.Response(body=PAGE, content_type="text/html")
        if path == "/big":
            return web.Response(body=b"<html><body>" + b"x" * 50_000 + b"</body></html>", content_type="text/html")
        if path == "/gone":
            return web.Response(status=404)
        if path == "/loop":
            raise web.HTTPFound("/loop2")
        if path == "/loop2":
            raise web.HTTPFound("/loop")
        if path == "/moved":
            raise web.HTTPMovedPermanently("/news/6")
        return web.Response(status=404)


@pytest.fixture
async def site():
    s = Site()
    runner = web.AppRunner(s.app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]
    s.base = f"http://127.0.0.1:{port}"
    yield s
    await runner.cleanup()


POLICY = FetchPolicy(allow_private=True, host_delay_seconds=0, backoff_seconds=0.01, max_bytes=20_000)


class Sent(list):
    async def __call__(self, topic: str, key, value: bytes) -> None:
        self.append((topic, key, orjson.loads(value)))

    def urls(self, topic: str = "raw-html") -> list[str]:
        return [v["url"] for t, _, v in self if t == topic]


def feeder(sources, tmp_path, sent, policy=POLICY, **kw) -> Feeder:
    return Feeder(sources, SeenStore(tmp_path / "seen.sqlite"), sent, policy, **kw)


async def test_feed_pages_are_sent_once_and_robots_is_respected(site, tmp_path):
    sent = Sent()
    source = Source(name="site-feed", kind="feed", url=f"{site.base}/feed.xml", lang="ar")
    f = feeder([source], tmp_path, sent)
    await f.run(once=True)
    assert sorted(sent.urls()) == [f"{site.base}/news/1?utm_source=rss", f"{site.base}/news/2"]
    assert "/private/3" not in site.hits, "robots.txt forbids it: never requested"
    record = sent[0][2]
    assert record["source"] == "site-feed" and record["lang_hint"] == "ar" and record["http_status"] == 200
    assert record["content_type"].startswith("text/html") and record["html_b64"]
    assert f.metrics.snapshot()["site-feed"]["robots_denied"] == 1

    # A restart (new feeder, same store): the feed answers 304 and nothing is fetched again.
    again = Sent()
    restarted = feeder([source], tmp_path, again)
    await restarted.run(once=True)
    assert again == [] and site.hits["/news/2"] == 1
    assert restarted.metrics.polls.labels("site-feed", "not_modified")._value.get() == 1


async def test_sitemap_index_leads_to_news_sitemap_newest_first(site, tmp_path):
    sent = Sent()
    await feeder([Source(name="maps", kind="sitemap", url=f"{site.base}/sitemap.xml", max_items=1)], tmp_path,
                 sent).run(once=True)
    assert sent.urls() == [f"{site.base}/news/5"]


async def test_retries_redirects_size_cap_and_errors(site, tmp_path):
    sent = Sent()
    urls = [f"{site.base}/{p}" for p in ("flaky", "big", "loop", "gone", "moved")]
    f = feeder([Source(name="list", kind="urls", urls=urls)], tmp_path, sent)
    await f.run(once=True)
    assert site.hits["/flaky"] == 3, "two 503s, then success"
    assert sorted(sent.urls()) == [f"{site.base}/flaky", f"{site.base}/moved"]
    moved = next(v for _, _, v in sent if v.get("url", "").endswith("/moved"))
    assert moved["final_url"] == f"{site.base}/news/6"
    letters = [v for t, _, v in sent if t == "dead-letters"]
    assert [(d["stage"], d["reason"], d["url"]) for d in letters] == [("feed", "oversized", f"{site.base}/big")]
    assert site.hits["/loop"] + site.hits["/loop2"] == POLICY.max_redirects + 1, "the loop is cut"
    counts = f.metrics.snapshot()["list"]
    assert counts == {"fetched": 2, "oversized": 1, "failed": 2}


async def test_ssrf_guard_refuses_loopback_and_other_schemes(site):
    async with Fetcher(FetchPolicy(allow_private=False, retries=0)) as fetcher:
        got = await fetcher.get(f"{site.base}/news/1")
        assert got.error and got.error.startswith("blocked"), got.error
        assert (await fetcher.get("file:///etc/passwd")).error.startswith("blocked")
        assert (await fetcher.get("ftp://example.org/x")).error.startswith("blocked")
        by_name = await fetcher.get(f"{site.base.replace('127.0.0.1', 'localhost')}/news/1")
        assert by_name.error.startswith("blocked"), "a name resolving to loopback is refused after resolution"
    assert "/news/1" not in site.hits
    assert not any(is_public(a) for a in ("10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1",
                                          "0.0.0.0", "fc00::1"))
    assert is_public("93.184.216.34")


async def test_reconcile_makes_pages_that_never_landed_eligible_again(site, tmp_path):
    sent = Sent()
    source = Source(name="list", kind="urls", urls=[f"{site.base}/news/7", f"{site.base}/news/8"])
    landed_urls = {f"{site.base}/news/7"}

    async def outcomes(urls):
        return {u for u in urls if u in landed_urls}

    f = feeder([source], tmp_path, sent, resend_after_seconds=0.01, outcome_query=outcomes)
    await f.run(once=True)
    assert len(sent.urls()) == 2
    time.sleep(0.05)
    assert await f.reconcile() == 1, "news/8 was sent but never reached the warehouse"
    resent = Sent()
    await feeder([source], tmp_path, resent, resend_after_seconds=3600, outcome_query=outcomes).run(once=True)
    assert resent.urls() == [f"{site.base}/news/8"]


def test_sources_file_in_the_repo_is_valid_and_errors_name_the_field(tmp_path):
    sources = load_sources(ROOT / "deploy" / "sources.yaml")
    assert {s.kind for s in sources} == {"feed", "sitemap", "urls"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - name: x\n    kind: feed\n")
    with pytest.raises(ValueError, match="needs a 'url'"):
        load_sources(bad)


def test_warc_records_become_documents(tmp_path):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "news.warc.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, ctype, body in (("https://a.example/1", "text/html; charset=utf-8", PAGE),
                                 ("https://a.example/logo.png", "image/png", b"\x89PNG..."),
                                 ("https://b.example/2", "text/html", gzip.decompress(gzip.compress(PAGE)))):
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=headers))
    docs = list(iter_documents([path], max_bytes=10_000_000))
    assert [(d.url, d.content_type) for d in docs] == [("https://a.example/1", "text/html; charset=utf-8"),
                                                       ("https://b.example/2", "text/html")]
    assert docs[0].body == PAGE and docs[0].fetched_at is not None


def test_a_damaged_warc_is_one_bad_input(tmp_path):
    path = tmp_path / "broken.warc"
    path.write_bytes(b"WARC/1.0\r\nnot really\r\n\r\n")
    docs = list(iter_documents([path], max_bytes=1000))
    assert len(docs) == 1 and docs[0].error and docs[0].error.startswith("bad WARC file")


async def test_a_stop_request_lets_in_flight_work_finish(site, tmp_path):
    sent = Sent()
    f = feeder([Source(name="list", kind="urls", urls=[f"{site.base}/news/9"], interval_seconds=3600)],
               tmp_path, sent)
    task = asyncio.create_task(f.run())
    while not sent:
        await asyncio.sleep(0.01)
    f.stopping.set()  # what SIGTERM does
    await asyncio.wait_for(task, 5)
    assert sent.urls() == [f"{site.base}/news/9"]


@pytest.mark.integration
async def test_from_a_local_feed_to_rows_in_the_warehouse(site, tmp_path):
    from streams.runtime.broker import LocalBroker
    from streams.cli.demo import wait_for_outcomes
    from streams.inputs.feeder.run import run_feeder
    from tests.worker_calls import query_worker
    from streams.settings import Settings
    from tests.stack import WorkerProcess

    source = Source(name="site-feed", kind="feed", url=f"{site.base}/feed.xml", lang="ar")
    with LocalBroker(tmp_path) as broker:
        settings = Settings(_env_file=None, kafka_url=broker.url, data_dir=tmp_path, feeder_allow_private=True,
                            feeder_metrics_port=0, feeder_host_delay=0, feeder_resend_after_seconds=0.5)
        worker = WorkerProcess(tmp_path, broker.url).start()
        try:
            counters = await run_feeder(settings, [source], broker.url, once=True)
            assert counters["site-feed"] == {"fetched": 2, "robots_denied": 1}
            await asyncio.get_running_loop().run_in_executor(None, wait_for_outcomes, worker.web, 2, 0, 180)
            rows = query_worker(worker.web, "SELECT url, outcome FROM ledger FINAL ORDER BY url")[1]
            assert rows == [(f"{site.base}/news/1?utm_source=rss", "article"), (f"{site.base}/news/2", "article")]
            # Both landed: the feeder's reconcile finds them in the warehouse and fetches nothing again.
            await asyncio.sleep(0.6)
            site.hits.pop("/feed.xml")
            again = await run_feeder(settings, [source], broker.url, once=True)
            assert again.get("site-feed", {}).get("fetched", 0) == 0
            assert site.hits["/news/2"] == 1
            store = SeenStore(tmp_path / "feeder.sqlite")
            landed = store.db.execute("SELECT url FROM pages WHERE landed = 1 ORDER BY url").fetchall()
            store.close()
            assert [u for (u,) in landed] == [r[0] for r in rows], "the warehouse confirmed both pages"
        except Exception:
            print(worker.log_tail())
            raise
        finally:
            worker.stop()


async def test_fetched_pages_are_archived_with_their_page_id_before_they_are_sent(site, tmp_path):
    from streams.inputs import archive

    sent = Sent()
    writer = archive.ArchiveWriter(tmp_path / "archive")
    order = []
    sent_before = sent.__call__

    async def send(topic, key, value):
        order.append(("sent", orjson.loads(value).get("page_id")))
        await sent_before(topic, key, value)

    loop_thread, archive_threads = threading.get_ident(), set()

    def archive_page(page):
        archive_threads.add(threading.get_ident())
        order.append(("archived", page.page_id))
        return writer.append(page)

    urls = [f"{site.base}/news/{n}" for n in (1, 2)]
    await feeder([Source(name="list", kind="urls", urls=urls)], tmp_path, send, archive=archive_page).run(once=True)
    writer.close()
    ids = [v["page_id"] for _, _, v in sent]
    assert len(set(ids)) == 2 and all(ids)
    assert order.index(("archived", ids[0])) < order.index(("sent", ids[0]))
    # appending fsyncs and a rolled segment is uploaded: never on the event loop, which every fetch shares
    assert archive_threads and loop_thread not in archive_threads
    pages = archive.first_by_page(archive.entries(tmp_path / "archive"))
    assert set(pages) == set(ids)
    assert archive.read_page(tmp_path / "archive", pages[ids[0]]).model_dump(mode="json", exclude_none=True) == \
        next(v for _, _, v in sent if v["page_id"] == ids[0])


async def test_identity_parameters_are_distinct_pages_for_the_seen_store(site, tmp_path):
    sent = Sent()
    urls = [f"{site.base}/news/details.aspx?NewsID={n}" for n in (555, 556, 557)]
    urls.append(f"{site.base}/news/details.aspx?NewsID=555&utm_source=fb&fbclid=x")  # the first one again
    await feeder([Source(name="list", kind="urls", urls=urls)], tmp_path, sent).run(once=True)
    assert sorted(sent.urls()) == sorted(urls[:3])
