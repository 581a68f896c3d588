"""Polite, bounded HTTP: robots.txt, per-host concurrency and spacing, conditional GET, retries with
backoff and jitter (and a server's Retry-After), redirects followed hop by hop (each through the SSRF
guard), a size cap. Once `stopping` is set, requests not yet started end as 'stopped'."""

from __future__ import annotations

import asyncio
import random
import time
import urllib.robotparser
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import aiohttp

from streams.inputs.feeder.guard import BlockedAddress, GuardedResolver, check_url

REDIRECTS = {301, 302, 303, 307, 308}
KEPT_HEADERS = ("content-type", "last-modified", "etag", "date", "content-language")


@dataclass
class FetchPolicy:
    user_agent: str = "newsstream-feeder/0.1 (+https://github.com/newsstream)"
    timeout_seconds: float = 20.0
    retries: int = 3
    backoff_seconds: float = 1.0
    max_redirects: int = 5
    max_bytes: int = 5_000_000
    host_concurrency: int = 2
    host_delay_seconds: float = 1.0
    allow_private: bool = False
    robots_ttl_seconds: float = 3600.0
    max_retry_after_seconds: float = 120.0  # a longer Retry-After: give up for this poll rather than wait


@dataclass
class Fetched:
    """One fetch's result: a body, a 304, or an error with its reason (never an exception)."""

    url: str
    final_url: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    not_modified: bool = False
    error: str | None = None  # reason: 'robots', 'oversized', 'blocked', 'redirects', 'http 404', 'timeout',
    #                           'stopped' (never started: the feeder is stopping), ...

    @property
    def ok(self) -> bool:
        return self.error is None and not self.not_modified and self.body is not None


class _TooLarge(Exception):
    pass


