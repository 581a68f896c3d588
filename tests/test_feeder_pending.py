"""Nothing a source listed is lost or fetched twice: pages wait in the store's `pending` table across a 304,
a poll cap, a 5xx, a stop and a restart; two sources, or a redirect, never cause a second fetch; a server's
Retry-After is obeyed. A local site, never the internet."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate

import orjson
import pytest
from aiohttp import web
from aiokafka.errors import MessageSizeTooLargeError

from streams.inputs.feeder.config import Source
from streams.inputs.feeder.discover import from_sitemap
from streams.inputs.feeder.fetch import Fetcher, FetchPolicy, retry_after_seconds
from streams.inputs.feeder.run import Feeder
from streams.inputs.feeder.store import SeenStore
from streams.inputs.ingest import _key, raw_key
from streams.inputs.paths import RawDocument
from tests.conftest import CORPUS

PAGE = (CORPUS / "01-rt-lavrov-west-signals.html").read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}
POLICY = FetchPolicy(allow_private=True, host_delay_seconds=0, backoff_seconds=0.01, max_bytes=20_000, retries=1)


def rss(base: str, paths: list[str]) -> bytes:
    items = "".join(f"<item><title>{p}</title><link>{base}{p}</link></item>" for p in paths)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


class Site:
    """Routes set by the test, (status, body, headers); a route with an ETag answers 304 to that validator."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, dict]] = {}
        self.hits: list[tuple[str, float]] = []
        self.base = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append((request.path, time.monotonic()))
        status, body, headers = self.routes.get(request.path, (404, b"", {}))
        if headers.get("ETag") and request.headers.get("If-None-Match") == headers["ETag"]:
            return web.Response(status=304, headers={"ETag": headers["ETag"]})
        return web.Response(status=status, body=body, headers=headers)

    def count(self, path: str) -> int:
        return sum(p == path for p, _ in self.hits)

    def times(self, path: str) -> list[float]:
        return [t for p, t in self.hits if p == path]


