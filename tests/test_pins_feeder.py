"""Pins for the feeder's process wiring (`run_feeder`) and its HTTP client (`Fetcher`), written against mutmut
survivors: run_feeder with a recording producer, warehouse and metrics server in place of the broker, chDB and
Prometheus; the fetcher against a loopback site the test starts (never the internet)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time

import orjson
import pytest
from aiohttp import web

from streams.inputs.feeder import run as run_module
from streams.inputs.feeder.config import Source
from streams.inputs.feeder.store import SeenStore
from streams.settings import Settings
from tests.conftest import CORPUS
from tests.loopback import loopback_sites

PAGE = (CORPUS / "01-rt-lavrov-west-signals.html").read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}


class Site:
    """Answers per path (status, body, headers); every request is kept with its headers."""

    def __init__(self, routes: dict[str, tuple[int, bytes, dict]]):
        self.routes = routes
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.base = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.headers)))
        route = self.routes.get(request.path, (404, b"", {}))
        if callable(route):  # a handler of its own (streamed, slow)
            return await route(request)
        status, body, headers = route
        return web.Response(status=status, body=body, headers=headers)

    def count(self, path: str) -> int:
        return sum(p == path for p, _ in self.requests)


@pytest.fixture
async def serve():
    async with loopback_sites(Site) as start:
        yield start


# --- run_feeder: the process wiring ------------------------------------------------------------------------------


class Producer:
    def __init__(self):
        self.sent: list[tuple[str, bytes | None, dict]] = []
        self.events: list[str] = []

    async def start(self):
        self.events.append("start")

    async def stop(self):
        self.events.append("stop")

    async def send_and_wait(self, topic, value, key=None):
        self.sent.append((topic, key, orjson.loads(value)))


class Wiring:
    """Stands in for the broker, chDB and Prometheus; records how run_feeder used them."""

    def __init__(self, monkeypatch, landed: set[str]):
        from streams.pipeline import topics
        from streams.runtime import kafka
        from streams.warehouse import client

        self.producer = Producer()
        self.kafka: list = []
        self.topics_made: list = []
        self.connects: list[tuple] = []
        self.queries: list = []
        self.metrics_servers: list[tuple] = []
        wiring = self

        class Clients:
            def __init__(self, settings, kafka_url):
                self.settings, self.kafka_url = settings, kafka_url
                wiring.kafka.append(self)

            def producer(self):
                return wiring.producer

        async def ensure_topics(clients):
            self.topics_made.append(clients)

        class Warehouse:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def query(self, sql, params):
                wiring.queries.append((sql, params))
                return ["url"], [(u,) for u in params["urls"] if u in landed]

        def connect(settings, role="command"):
            self.connects.append((settings, role))
            return Warehouse()

        monkeypatch.setattr(kafka, "KafkaClients", Clients)
        monkeypatch.setattr(topics, "ensure_topics", ensure_topics)
        monkeypatch.setattr(client, "connect", connect)
        monkeypatch.setattr(run_module, "start_http_server",
                            lambda port, addr, registry: self.metrics_servers.append((port, addr, registry)))


def feeder_settings(tmp_path, **kw) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, feeder_allow_private=True, feeder_host_delay=0,
                    feeder_metrics_port=kw.pop("feeder_metrics_port", 19108), web_host="127.0.0.9",
                    feeder_resend_after_seconds=60, topic_prefix="pin", **kw)


async def test_run_feeder_sends_to_the_configured_topics_and_reconciles_through_a_borrowed_warehouse(
        serve, tmp_path, monkeypatch):
    site = await serve({"/robots.txt": (404, b"", {}), "/a": (200, PAGE, HTML), "/lost": (200, PAGE, HTML),
                        "/gone": (410, b"", {})})
    wiring = Wiring(monkeypatch, landed={f"{site.base}/landed"})
    settings = feeder_settings(tmp_path)
    old = time.time() - 3600
    store = SeenStore(tmp_path / "feeder.sqlite")  # the store run_feeder must use: the data directory's
    store.mark_sent(f"{site.base}/landed", f"{site.base}/landed", "pin-src", at=old)
    store.mark_sent(f"{site.base}/lost", f"{site.base}/lost", "pin-src", at=old)
    store.close()
    source = Source(name="pin-src", kind="urls", urls=[f"{site.base}/a", f"{site.base}/gone"])

    counts = await asyncio.wait_for(run_module.run_feeder(settings, [source], "kafka://broker.test:9092", once=True),
                                    30)

    assert counts == {"pin-src": {"fetched": 2, "failed": 1}}, "the lost page is fetched again, 410 fails"
    [clients] = wiring.kafka
    assert (clients.settings, clients.kafka_url) == (settings, "kafka://broker.test:9092")
    assert wiring.topics_made == [clients], "topics are created through the feeder's clients"
    assert wiring.producer.events == ["start", "stop"]
    sent = sorted(((topic, key, value["url"]) for topic, key, value in wiring.producer.sent), key=lambda s: s[2])
    from streams.inputs.ingest import raw_key
    assert sent == [("pin.raw-html", raw_key(f"{site.base}/a"), f"{site.base}/a"),
                    ("pin.raw-html", raw_key(f"{site.base}/lost"), f"{site.base}/lost")]
    assert [role for _, role in wiring.connects] == ["borrower"] and wiring.connects[0][0] is settings
    assert sorted(wiring.queries[0][1]["urls"]) == [f"{site.base}/landed", f"{site.base}/lost"]
    [(port, addr, registry)] = wiring.metrics_servers
    assert (port, addr) == (19108, "127.0.0.9")
    assert registry.get_sample_value("newsstream_feeder_pages_total", {"source": "pin-src", "outcome": "fetched"}) == 2
    with sqlite3.connect(tmp_path / "feeder.sqlite") as db:
        rows = dict(db.execute("SELECT url, landed FROM pages").fetchall())
    assert rows == {f"{site.base}/landed": 1, f"{site.base}/lost": 0, f"{site.base}/a": 0, f"{site.base}/gone": 2}
    archived = list((tmp_path / "archive").rglob("*"))
    assert any(p.is_file() for p in archived), "fetched pages are archived in the data directory's archive"


async def test_run_feeder_without_a_metrics_port_starts_no_server_and_stops_on_sigterm(serve, tmp_path, monkeypatch):
    site = await serve({"/robots.txt": (404, b"", {}), "/a": (200, PAGE, HTML)})
    wiring = Wiring(monkeypatch, landed=set())
    settings = feeder_settings(tmp_path, feeder_metrics_port=0)
    source = Source(name="pin-src", kind="urls", urls=[f"{site.base}/a"], interval_seconds=3600)
    loop = asyncio.get_running_loop()

    async def stop_when_sent():
        while not wiring.producer.sent:
            await asyncio.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)  # run_feeder's handler sets the stop flag; without it pytest dies

    stopper = loop.create_task(stop_when_sent())
    counts = await asyncio.wait_for(run_module.run_feeder(settings, [source], "kafka://broker.test:9092"), 30)
    await stopper
    assert counts == {"pin-src": {"fetched": 1}}
    assert wiring.metrics_servers == [] and wiring.producer.events == ["start", "stop"]
    assert loop.remove_signal_handler(signal.SIGTERM) and loop.remove_signal_handler(signal.SIGINT)


def test_landed_urls_asks_the_real_ledger_in_chunks(tmp_path, monkeypatch):
    """On the embedded warehouse: only URLs with a ledger outcome are landed, however many chunks the ask takes."""
    from datetime import UTC, datetime

    from schemas.records import RawRef
    from streams.pipeline.stages import Rejected
    from streams.pipeline.steps import dead_letter
    from streams.warehouse.client import Warehouse
    from streams.warehouse.rows import batch_rows, write_rows

    at = datetime(2026, 5, 1, tzinfo=UTC)
    landed = [f"https://news.test/{n:03d}" for n in range(0, 60, 2)]
    asked = [f"https://news.test/{n:03d}" for n in range(60)]
    warehouse = Warehouse(f"chdb://{tmp_path / 'chdb'}")
    try:
        warehouse.migrate()
        write_rows(warehouse, batch_rows([
            dead_letter("clean", Rejected("empty", "no text"), source="s", url=url,
                        raw=RawRef(topic="pin.raw-html", partition=0, offset=n, timestamp=at, page_id=f"p{n}"))
            for n, url in enumerate(landed)]))
        queries = []
        query = warehouse.query
        monkeypatch.setattr(warehouse, "query", lambda sql, params: queries.append(params) or query(sql, params))
        monkeypatch.setattr(run_module, "OUTCOME_QUERY_BYTES", 200)
        found = run_module.landed_urls(warehouse, asked)
    finally:
        warehouse.close()
    assert found == set(landed)
    assert [len(p["urls"]) for p in queries] == [9] * 6 + [6], "200 characters: 9 URLs of 21 per ask"
    assert [u for p in queries for u in p["urls"]] == asked


def test_chunks_by_size_keeps_order_and_never_splits_an_item():
    chunks_by_size = run_module.chunks_by_size
    assert chunks_by_size([], 10) == []
    assert chunks_by_size(["aaaa", "bbbb", "cc", "d"], 10) == [["aaaa", "bbbb", "cc"], ["d"]]
    assert chunks_by_size(["a" * 12, "b", "c" * 9, "d"], 10) == [["a" * 12], ["b", "c" * 9], ["d"]]
    assert chunks_by_size(["a" * 5, "b" * 5, "c" * 5], 10) == [["a" * 5, "b" * 5], ["c" * 5]], "exactly the limit"


# --- the SSRF guard ----------------------------------------------------------------------------------------------


def test_a_legacy_ipv4_spelling_with_a_trailing_dot_is_not_taken_for_a_name():
    """`0x7f.1.` is 127.0.0.1 to the C library once the dot is dropped; aiohttp's literal check does not see it."""
    from streams.inputs.feeder.guard import BlockedAddress, check_url

    with pytest.raises(BlockedAddress, match=r"^0x7f\.1\. is not a canonical IP address$"):
        check_url("http://0x7f.1./x", False)
    check_url("http://0x7f.1./x", True)