class _Stopped(Exception):
    pass


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class Fetcher:
    def __init__(self, policy: FetchPolicy, stopping: asyncio.Event | None = None):
        self.policy = policy
        self.stopping = stopping or asyncio.Event()
        self._paused_until: dict[str, float] = {}  # host -> monotonic time its Retry-After ends
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._last: dict[str, float] = {}
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser]] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._host_delay: dict[str, float] = {}  # robots.txt Crawl-delay, where longer than the policy's
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.policy.allow_private), limit=64)
        self.session = aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": self.policy.user_agent},
            timeout=aiohttp.ClientTimeout(total=self.policy.timeout_seconds), auto_decompress=True)
        return self

    async def __aexit__(self, *exc) -> None:
        if self.session is not None:
            await self.session.close()

    async def _polite(self, host: str):
        """Per host: at most `host_concurrency` at once, `host_delay_seconds` between starts, none before a
        Retry-After ends. Raises _Stopped instead of starting a request once the feeder is stopping."""
        semaphore = self._hosts.setdefault(host, asyncio.Semaphore(self.policy.host_concurrency))
        await semaphore.acquire()
        delay = max(self.policy.host_delay_seconds, self._host_delay.get(host, 0.0))
        start = max(self._last.get(host, 0.0) + delay, self._paused_until.get(host, 0.0))
        wait = start - time.monotonic()
        self._last[host] = time.monotonic() + max(0.0, wait)
        if wait > 0 and not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=wait)
            except TimeoutError:
                pass
        if self.stopping.is_set():
            semaphore.release()
            raise _Stopped()
        return semaphore

    async def allowed(self, url: str) -> bool:
        """robots.txt of the URL's origin, re-read after `robots_ttl_seconds` (a feeder runs for months).

        RFC 9309: a 4xx robots.txt (none) allows everything; an unreachable one (5xx, network error)
        disallows everything until it is read again. A Crawl-delay longer than our spacing is obeyed.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:  # one robots.txt request per origin, however many pages wait for it
            read_at, parser = self._robots.get(origin, (0.0, None))
            if parser is None or time.monotonic() - read_at > self.policy.robots_ttl_seconds:
                parser = urllib.robotparser.RobotFileParser()
                got = await self._get(origin + "/robots.txt", check_robots=False, retries=1)
                if got.error == "stopped":
                    raise _Stopped()  # nothing learnt: cache nothing
                if (got.status and 400 <= got.status < 500) or (got.error or "").startswith("blocked"):
                    # blocked: the page's own request meets the same guard and says so. (typeshed lacks
                    # allow_all/disallow_all, the flags RobotFileParser.read itself sets on 4xx/401/403.)
                    parser.allow_all = True  # type: ignore[attr-defined]
                elif got.body is not None and got.status == 200:
                    parser.parse(got.body.decode("utf-8", "replace").splitlines())
                    delay = parser.crawl_delay(self.policy.user_agent)
                    if delay:
                        self._host_delay[parts.netloc] = float(delay)
                else:
                    parser.disallow_all = True  # type: ignore[attr-defined]
                self._robots[origin] = (time.monotonic(), parser)
        return parser.can_fetch(self.policy.user_agent, url)

    async def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        return await self._get(url, etag=etag, last_modified=last_modified)

    async def _get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                   check_robots: bool = True, retries: int | None = None) -> Fetched:
        p = self.policy
        current = url
        for _ in range(p.max_redirects + 1):
            try:
                check_url(current, p.allow_private)
            except BlockedAddress as exc:
                return Fetched(url, current, error=f"blocked: {exc}")
            try:
                if check_robots and not await self.allowed(current):
                    return Fetched(url, current, error="robots")
            except _Stopped:
                return Fetched(url, current, error="stopped")
            result = await self._one(current, etag, last_modified, p.retries if retries is None else retries)
            if result.status in REDIRECTS and "location" in result.headers:
                location = result.headers["location"]
                try:
                    current = urljoin(current, location)
                except ValueError:  # urljoin splits the target: "http://[bad" would end the whole poll
                    return Fetched(url, current, result.status, result.headers,
                                   error=f"blocked: unreadable URL: {location[:200]}")
                etag = last_modified = None
                continue
            result.url = url
            return result
        return Fetched(url, current, error=f"redirects: more than {p.max_redirects}")

    async def _one(self, url: str, etag: str | None, last_modified: str | None, retries: int) -> Fetched:
        p = self.policy
        session = self.session
        if session is None:
            raise RuntimeError("a Fetcher fetches only inside `async with`")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        error = "unknown"
        host = urlsplit(url).netloc
        for attempt in range(retries + 1):
            if attempt:  # exponential backoff with full jitter
                await asyncio.sleep(random.uniform(0, p.backoff_seconds * 2 ** (attempt - 1)))
            try:
                semaphore = await self._polite(host)
            except _Stopped:
                # Not started; a retry that has not started either ends here, with what the last try said.
                return Fetched(url, url, error="stopped" if attempt == 0 else error)
            try:
                async with session.get(url, headers=headers, allow_redirects=False) as response:
                    kept = {k.lower(): v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS}
                    if "location" in response.headers:
                        kept["location"] = response.headers["location"]
                    if response.status in REDIRECTS:
                        return Fetched(url, url, response.status, kept)
                    if response.status == 304:
                        return Fetched(url, url, 304, kept, not_modified=True)
                    if response.status >= 500 or response.status == 429:
                        error = f"http {response.status}"
                        pause = retry_after_seconds(response.headers.get("Retry-After"))
                        if pause is not None:  # the server's word for the whole host, retries included
                            if pause > p.max_retry_after_seconds:
                                self._paused_until[host] = time.monotonic() + p.max_retry_after_seconds
                                return Fetched(url, url, response.status, kept, error=error)
                            self._paused_until[host] = max(self._paused_until.get(host, 0.0),
                                                           time.monotonic() + pause)
                        continue
                    if response.status >= 400:
                        return Fetched(url, url, response.status, kept, error=f"http {response.status}")
                    declared = response.content_length
                    if declared is not None and declared > p.max_bytes:
                        return Fetched(url, url, response.status, kept, error="oversized")
                    body = bytearray()
                    async for chunk in response.content.iter_chunked(65536):
                        body.extend(chunk)
                        if len(body) > p.max_bytes:
                            raise _TooLarge()
                    return Fetched(url, str(response.url), response.status, kept, bytes(body))
            except _TooLarge:
                return Fetched(url, url, error="oversized")
            except BlockedAddress as exc:
                return Fetched(url, url, error=f"blocked: {exc}")
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, BlockedAddress):
                    return Fetched(url, url, error=f"blocked: {exc.os_error}")
                error = f"connection: {exc}"
            except (TimeoutError, aiohttp.ClientError) as exc:
                error = "timeout" if isinstance(exc, asyncio.TimeoutError) else f"connection: {exc}"
            finally:
                semaphore.release()
        return Fetched(url, url, error=error)