@pytest.fixture
async def site():
    s = Site()
    app = web.Application()
    app.router.add_get("/{tail:.*}", s.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    s.base = f"http://127.0.0.1:{tcp._server.sockets[0].getsockname()[1]}"
    yield s
    await runner.cleanup()


class Sent(list):
    async def __call__(self, topic: str, key, value: bytes) -> None:
        self.append((topic, key, orjson.loads(value)))

    def urls(self) -> list[str]:
        return [v["url"] for t, _, v in self if t == "raw-html"]


def pages(site: Site, *paths: str) -> None:
    for path in paths:
        site.routes[path] = (200, PAGE, HTML)


async def test_a_backlog_over_the_poll_cap_is_fetched_although_the_feed_answers_304(site, tmp_path):
    site.routes["/feed.xml"] = (200, rss(site.base, ["/a", "/b", "/c"]), {"ETag": '"v1"'})
    pages(site, "/a", "/b", "/c")
    source = Source(name="feed", kind="feed", url=f"{site.base}/feed.xml", max_items=1)
    store = SeenStore(tmp_path / "seen.sqlite")
    polls = []
    for _ in range(4):
        sent = Sent()
        await Feeder([source], store, sent, POLICY).run(once=True)
        polls.append(sent.urls())
    assert polls == [[f"{site.base}/a"], [f"{site.base}/b"], [f"{site.base}/c"], []], "feed order, one per poll"
    assert site.count("/feed.xml") == 4 and [site.count(p) for p in ("/a", "/b", "/c")] == [1, 1, 1]


async def test_a_page_that_failed_is_retried_after_a_304_then_given_up(site, tmp_path):
    site.routes["/feed.xml"] = (200, rss(site.base, ["/down", "/ok"]), {"ETag": '"v1"'})
    site.routes["/down"] = (503, b"", {})
    pages(site, "/ok")
    source = Source(name="feed", kind="feed", url=f"{site.base}/feed.xml")
    store = SeenStore(tmp_path / "seen.sqlite")
    sent = Sent()
    for _ in range(4):
        await Feeder([source], store, sent, POLICY, max_attempts=3).run(once=True)
    assert site.count("/down") == 3 * 2, "three polls of two tries each (the feed said 304 in the last two)"
    assert site.count("/ok") == 1
    assert store.pending("feed", 10) == [] and store.seen(f"{site.base}/down")
    [letter] = [v for t, _, v in sent if t == "dead-letters"]
    assert (letter["stage"], letter["reason"], letter["url"]) == ("feed", "fetch failed", f"{site.base}/down")
    assert letter["error"] == "http 503 in 3 polls"


async def test_a_page_listed_by_two_sources_is_fetched_once(site, tmp_path):
    site.routes["/feed.xml"] = (200, rss(site.base, ["/shared"]), {})
    pages(site, "/shared")
    sources = [Source(name="feed", kind="feed", url=f"{site.base}/feed.xml"),
               Source(name="list", kind="urls", urls=[f"{site.base}/shared?utm_source=list"])]
    sent = Sent()
    feeder = Feeder(sources, SeenStore(tmp_path / "seen.sqlite"), sent, POLICY)
    await feeder.run(once=True)
    await feeder.run(once=True)
    assert site.count("/shared") == 1 and len(sent.urls()) == 1


async def test_a_redirect_target_listed_later_is_not_fetched_again(site, tmp_path):
    site.routes["/short/1"] = (301, b"", {"Location": "/news/1"})
    pages(site, "/news/1")
    store = SeenStore(tmp_path / "seen.sqlite")
    sent = Sent()
    await Feeder([Source(name="list", kind="urls", urls=[f"{site.base}/short/1"])], store, sent, POLICY).run(once=True)
    await Feeder([Source(name="list", kind="urls", urls=[f"{site.base}/news/1"])], store, sent, POLICY).run(once=True)
    assert sent.urls() == [f"{site.base}/short/1"] and sent[0][2]["final_url"] == f"{site.base}/news/1"
    assert site.count("/news/1") == 1


async def test_a_stop_leaves_unstarted_pages_pending_and_a_restart_fetches_them_once(site, tmp_path):
    paths = [f"/p{i}" for i in range(6)]
    pages(site, *paths)
    source = Source(name="list", kind="urls", urls=[site.base + p for p in paths], interval_seconds=3600)
    slow = FetchPolicy(allow_private=True, host_delay_seconds=0.3, host_concurrency=1, backoff_seconds=0.01)
    store = SeenStore(tmp_path / "seen.sqlite")
    sent = Sent()
    feeder = Feeder([source], store, sent, slow)
    task = asyncio.create_task(feeder.run())
    while not sent:
        await asyncio.sleep(0.01)
    feeder.stopping.set()
    await asyncio.wait_for(task, 5)
    first = sent.urls()
    assert 1 <= len(first) <= 2, "the page in flight finishes, queued ones do not start"
    assert len(store.pending("list", 10)) == 6 - len(first)
    store.close()

    again = Sent()
    await Feeder([source], SeenStore(tmp_path / "seen.sqlite"), again, POLICY).run(once=True)
    assert sorted(first + again.urls()) == sorted(site.base + p for p in paths)
    assert all(site.count(p) == 1 for p in paths)


async def test_a_page_that_never_landed_is_fetched_again_although_its_feed_answers_304(site, tmp_path):
    site.routes["/feed.xml"] = (200, rss(site.base, ["/a", "/b"]), {"ETag": '"v1"'})
    pages(site, "/a", "/b")
    source = Source(name="feed", kind="feed", url=f"{site.base}/feed.xml")

    async def only_b_landed(urls):  # the local stack stopped before /a reached the warehouse
        return {u for u in urls if u.endswith("/b")}

    store = SeenStore(tmp_path / "seen.sqlite")
    await Feeder([source], store, Sent(), POLICY, outcome_query=only_b_landed).run(once=True)
    store.mark_sent("https://archive.example/1", "https://archive.example/1", "backfill")
    store.db.execute("UPDATE pages SET sent_at = sent_at - 7200")
    again = Sent()
    restarted = Feeder([source], store, again, POLICY, resend_after_seconds=3600, outcome_query=only_b_landed)
    await restarted.run(once=True)
    assert again.urls() == [f"{site.base}/a"] and site.count("/a") == 2 and site.count("/b") == 1
    assert site.count("/feed.xml") == 2, "the second poll of the feed was a 304"
    assert not store.seen("https://archive.example/1"), "a backfilled page: unseen, for the next backfill"
    assert store.pending("backfill", 10) == []


async def test_a_page_over_the_brokers_message_limit_is_a_dead_letter_once(site, tmp_path):
    pages(site, "/a", "/b")
    small = (b"<html><body>" + b"short page " * 20 + b"</body></html>")
    site.routes["/b"] = (200, small, HTML)

    class SmallBroker(Sent):  # a broker whose message.max.bytes is below what the feeder allows
        async def __call__(self, topic, key, value):
            if len(value) > 5_000:
                raise MessageSizeTooLargeError("MESSAGE_TOO_LARGE")
            await super().__call__(topic, key, value)

    source = Source(name="list", kind="urls", urls=[f"{site.base}/a", f"{site.base}/b"])
    store = SeenStore(tmp_path / "seen.sqlite")
    for _ in range(2):
        sent = SmallBroker()
        feeder = Feeder([source], store, sent, POLICY)
        await feeder.run(once=True)
        if _ == 0:
            letters = [v for t, _, v in sent if t == "dead-letters"]
            assert [(d["reason"], d["url"]) for d in letters] == [("oversized", f"{site.base}/a")]
            assert "the broker refused" in letters[0]["error"]
            assert sent.urls() == [f"{site.base}/b"]
            assert feeder.metrics.snapshot()["list"] == {"fetched": 1, "oversized": 1}
    assert list(sent) == [] and site.count("/a") == 1


async def test_retry_after_is_obeyed_and_a_long_one_ends_the_poll(site):
    site.routes["/busy"] = (503, b"", {"Retry-After": "1"})
    site.routes["/later"] = (429, b"", {"Retry-After": formatdate(time.time() + 3600, usegmt=True)})
    pages(site, "/other")
    async with Fetcher(FetchPolicy(allow_private=True, host_delay_seconds=0, backoff_seconds=0.01, retries=1,
                                   max_retry_after_seconds=1.5)) as fetcher:
        busy = await fetcher.get(f"{site.base}/busy")
        first, second = site.times("/busy")
        assert busy.error == "http 503" and second - first >= 0.95
        started = time.monotonic()
        later = await fetcher.get(f"{site.base}/later")
        assert later.error == "http 429" and site.count("/later") == 1, "an hour's wait: not retried in this poll"
        assert (await fetcher.get(f"{site.base}/other")).ok
        assert site.times("/other")[0] - started >= 1.4, "the host is paused for the capped Retry-After"


def test_retry_after_forms():
    assert retry_after_seconds("120") == 120
    assert 3590 < retry_after_seconds(formatdate(time.time() + 3600, usegmt=True)) <= 3600
    assert retry_after_seconds(formatdate(time.time() - 60, usegmt=True)) == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_pending_keeps_the_most_recently_listed_per_source_and_drops_unconfigured_sources(tmp_path):
    store = SeenStore(tmp_path / "seen.sqlite")
    store.add_pending("a", [(f"https://a.example/{i}", f"https://a.example/{i}") for i in range(5)], keep=3)
    assert [c for c, _ in store.pending("a", 10)] == [f"https://a.example/{i}" for i in range(3)]
    store.mark_sent("https://a.example/0", "https://a.example/0", "a")
    assert store.add_pending("a", [("https://a.example/0", "https://a.example/0")], keep=3) == 1, "seen"
    store.add_pending("b", [("https://b.example/1", "https://b.example/1")], keep=3)
    assert store.drop_pending_except(["b"]) == 2
    assert store.pending("a", 10) == [] and len(store.pending("b", 10)) == 1


def test_sitemap_index_children_newest_first():
    body = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://x.example/2019-01.xml</loc><lastmod>2019-02-01</lastmod></sitemap>
      <sitemap><loc>https://x.example/undated.xml</loc></sitemap>
      <sitemap><loc>https://x.example/2026-11.xml</loc><lastmod>2026-11-22T10:00:00Z</lastmod></sitemap>
    </sitemapindex>"""
    assert from_sitemap(body).sitemaps == ["https://x.example/2026-11.xml", "https://x.example/2019-01.xml",
                                           "https://x.example/undated.xml"]


def test_backfill_and_feeder_key_a_page_by_its_canonical_url():
    doc = RawDocument("file.jsonl:1", "https://Example.org/a?utm_source=x", "<p>", None)
    assert _key(doc) == raw_key("https://example.org/a")


# -- the seen store's contract, without a site (pins found by mutation testing: benchmarks/mutation.sh) ---------------


def pairs(*names: str) -> list[tuple[str, str]]:
    return [(f"c:{n}", f"https://x.example/{n}") for n in names]


def test_a_sent_page_is_seen_and_leaves_pending(tmp_path):
    store = SeenStore(tmp_path / "sub" / "seen.sqlite")  # the folder is created
    store.add_pending("a", pairs("1", "2"), keep=10)
    assert not store.seen("c:1")
    store.mark_sent("c:1", "https://x.example/1", "a", at=100.0)
    assert store.seen("c:1") and store.pending("a", 10) == [("c:2", "https://x.example/2")]
    assert store.unlanded(older_than=100.5) == [("c:1", "https://x.example/1")]
    assert store.unlanded(older_than=100.0) == [], "sent at exactly the cutoff is not older"
    store.mark_landed(["c:1"])
    assert store.unlanded(older_than=1e12) == []
    store.close()
    reopened = SeenStore(tmp_path / "sub" / "seen.sqlite")
    assert reopened.seen("c:1") and reopened.pending("a", 10) == [("c:2", "https://x.example/2")]


def test_final_pages_and_redirect_aliases_wait_for_no_outcome(tmp_path):
    store = SeenStore(tmp_path / "seen.sqlite")
    store.add_pending("a", pairs("1", "2", "3"), keep=10)
    store.mark_final("c:1", "https://x.example/1", "a")
    store.mark_alias("c:2", "https://x.example/2", "a")
    assert store.seen("c:1") and store.seen("c:2") and store.pending("a", 10) == [("c:3", "https://x.example/3")]
    assert store.unlanded(older_than=1e12) == []
    store.mark_sent("c:9", "https://x.example/9", "a", at=1.0)
    store.mark_alias("c:9", "https://x.example/other", "b")  # an alias never overwrites a page sent under its URL
    assert store.unlanded(older_than=1e12) == [("c:9", "https://x.example/9")]


def test_pending_order_relisting_and_the_first_source_keeps_a_shared_url(tmp_path):
    store = SeenStore(tmp_path / "seen.sqlite")
    store.add_pending("a", pairs("1", "2", "1"), keep=10)  # listed twice in one poll: once
    assert store.pending("a", 10) == pairs("1", "2")
    assert store.pending("a", 1) == pairs("1")
    time.sleep(0.01)
    store.add_pending("a", pairs("3", "2"), keep=10)  # listed again: to the front, in the new poll's order
    assert store.pending("a", 10) == pairs("3", "2", "1")
    store.add_pending("b", pairs("3", "4"), keep=10)
    assert store.pending("b", 10) == pairs("4"), "a URL listed by two sources stays with the first"
    assert store.pending("a", 10) == pairs("3", "2", "1")
    store.add_pending("a", [], keep=1)
    assert store.pending("a", 10) == pairs("3")


def test_failed_attempts_are_counted_per_pending_page(tmp_path):
    store = SeenStore(tmp_path / "seen.sqlite")
    store.add_pending("a", pairs("1", "2"), keep=10)
    assert [store.failed_attempt("c:1") for _ in range(3)] == [1, 2, 3]
    assert store.failed_attempt("c:2") == 1
    assert store.failed_attempt("c:unknown") == 0


def test_dropping_pending_of_unconfigured_sources(tmp_path):
    store = SeenStore(tmp_path / "seen.sqlite")
    store.add_pending("a", pairs("1"), keep=10)
    store.add_pending("b", pairs("2", "3"), keep=10)
    assert store.drop_pending_except(["a", "b"]) == 0
    assert store.drop_pending_except([]) == 3
    assert store.pending("a", 10) == [] and store.pending("b", 10) == []


def test_requeued_pages_of_configured_sources_go_first_and_all_become_unseen(tmp_path):
    store = SeenStore(tmp_path / "seen.sqlite")
    store.add_pending("a", pairs("1"), keep=10)
    store.mark_sent("c:2", "https://x.example/2", "a", at=1.0)
    store.mark_sent("c:3", "https://x.example/3", "gone", at=1.0)
    store.requeue(["c:2", "c:3"], sources=["a"])
    assert not store.seen("c:2") and not store.seen("c:3")
    assert store.pending("a", 10) == pairs("2", "1")
    assert store.pending("gone", 10) == []
    store.mark_sent("c:4", "https://x.example/4", "a", at=1.0)
    store.forget(["c:4"])
    assert not store.seen("c:4") and store.pending("a", 10) == pairs("2", "1")


def test_validators_are_kept_per_url(tmp_path):
    store = SeenStore(tmp_path / "seen.sqlite")
    assert store.validators("https://x.example/feed") == (None, None)
    store.set_validators("https://x.example/feed", '"v1"', "Wed, 23 Nov 2016 10:00:00 GMT")
    store.set_validators("https://x.example/other", None, "Thu, 24 Nov 2016 10:00:00 GMT")
    assert store.validators("https://x.example/feed") == ('"v1"', "Wed, 23 Nov 2016 10:00:00 GMT")
    store.set_validators("https://x.example/feed", '"v2"', None)
    assert store.validators("https://x.example/feed") == ('"v2"', None)
    assert store.validators("https://x.example/other") == (None, "Thu, 24 Nov 2016 10:00:00 GMT")


def test_a_sitemap_never_expands_entities_and_tolerates_sloppy_xml():
    from streams.inputs.feeder.discover import Discovered

    evil = b"""<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY secret SYSTEM "file:///etc/hostname">
      <!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
      <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc>https://x.example/&secret;</loc></url><url><loc>https://x.example/&b;</loc></url></urlset>"""
    urls = from_sitemap(evil).urls
    assert not any("aaaaaaaaaa" in u for u in urls)
    assert all(len(u) < 40 for u in urls)
    sloppy = b"""<urlset><url><loc>https://x.example/a?x=1&y=2</loc></url><url><loc>https://x.example/b</loc>"""
    assert "https://x.example/b" in from_sitemap(sloppy).urls
    assert from_sitemap(b"garbage") == Discovered([], []), "not a sitemap: nothing, not a crash"


def test_sitemap_entries_without_a_loc_are_skipped_and_loc_is_found_after_other_fields():
    body = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><lastmod>2026-11-01</lastmod><loc>https://x.example/1</loc></url>
      <url><lastmod>2026-11-03</lastmod></url>
      <url><loc> https://x.example/2 </loc><lastmod>2026-11-02</lastmod></url></urlset>"""
    assert from_sitemap(body).urls == ["https://x.example/2", "https://x.example/1"]


async def test_a_page_given_up_is_a_feed_dead_letter_naming_its_source_and_is_final(tmp_path):
    from streams.pipeline.stages import Rejected

    sent = []

    async def send(topic_key, key, value):
        sent.append((topic_key, key, orjson.loads(value)))

    store = SeenStore(tmp_path / "seen.sqlite")
    source = Source(name="wire", kind="urls", urls=["https://x.example/1"])
    feeder = Feeder([source], store, send, POLICY)
    await feeder.give_up(source, "c:1", "https://x.example/1", Rejected("gone", "HTTP 410"))
    ((topic_key, key, letter),) = sent
    assert topic_key == "dead-letters" and key is None
    assert (letter["stage"], letter["reason"], letter["error"]) == ("feed", "gone", "HTTP 410")
    assert (letter["source"], letter["url"]) == ("wire", "https://x.example/1")
    assert store.seen("c:1") and store.unlanded(older_than=1e12) == []


def test_relative_links_in_a_feed_are_resolved_against_the_feed_url_newest_first():
    from streams.inputs.feeder.discover import from_feed

    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>old</title><link>/news/1</link><pubDate>Mon, 21 Nov 2016 10:00:00 GMT</pubDate></item>
      <item><title>new</title><link>/news/2</link><pubDate>Wed, 23 Nov 2016 10:00:00 GMT</pubDate></item>
      <item><title>no link</title></item></channel></rss>"""
    assert from_feed(body, "https://x.example/feeds/all.xml").urls == ["https://x.example/news/2",
                                                                       "https://x.example/news/1"]