async def test_the_resolver_names_the_host_and_the_address_it_refuses():
    from streams.inputs.feeder.guard import BlockedAddress, GuardedResolver

    refusing, allowing = GuardedResolver(), GuardedResolver(allow_private=True)
    try:
        with pytest.raises(BlockedAddress, match=r"^localhost resolves to an address that is not globally routable "
                                                 r"\(127\.0\.0\.1\)$"):
            await refusing.resolve("localhost", 80)
        answers = await allowing.resolve("localhost")
        assert answers and {(a["host"], a["port"]) for a in answers} == {("127.0.0.1", 0)}, "port 0 unless given"
    finally:
        await refusing.close()
        await allowing.close()


# --- the fetcher: headers, robots.txt, redirects, limits, errors ---------------------------------------------------

FAST = dict(allow_private=True, host_delay_seconds=0, backoff_seconds=0.01)


def fetcher(**kw):
    from streams.inputs.feeder.fetch import Fetcher, FetchPolicy

    return Fetcher(FetchPolicy(**(FAST | kw)))


def test_retry_after_is_trimmed_and_a_date_without_a_zone_is_unreadable():
    from streams.inputs.feeder.fetch import retry_after_seconds

    assert retry_after_seconds(" 7 ") == 7.0
    assert retry_after_seconds("") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 -0000") is None, "-0000: no zone, so no moment"


def test_a_fetch_result_is_ok_only_with_a_body_and_no_error():
    from streams.inputs.feeder.fetch import Fetched

    assert Fetched("u", body=b"x").ok
    assert not Fetched("u", body=b"x", error="http 500").ok
    assert not Fetched("u", body=b"x", not_modified=True).ok
    assert not Fetched("u").ok


