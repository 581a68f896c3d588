"""The feeder's address guard with a fake resolver: 100.64.0.0/10 (cloud metadata) and every other address
that is not globally routable is refused at the first request, at every redirect and for every feed link."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web

from streams.inputs.feeder import guard
from streams.inputs.feeder.config import Source
from streams.inputs.feeder.fetch import Fetcher, FetchPolicy
from streams.inputs.feeder.run import Feeder
from streams.inputs.feeder.store import SeenStore
from tests.conftest import CORPUS

PAGE = (CORPUS / "01-rt-lavrov-west-signals.html").read_bytes()
METADATA = "http://100.100.100.200/latest/meta-data/"


@pytest.mark.parametrize("address", [
    "100.100.100.200", "100.64.0.1", "100.127.255.254", "192.0.0.8", "198.18.0.1", "198.19.255.1", "224.0.0.1",
    "239.255.255.250", "240.0.0.1", "255.255.255.255", "0.0.0.0", "127.0.0.1", "10.0.0.1", "172.16.0.1",
    "192.168.1.1", "169.254.169.254", "192.0.2.1", "198.51.100.1", "203.0.113.1",
    "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "2001:db8::1", "::ffff:100.100.100.200",
    "::ffff:127.0.0.1", "64:ff9b::6464:64c8", "2002:6464:64c8::1", "fe80::1%eth0",
])
def test_addresses_that_are_not_globally_routable_are_refused(address):
    assert not guard.is_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert guard.is_public(address)


class FakeResolver:
    """DNS for the test: news.test is the (public) site, metadata.test points at the cloud metadata address."""

    NAMES = {"news.test": "127.0.0.1", "metadata.test": "100.100.100.200", "rebind.test": "100.64.1.1"}
    asked: list[str] = []

    async def resolve(self, host, port=0, family=socket.AF_INET):
        FakeResolver.asked.append(host)
        if host not in self.NAMES:
            raise OSError(f"no such name {host}")
        return [{"hostname": host, "host": self.NAMES[host], "port": port, "family": socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]

    async def close(self):
        pass


@pytest.fixture
async def site(monkeypatch):
    real = guard.is_public
    # The test's server is on loopback: let that one address count as public, every other check stays real.
    monkeypatch.setattr(guard, "is_public", lambda a: a == "127.0.0.1" or real(a))
    monkeypatch.setattr(guard, "DefaultResolver", FakeResolver)
    FakeResolver.asked = []
    hits: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        base = f"http://news.test:{request.url.port}"
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n")
        if request.path == "/feed.xml":
            links = [METADATA, "http://metadata.test/latest/meta-data/", "http://rebind.test/x", f"{base}/news/1"]
            items = "".join(f"<item><title>t{i}</title><link>{u}</link></item>" for i, u in enumerate(links))
            return web.Response(text=f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>',
                                content_type="application/rss+xml")
        if request.path == "/to-literal":
            raise web.HTTPFound(METADATA)
        if request.path == "/to-name":
            raise web.HTTPFound("http://metadata.test/latest/meta-data/")
        if request.path == "/to-mapped":
            raise web.HTTPFound("http://[::ffff:100.100.100.200]/latest/meta-data/")
        return web.Response(body=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]
    yield f"http://news.test:{port}", hits
    await runner.cleanup()


POLICY = FetchPolicy(allow_private=False, host_delay_seconds=0, backoff_seconds=0.01, retries=0)


async def test_first_request_and_every_redirect_are_guarded(site):
    base, hits = site
    async with Fetcher(POLICY) as fetcher:
        assert (await fetcher.get(f"{base}/news/1")).error is None, "the public site itself is fetched"
        direct = await fetcher.get(METADATA)
        assert direct.error.startswith("blocked") and "100.100.100.200" in direct.error
        by_name = await fetcher.get("http://metadata.test/latest/meta-data/")
        assert by_name.error.startswith("blocked"), "checked after resolution"
        for hop in ("/to-literal", "/to-name", "/to-mapped"):
            got = await fetcher.get(f"{base}{hop}")
            assert got.error and got.error.startswith("blocked"), (hop, got.error)
    assert "metadata.test" in FakeResolver.asked


async def test_feed_links_to_non_public_addresses_are_blocked_and_counted(site, tmp_path):
    base, hits = site
    sent = []

    async def send(topic, key, value):
        sent.append(topic)

    feeder = Feeder([Source(name="feed", kind="feed", url=f"{base}/feed.xml")], SeenStore(tmp_path / "seen.sqlite"),
                    send, POLICY)
    await feeder.run(once=True)
    counts = feeder.metrics.snapshot()["feed"]
    assert counts.get("blocked") == 3, counts
    assert counts.get("fetched") == 1 and sent.count("raw-html") == 1


@pytest.mark.parametrize("address", ["::127.0.0.1", "::100.100.100.200", "::ffff:0:100.100.100.200", "::8.8.8.8",
                                     "3fff::1", "5f00::1"])
def test_deprecated_and_translated_ipv6_forms_are_refused(address):
    """IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0:0/96) forms carry an IPv4 address a translator
    may reach; no public site is addressed that way. 3fff::/20 is documentation, 5f00::/16 SRv6."""
    assert not guard.is_public(address)


@pytest.mark.parametrize("host", ["１２７.０.０.１", "127。0。0。1", "127.1", "2130706433", "0177.0.0.1", "127.0.0.1.",
                                  "0x7f000001", "[::127.0.0.1]", "[::ffff:0:127.0.0.1]"])
async def test_address_spellings_are_read_as_the_connector_reads_them(host):
    """yarl turns full-width digits and ideographic dots into an IP literal that aiohttp connects to without the
    resolver (sec-review: `http://１２７.０.０.１:port/` fetched the loopback server); legacy numeric forms are
    refused as blocked, not left to fail as connection errors."""
    hits: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        return web.Response(text="metadata")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]
    try:
        async with Fetcher(POLICY) as fetcher:
            got = await fetcher.get(f"http://{host}:{port}/latest/meta-data/")
    finally:
        await runner.cleanup()
    assert hits == [], "the loopback server was reached"
    assert got.error and got.error.startswith("blocked"), got.error