async def test_the_user_agent_validators_and_kept_headers(serve):
    site = await serve({"/robots.txt": (404, b"", {}),
                        "/a": (200, PAGE, HTML | {"ETag": '"e1"', "Last-Modified": "Wed, 23 Nov 2016 10:00:00 GMT",
                                                  "Content-Language": "ar", "X-Other": "no", "Set-Cookie": "c=1"})})
    async with fetcher(user_agent="pin-agent/1") as f:
        got = await f.get(f"{site.base}/a", etag='"e0"', last_modified="Tue, 22 Nov 2016 10:00:00 GMT")
    assert got.ok and got.body == PAGE and got.status == 200
    assert got.url == got.final_url == f"{site.base}/a"
    assert got.headers == {"content-type": "text/html; charset=utf-8", "etag": '"e1"', "content-language": "ar",
                           "last-modified": "Wed, 23 Nov 2016 10:00:00 GMT", "date": got.headers["date"]}
    page = [h for p, h in site.requests if p == "/a"][0]
    robots = [h for p, h in site.requests if p == "/robots.txt"][0]
    assert page["User-Agent"] == robots["User-Agent"] == "pin-agent/1"
    assert page["If-None-Match"] == '"e0"' and page["If-Modified-Since"] == "Tue, 22 Nov 2016 10:00:00 GMT"
    assert "If-None-Match" not in robots and "If-Modified-Since" not in robots


async def test_a_304_is_not_modified_and_carries_no_body(serve):
    site = await serve({"/robots.txt": (404, b"", {}), "/a": (304, b"", {"ETag": '"e1"'})})
    async with fetcher() as f:
        got = await f.get(f"{site.base}/a", etag='"e1"')
    assert (got.status, got.not_modified, got.error, got.ok) == (304, True, None, False)
    assert got.headers.get("etag") == '"e1"'


async def test_a_gzip_encoded_page_arrives_decoded(serve):
    import gzip

    site = await serve({"/robots.txt": (404, b"", {}),
                        "/a": (200, gzip.compress(PAGE), HTML | {"Content-Encoding": "gzip"})})
    async with fetcher() as f:
        got = await f.get(f"{site.base}/a")
    assert got.ok and got.body == PAGE


async def test_robots_txt_is_read_once_per_origin_and_matched_with_our_user_agent(serve):
    rules = b"User-agent: pin-agent\nDisallow: /mine/\n\nUser-agent: *\nDisallow: /all/\n"
    site = await serve({"/robots.txt": (200, rules, {}), "/mine/1": (200, PAGE, HTML), "/all/1": (200, PAGE, HTML),
                        "/open": (200, PAGE, HTML)})
    async with fetcher(user_agent="pin-agent") as f:
        results = await asyncio.gather(f.get(f"{site.base}/mine/1"), f.get(f"{site.base}/all/1"),
                                       f.get(f"{site.base}/open"))
    assert [r.error for r in results] == ["robots", None, None], "our group's rules, not the * group's"
    assert site.count("/robots.txt") == 1
    async with fetcher(user_agent="other-agent") as f:
        assert (await f.get(f"{site.base}/all/1")).error == "robots"


@pytest.mark.parametrize("status", [401, 403, 404, 410])
async def test_robots_txt_answered_4xx_allows_everything(serve, status):
    site = await serve({"/robots.txt": (status, b"User-agent: *\nDisallow: /\n", {}), "/a": (200, PAGE, HTML)})
    async with fetcher() as f:
        assert (await f.get(f"{site.base}/a")).ok


async def test_robots_txt_answered_3xx_or_2xx_without_200_disallows(serve):
    site = await serve({"/robots.txt": (204, b"", {}), "/a": (200, PAGE, HTML)})
    async with fetcher() as f:
        assert (await f.get(f"{site.base}/a")).error == "robots"


async def test_a_crawl_delay_longer_than_ours_is_kept_per_host(serve):
    site = await serve({"/robots.txt": (200, b"User-agent: *\nCrawl-delay: 7\n", {}), "/a": (200, PAGE, HTML)})
    async with fetcher(host_delay_seconds=0) as f:
        assert await f.allowed(f"{site.base}/a")
        assert f._host_delay == {site.base.removeprefix("http://"): 7.0}
    site2 = await serve({"/robots.txt": (200, b"User-agent: *\nDisallow:\n", {})})
    async with fetcher() as f:
        assert await f.allowed(f"{site2.base}/a") and f._host_delay == {}


async def test_robots_txt_is_kept_for_its_ttl(serve):
    site = await serve({"/robots.txt": (200, b"User-agent: *\nDisallow: /x/\n", {}), "/a": (200, PAGE, HTML)})
    async with fetcher(robots_ttl_seconds=3600) as f:
        for _ in range(3):
            assert (await f.get(f"{site.base}/a")).ok
    assert site.count("/robots.txt") == 1


async def test_a_robots_txt_the_guard_blocks_allows_and_the_page_itself_is_blocked():
    async with fetcher(allow_private=False) as f:
        assert await f.allowed("http://127.0.0.1:9/a"), "blocked robots.txt: the page's own request says blocked"
        got = await f.get("http://127.0.0.1:9/a")
    assert got.error.startswith("blocked") and got.url == "http://127.0.0.1:9/a"


async def test_a_redirect_is_followed_relative_to_the_hop_and_the_result_names_the_first_url(serve):
    site = await serve({"/robots.txt": (404, b"", {}), "/dir/old": (302, b"", {"Location": "new"}),
                        "/dir/new": (200, PAGE, HTML), "/nowhere": (302, b"", {})})
    async with fetcher() as f:
        got = await f.get(f"{site.base}/dir/old")
        stuck = await f.get(f"{site.base}/nowhere")
    assert got.ok and got.url == f"{site.base}/dir/old" and got.final_url == f"{site.base}/dir/new"
    assert stuck.status == 302 and stuck.body is None and not stuck.ok and stuck.url == f"{site.base}/nowhere"


async def test_exactly_max_redirects_hops_are_followed(serve):
    routes = {"/robots.txt": (404, b"", {}), "/end": (200, PAGE, HTML)}
    for n in range(3):
        routes[f"/r{n}"] = (307, b"", {"Location": f"/r{n + 1}" if n < 2 else "/end"})
    site = await serve(routes)
    async with fetcher(max_redirects=3) as f:
        assert (await f.get(f"{site.base}/r0")).ok
    async with fetcher(max_redirects=2) as f:
        got = await f.get(f"{site.base}/r0")
    assert got.error == "redirects: more than 2"
    assert got.final_url == f"{site.base}/end" and got.url == f"{site.base}/r0"


async def test_size_limits_declared_and_streamed(serve):
    body = b"x" * 1000
    site = await serve({"/robots.txt": (404, b"", {}), "/exact": (200, body, HTML), "/over": (200, body + b"y", HTML)})
    async with fetcher(max_bytes=1000) as f:
        exact, over = await f.get(f"{site.base}/exact"), await f.get(f"{site.base}/over")
    assert exact.ok and exact.body == body
    assert over.error == "oversized" and over.status == 200 and over.body is None


async def test_a_streamed_body_over_the_limit_is_cut(serve):
    async def chunked(request):
        response = web.StreamResponse(headers=HTML)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(4):
            await response.write(b"z" * 400)
        await response.write_eof()
        return response

    site = await serve({"/robots.txt": (404, b"", {}), "/stream": chunked})
    async with fetcher(max_bytes=1600) as f:
        exact = await f.get(f"{site.base}/stream")
    async with fetcher(max_bytes=1599) as f:
        over = await f.get(f"{site.base}/stream")
    assert exact.ok and exact.body == b"z" * 1600
    assert over.error == "oversized" and over.status is None and over.body is None


async def test_at_most_host_concurrency_requests_run_at_once(serve):
    running, most = 0, 0

    async def slow(request):
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        return web.Response(body=PAGE, headers=HTML)

    site = await serve({"/robots.txt": (404, b"", {}), **{f"/p{n}": slow for n in range(6)}})
    async with fetcher(host_concurrency=2) as f:
        results = await asyncio.gather(*(f.get(f"{site.base}/p{n}") for n in range(6)))
    assert all(r.ok for r in results) and most == 2


async def test_server_errors_are_retried_then_reported_with_the_last_status(serve):
    site = await serve({"/robots.txt": (404, b"", {}), "/down": (503, b"", {}), "/busy": (429, b"", {})})
    async with fetcher(retries=2) as f:
        down, busy = await f.get(f"{site.base}/down"), await f.get(f"{site.base}/busy")
    assert (down.error, down.status, down.body) == ("http 503", None, None)
    assert busy.error == "http 429"
    assert site.count("/down") == 3 and site.count("/busy") == 3, "one try and two retries"


async def test_a_long_retry_after_pauses_the_host_for_the_cap_and_ends_the_fetch(serve):
    site = await serve({"/robots.txt": (404, b"", {}), "/later": (503, b"", {"Retry-After": "3600"})})
    async with fetcher(retries=3, max_retry_after_seconds=50) as f:
        before = time.monotonic()
        got = await f.get(f"{site.base}/later")
        paused = f._paused_until[site.base.removeprefix("http://")] - before
    assert (got.error, got.status) == ("http 503", 503) and site.count("/later") == 1
    assert 49 < paused <= 51


async def test_a_client_error_is_final_without_a_retry(serve):
    site = await serve({"/robots.txt": (404, b"", {}), "/gone": (404, b"", {"ETag": '"g"'})})
    async with fetcher(retries=3) as f:
        got = await f.get(f"{site.base}/gone")
    assert (got.error, got.status, got.headers.get("etag")) == ("http 404", 404, '"g"') and site.count("/gone") == 1


async def test_a_refused_connection_is_a_connection_error_after_the_retries():
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with fetcher(retries=1) as f:
        got = await f.get(f"http://127.0.0.1:{port}/a")
    assert got.error == "robots", "robots.txt unreachable: disallowed"
    async with fetcher(retries=1) as f:
        f._robots[f"http://127.0.0.1:{port}"] = (time.monotonic(), _allow_all())
        got = await f.get(f"http://127.0.0.1:{port}/a")
    assert got.error.startswith("connection: ") and got.status is None


def _allow_all():
    import urllib.robotparser

    parser = urllib.robotparser.RobotFileParser()
    parser.parse([])
    return parser


async def test_a_slow_answer_is_a_timeout(serve):
    async def slow(request):
        await asyncio.sleep(2)
        return web.Response(body=PAGE, headers=HTML)

    site = await serve({"/robots.txt": (404, b"", {}), "/slow": slow})
    async with fetcher(timeout_seconds=0.3, retries=0) as f:
        got = await f.get(f"{site.base}/slow")
    assert got.error == "timeout" and site.count("/slow") == 1


async def test_a_fetch_outside_async_with_is_refused():
    from streams.inputs.feeder.fetch import Fetcher, FetchPolicy

    with pytest.raises(RuntimeError, match="async with"):
        await Fetcher(FetchPolicy(**FAST)).get("http://127.0.0.1:9/a")


async def test_once_stopping_nothing_starts_and_the_stop_event_is_the_callers(serve):
    from streams.inputs.feeder.fetch import Fetcher, FetchPolicy

    site = await serve({"/robots.txt": (404, b"", {}), "/a": (200, PAGE, HTML)})
    stop = asyncio.Event()
    async with Fetcher(FetchPolicy(**FAST), stop) as f:
        assert f.stopping is stop
        assert (await f.get(f"{site.base}/a")).ok
        stop.set()
        got = await f.get(f"{site.base}/a")
    assert got.error == "stopped" and site.count("/a") == 1
    async with Fetcher(FetchPolicy(**FAST)) as f:
        assert not f.stopping.is_set()


def test_the_fetch_policy_is_every_feeder_setting():
    from streams.inputs.feeder.fetch import FetchPolicy

    settings = Settings(_env_file=None, feeder_user_agent="pin/2", max_page_bytes=12345, feeder_allow_private=True,
                        feeder_host_delay=0.5, feeder_host_concurrency=3, feeder_timeout_seconds=7.5,
                        feeder_retries=4, feeder_max_redirects=6)
    assert run_module.policy_from(settings) == FetchPolicy(
        user_agent="pin/2", max_bytes=12345, allow_private=True, host_delay_seconds=0.5, host_concurrency=3,
        timeout_seconds=7.5, retries=4, max_redirects=6)


# --- the feeder's loops: what they log ------------------------------------------------------------------------------


async def test_a_failed_poll_is_logged_with_its_source_and_the_schedule_goes_on(tmp_path, caplog):
    feeder = run_module.Feeder([], SeenStore(tmp_path / "seen.sqlite"), None, None)
    source = Source(name="pin-src", kind="urls", urls=["http://127.0.0.1:9/a"], interval_seconds=0.01)
    polls = []

    async def poll(fetcher, src):
        polls.append(src.name)
        if len(polls) == 2:
            feeder.stopping.set()
        raise RuntimeError("broken feed")

    feeder.poll = poll
    with caplog.at_level("INFO", logger="newsstream.feeder"):
        await asyncio.wait_for(feeder._keep_polling(None, source), 10)
    assert polls == ["pin-src", "pin-src"], "one failed poll does not end the source's schedule"
    failed = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in failed] == ["source pin-src: poll failed"] * 2
    assert all(r.exc_info and r.exc_info[0] is RuntimeError for r in failed)


async def test_housekeeping_logs_the_counters_then_reconciles_until_stopped(tmp_path, caplog):
    feeder = run_module.Feeder([], SeenStore(tmp_path / "seen.sqlite"), None, None)
    feeder.metrics.count("pin-src", "fetched")
    pauses, reconciles = [], []

    async def pause(seconds):
        pauses.append(seconds)
        if len(pauses) == 2:
            feeder.stopping.set()

    async def reconcile():
        reconciles.append(1)
        return 0

    feeder._pause, feeder.reconcile = pause, reconcile
    with caplog.at_level("INFO", logger="newsstream.feeder"):
        await asyncio.wait_for(feeder._housekeeping(), 10)
    assert pauses == [60, 60] and reconciles == [1], "every minute; no reconcile once stopping"
    assert [r.getMessage() for r in caplog.records] == ["feeder counters: {'pin-src': {'fetched': 1}}"] * 2


# --- discovery: sitemap indexes, caps, failures (a fetcher stand-in: no HTTP needed) -------------------------------


def urlset(*urls: str) -> bytes:
    locs = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'.encode()


def sitemap_index(*children: str) -> bytes:
    locs = "".join(f"<sitemap><loc>{c}</loc></sitemap>" for c in children)
    return (f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}'
            "</sitemapindex>").encode()


class Documents:
    """A fetcher whose answers are set per URL; records the URLs asked."""

    def __init__(self, answers):
        self.answers = answers
        self.asked: list[str] = []

    async def get(self, url, etag=None, last_modified=None):
        from streams.inputs.feeder.fetch import Fetched

        self.asked.append(url)
        answer = self.answers.get(url, Fetched(url, url, 404, error="http 404"))
        return answer if isinstance(answer, Fetched) else Fetched(url, url, 200, {}, answer)


def sitemap_source(**kw) -> Source:
    return Source(**({"name": "pin-map", "kind": "sitemap", "url": "https://s.test/index.xml"} | kw))


async def test_a_sitemap_index_is_read_to_twenty_children(tmp_path):
    children = [f"https://s.test/c{n:02d}.xml" for n in range(25)]
    answers = {"https://s.test/index.xml": sitemap_index(*children)}
    answers |= {c: urlset(f"https://s.test/a{n:02d}") for n, c in enumerate(children)}
    docs = Documents(answers)
    feeder = run_module.Feeder([], SeenStore(tmp_path / "seen.sqlite"), None, None)
    found = await feeder.discover(docs, sitemap_source(max_items=1000))
    assert len(docs.asked) == 1 + run_module.MAX_CHILD_SITEMAPS == 21 and len(found) == 20
    assert feeder.metrics.polls.labels("pin-map", "fetched")._value.get() == 21


async def test_discovery_stops_at_twice_the_poll_cap(tmp_path):
    children = [f"https://s.test/c{n}.xml" for n in range(3)]
    answers = {"https://s.test/index.xml": sitemap_index(*children)}
    answers |= {c: urlset(f"https://s.test/{n}a", f"https://s.test/{n}b") for n, c in enumerate(children)}
    docs = Documents(answers)
    feeder = run_module.Feeder([], SeenStore(tmp_path / "seen.sqlite"), None, None)
    found = await feeder.discover(docs, sitemap_source(max_items=2))
    assert len(found) == 4 and len(docs.asked) == 3, "4 URLs (2 x max_items) found: the third child is not read"


async def test_a_broken_or_failed_child_is_skipped_and_logged_and_the_rest_is_read(tmp_path, caplog):
    answers = {"https://s.test/index.xml": sitemap_index("https://s.test/broken.xml", "https://s.test/down.xml",
                                                         "https://s.test/ok.xml"),
               "https://s.test/broken.xml": b"\x1f\x8b\x08\x00 a truncated gzip file",
               "https://s.test/ok.xml": urlset("https://s.test/a1")}
    feeder = run_module.Feeder([], SeenStore(tmp_path / "seen.sqlite"), None, None)
    with caplog.at_level("WARNING", logger="newsstream.feeder"):
        found = await feeder.discover(Documents(answers), sitemap_source())
    assert found == ["https://s.test/a1"]
    messages = [r.getMessage() for r in caplog.records]
    assert "source pin-map: https://s.test/down.xml: http 404" in messages
    assert any(m.startswith("source pin-map: cannot parse https://s.test/broken.xml: ") for m in messages), messages
    assert feeder.metrics.polls.labels("pin-map", "failed")._value.get() == 1


async def test_a_stop_during_discovery_ends_it_without_counting_a_failure(tmp_path):
    from streams.inputs.feeder.fetch import Fetched

    answers = {"https://s.test/index.xml": Fetched("https://s.test/index.xml", error="stopped")}
    docs = Documents(answers)
    feeder = run_module.Feeder([], SeenStore(tmp_path / "seen.sqlite"), None, None)
    assert await feeder.discover(docs, sitemap_source()) == []
    assert feeder.metrics.polls.labels("pin-map", "failed")._value.get() == 0


async def test_urls_already_seen_are_counted_as_skipped(tmp_path):
    store = SeenStore(tmp_path / "seen.sqlite")
    store.mark_sent("https://s.test/a", "https://s.test/a", "pin-list")
    feeder = run_module.Feeder([], store, None, None)
    await feeder.poll(Documents({}), Source(name="pin-list", kind="urls", urls=["https://s.test/a"]))
    assert feeder.metrics.snapshot() == {"pin-list": {"skipped_seen": 1}}


def test_a_raw_record_keeps_the_headers_but_the_redirect_location():
    from streams.inputs.feeder.fetch import Fetched

    got = Fetched("https://s.test/a", "https://s.test/a", 200, {"etag": '"e"', "location": "/b"}, b"<p>x</p>")
    source = Source(name="s", kind="urls", urls=["https://s.test/a"])
    assert run_module.raw_record(source, got).headers == {"etag": '"e"'}
    only_location = Fetched("https://s.test/a", "https://s.test/a", 200, {"location": "/b"}, b"<p>x</p>")
    assert run_module.raw_record(source, only_location).headers is None


async def test_reconcile_asks_only_about_pages_sent_before_the_resend_period_and_says_how_many_are_lost(
        tmp_path, caplog):
    store = SeenStore(tmp_path / "seen.sqlite")
    store.mark_sent("old-1", "https://s.test/old-1", "pin", at=time.time() - 7200)
    store.mark_sent("old-2", "https://s.test/old-2", "pin", at=time.time() - 7200)
    store.mark_sent("new", "https://s.test/new", "pin")
    asked = []

    async def outcome_query(urls):
        asked.append(sorted(urls))
        return {"https://s.test/old-1"}

    feeder = run_module.Feeder([], store, None, None, resend_after_seconds=3600, outcome_query=outcome_query)
    with caplog.at_level("WARNING", logger="newsstream.feeder"):
        assert await feeder.reconcile() == 1
    assert asked == [["https://s.test/old-1", "https://s.test/old-2"]]
    assert [r.getMessage() for r in caplog.records] == [
        "feeder reconcile: 1 sent pages never reached the warehouse; they will be fetched again"]


async def test_a_gone_page_and_a_page_given_up_are_logged_with_their_url_and_error(serve, tmp_path, caplog):
    site = await serve({"/robots.txt": (404, b"", {}), "/gone": (410, b"", {}), "/down": (503, b"", {})})
    sent = []

    async def send(topic, key, value):
        sent.append(topic)

    from streams.inputs.feeder.fetch import Fetcher, FetchPolicy

    feeder = run_module.Feeder([], SeenStore(tmp_path / "seen.sqlite"), send, FetchPolicy(**FAST, retries=0),
                               max_attempts=1)
    source = Source(name="pin", kind="urls", urls=[f"{site.base}/gone"])
    feeder.store.add_pending("pin", [(f"{site.base}/down", f"{site.base}/down")], keep=10)
    with caplog.at_level("INFO", logger="newsstream.feeder"):
        async with Fetcher(feeder.policy) as f:
            await feeder.fetch_page(f, source, f"{site.base}/gone", f"{site.base}/gone")
            await feeder.fetch_page(f, source, f"{site.base}/down", f"{site.base}/down")
    messages = [r.getMessage() for r in caplog.records]
    assert f"source pin: {site.base}/gone: http 410 (not asked again)" in messages
    assert f"source pin: {site.base}/down: http 503 in 1 polls; given up" in messages
    assert sent == ["dead-letters"]


# --- the fetcher's error results, retries and pauses; the feeder's metrics and archive thread -----------------------


async def test_error_results_name_the_url_they_came_from(serve):
    site = await serve({"/robots.txt": (404, b"", {}), "/gone": (404, b"", {}), "/down": (503, b"", {}),
                        "/big": (200, b"x" * 100, HTML)})
    async with fetcher(retries=0, max_bytes=50) as f:
        gone, down, big = [await f.get(f"{site.base}/{p}") for p in ("gone", "down", "big")]
    for got, path in ((gone, "gone"), (down, "down"), (big, "big")):
        assert got.url == got.final_url == f"{site.base}/{path}", (path, got)
    assert big.error == "oversized" and big.headers.get("content-type") == HTML["Content-Type"]
    async with fetcher(allow_private=False) as f:
        f._robots["http://localhost:9"] = (time.monotonic(), _allow_all())
        blocked = await f.get("http://localhost:9/a")
    assert blocked.error.startswith("blocked") and blocked.final_url == "http://localhost:9/a"


async def test_a_500_is_retried_like_any_server_error(serve):
    site = await serve({"/robots.txt": (404, b"", {}), "/err": (500, b"", {}), "/nope": (501, b"", {})})
    async with fetcher(retries=1) as f:
        err, nope = await f.get(f"{site.base}/err"), await f.get(f"{site.base}/nope")
    assert (err.error, nope.error) == ("http 500", "http 501")
    assert site.count("/err") == 2 and site.count("/nope") == 2


async def test_a_retry_after_of_exactly_the_cap_is_waited_for(serve):
    hits = []

    async def busy_once(request):
        hits.append(1)
        if len(hits) == 1:
            return web.Response(status=503, headers={"Retry-After": "1"})
        return web.Response(body=PAGE, headers=HTML)

    site = await serve({"/robots.txt": (404, b"", {}), "/busy": busy_once})
    async with fetcher(retries=1, max_retry_after_seconds=1) as f:
        got = await f.get(f"{site.base}/busy")
    assert got.ok and len(hits) == 2


async def test_backoff_doubles_with_each_retry(serve, monkeypatch):
    from streams.inputs.feeder import fetch

    site = await serve({"/robots.txt": (404, b"", {}), "/down": (503, b"", {})})
    bounds = []
    monkeypatch.setattr(fetch.random, "uniform", lambda low, high: bounds.append((low, high)) or 0.0)
    async with fetcher(retries=3, backoff_seconds=0.5) as f:
        await f.get(f"{site.base}/down")
    assert bounds == [(0, 0.5), (0, 1.0), (0, 2.0)]


async def test_a_crawl_delay_holds_the_next_request_to_that_host(serve):
    site = await serve({"/robots.txt": (404, b"", {}), "/a": (200, PAGE, HTML), "/b": (200, PAGE, HTML)})
    async with fetcher() as f:
        assert (await f.get(f"{site.base}/a")).ok
        f._host_delay[site.base.removeprefix("http://")] = 30.0
        waiting = asyncio.ensure_future(f.get(f"{site.base}/b"))
        await asyncio.sleep(0.3)
        held = not waiting.done()
        f.stopping.set()
        got = await asyncio.wait_for(waiting, 10)
    assert held and got.error == "stopped" and site.count("/b") == 0


def test_the_feeder_metrics_are_exported_under_their_names():
    from prometheus_client import generate_latest

    metrics = run_module.FeederMetrics()
    metrics.count("pin", "fetched")
    metrics.polls.labels("pin", "failed").inc()
    text = generate_latest(metrics.registry).decode()
    assert "# HELP newsstream_feeder_pages_total Pages per source and outcome." in text
    assert "# HELP newsstream_feeder_polls_total Source documents polled, by outcome." in text
    assert 'newsstream_feeder_polls_total{outcome="failed",source="pin"} 1.0' in text


async def test_pages_are_archived_one_at_a_time_on_the_feeders_archive_thread(serve, tmp_path):
    import threading

    site = await serve({"/robots.txt": (404, b"", {}), **{f"/p{n}": (200, PAGE + str(n).encode(), HTML)
                                                           for n in range(4)}})
    threads, running, most = [], 0, 0
    lock = threading.Lock()

    def archive(record):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        threads.append(threading.current_thread().name)
        time.sleep(0.05)
        with lock:
            running -= 1

    async def send(topic, key, value):
        pass

    from streams.inputs.feeder.fetch import FetchPolicy

    feeder = run_module.Feeder([Source(name="pin", kind="urls", urls=[f"{site.base}/p{n}" for n in range(4)])],
                               SeenStore(tmp_path / "seen.sqlite"), send, FetchPolicy(**FAST), archive=archive)
    await asyncio.wait_for(feeder.run(once=True), 30)
    assert len(threads) == 4 and set(threads) == {"feeder-archive_0"} and most == 1


async def test_a_page_that_will_be_retried_says_so_and_dropped_pending_urls_are_logged(serve, tmp_path, caplog):
    from streams.inputs.feeder.fetch import Fetcher, FetchPolicy

    site = await serve({"/robots.txt": (404, b"", {}), "/down": (503, b"", {})})
    store = SeenStore(tmp_path / "seen.sqlite")
    store.add_pending("gone-source", [("https://s.test/x", "https://s.test/x")], keep=10)
    feeder = run_module.Feeder([], store, None, FetchPolicy(**FAST, retries=0))
    source = Source(name="pin", kind="urls", urls=[f"{site.base}/down"])
    with caplog.at_level("INFO", logger="newsstream.feeder"):
        await feeder.run(once=True)
        async with Fetcher(feeder.policy) as f:
            await feeder.fetch_page(f, source, f"{site.base}/down", f"{site.base}/down")
    messages = [r.getMessage() for r in caplog.records]
    assert "feeder: 1 pending URLs of sources no longer configured dropped" in messages
    assert f"source pin: {site.base}/down: http 503 (will retry next poll)" in messages


# --- unreadable URLs: a listed one or a redirect's Location must not end the poll ----------------------------------


def test_an_unreadable_url_is_blocked_not_a_crash():
    from streams.inputs.feeder.guard import BlockedAddress, check_url

    with pytest.raises(BlockedAddress, match=r"^unreadable URL: http://\[bad$"):
        check_url("http://[bad", True)
    long = "http://[" + "a" * 300
    with pytest.raises(BlockedAddress) as raised:
        check_url(long, True)
    assert str(raised.value) == f"unreadable URL: {long[:200]}", "the URL quoted up to 200 characters"


async def test_a_listed_unreadable_url_is_final_and_the_other_pages_are_sent(serve, tmp_path):
    from streams.inputs.feeder.fetch import FetchPolicy

    site = await serve({"/robots.txt": (404, b"", {}), "/ok": (200, PAGE, HTML),
                        "/moved": (302, b"", {"Location": "http://[bad"})})
    sent = []

    async def send(topic, key, value):
        sent.append(orjson.loads(value)["url"])

    store = SeenStore(tmp_path / "seen.sqlite")
    source = Source(name="pin", kind="urls", urls=["http://[bad", f"{site.base}/ok", f"{site.base}/moved"])
    feeder = run_module.Feeder([source], store, send, FetchPolicy(**FAST))
    await asyncio.wait_for(feeder.run(once=True), 30)
    async with fetcher() as f:
        moved = await f.get(f"{site.base}/moved")
    assert (moved.url, moved.final_url, moved.status) == (f"{site.base}/moved", f"{site.base}/moved", 302)
    assert moved.error == "blocked: unreadable URL: http://[bad"
    assert sent == [f"{site.base}/ok"]
    assert feeder.metrics.snapshot() == {"pin": {"fetched": 1, "blocked": 2}}
    assert store.seen("http://[bad") and store.pending("pin", 10) == [], "final: not asked again every poll"


async def test_a_name_that_resolves_to_loopback_is_fetched_when_private_addresses_are_allowed(serve):
    site = await serve({"/robots.txt": (404, b"", {}), "/a": (200, PAGE, HTML)})
    by_name = site.base.replace("127.0.0.1", "localhost")
    async with fetcher(allow_private=True) as f:
        assert (await f.get(f"{by_name}/a")).ok, "the resolver allows what the policy allows"
    async with fetcher(allow_private=False) as f:
        assert (await f.get(f"{by_name}/a")).error.startswith("blocked")


async def test_robots_and_stop_results_name_the_url_asked_and_the_hop(serve):
    site = await serve({"/robots.txt": (200, b"User-agent: *\nDisallow: /private/\n", {}),
                        "/old": (301, b"", {"Location": "/private/new"})})
    async with fetcher() as f:
        denied = await f.get(f"{site.base}/old")
    assert (denied.url, denied.final_url, denied.error) == (f"{site.base}/old", f"{site.base}/private/new", "robots")
    stop = asyncio.Event()
    stop.set()
    from streams.inputs.feeder.fetch import Fetcher, FetchPolicy

    async with Fetcher(FetchPolicy(**FAST), stop) as f:  # robots.txt not read yet: the stop ends it there
        stopped = await f.get(f"{site.base}/a")
    assert (stopped.url, stopped.final_url, stopped.error) == (f"{site.base}/a", f"{site.base}/a", "stopped")


async def test_a_robots_txt_with_bytes_that_are_not_utf8_is_still_read(serve):
    site = await serve({"/robots.txt": (200, b"User-agent: *\nDisallow: /caf\xe9/\nDisallow: /x/\n", {}),
                        "/x/1": (200, PAGE, HTML), "/a": (200, PAGE, HTML)})
    async with fetcher() as f:
        assert (await f.get(f"{site.base}/x/1")).error == "robots" and (await f.get(f"{site.base}/a")).ok


async def test_a_stop_between_retries_ends_with_what_the_last_try_said(serve):
    from streams.inputs.feeder.fetch import Fetcher, FetchPolicy

    stop = asyncio.Event()

    async def down_then_stop(request):
        stop.set()
        return web.Response(status=503)

    site = await serve({"/robots.txt": (404, b"", {}), "/down": down_then_stop})
    async with Fetcher(FetchPolicy(**FAST, retries=3), stop) as f:
        got = await f.get(f"{site.base}/down")
    assert (got.url, got.final_url, got.error) == (f"{site.base}/down", f"{site.base}/down", "http 503")
    assert site.count("/down") == 1


async def test_a_long_running_feeder_keeps_house_beside_its_sources(tmp_path):
    feeder = run_module.Feeder([Source(name="pin", kind="urls", urls=["http://127.0.0.1:9/a"])],
                               SeenStore(tmp_path / "seen.sqlite"), None, None)
    ran = []

    async def housekeeping():
        ran.append("housekeeping")

    async def keep_polling(fetcher, source):
        ran.append(source.name)
        feeder.stopping.set()

    feeder._housekeeping, feeder._keep_polling = housekeeping, keep_polling
    from streams.inputs.feeder.fetch import FetchPolicy

    feeder.policy = FetchPolicy(**FAST)
    await asyncio.wait_for(feeder.run(), 10)
    assert sorted(ran) == ["housekeeping", "pin"]


async def test_an_unreadable_redirect_target_is_quoted_up_to_200_characters(serve):
    location = "http://[" + "b" * 300
    site = await serve({"/robots.txt": (404, b"", {}), "/moved": (302, b"", {"Location": location})})
    async with fetcher() as f:
        got = await f.get(f"{site.base}/moved")
    assert got.error == f"blocked: unreadable URL: {location[:200]}"


@pytest.mark.parametrize("url", ["http://a\x00b/", "http://x\x00.com/", "http://1\x00/", "http://a\x01b/"])
def test_a_host_with_a_control_character_is_blocked_not_a_crash(url):
    """inet_aton raised ValueError('embedded null character'), which ended the whole poll."""
    from streams.inputs.feeder.guard import BlockedAddress, check_url

    for allow_private in (True, False):
        with pytest.raises(BlockedAddress, match="^unreadable host: "):
            check_url(url, allow_private)


async def test_a_listed_url_with_a_nul_in_its_host_is_final_and_the_other_pages_are_sent(serve, tmp_path):
    from streams.inputs.feeder.fetch import FetchPolicy

    site = await serve({"/robots.txt": (404, b"", {}), "/ok": (200, PAGE, HTML)})
    sent = []

    async def send(topic, key, value):
        sent.append(orjson.loads(value)["url"])

    store = SeenStore(tmp_path / "seen.sqlite")
    source = Source(name="pin", kind="urls", urls=["http://a\x00b/", f"{site.base}/ok"])
    feeder = run_module.Feeder([source], store, send, FetchPolicy(**FAST))
    await asyncio.wait_for(feeder.run(once=True), 30)
    assert sent == [f"{site.base}/ok"]
    assert feeder.metrics.snapshot() == {"pin": {"fetched": 1, "blocked": 1}}
