"""The feeder loop: poll each source when due, fetch new pages, send them to the raw topic.

Page outcomes per source are counted (fetched, not_modified, failed, skipped_seen, oversized,
robots_denied, blocked), logged every minute and exported for Prometheus.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import orjson
from aiokafka.errors import MessageSizeTooLargeError
from prometheus_client import CollectorRegistry, Counter, start_http_server

from schemas.records import RawPage
from streams.inputs.feeder.config import Source
from streams.inputs.feeder.discover import Discovered, from_feed, from_sitemap
from streams.inputs.feeder.fetch import Fetched, Fetcher, FetchPolicy
from streams.inputs.feeder.store import SeenStore
from streams.inputs.ingest import raw_key
from streams.pipeline.identity import canonicalize_url, page_id_for
from streams.pipeline.stages import Rejected
from streams.pipeline.steps import dead_letter

log = logging.getLogger("newsstream.feeder")
MAX_CHILD_SITEMAPS = 20


def raw_record(source: Source, fetched: Fetched) -> RawPage:
    import base64

    body = fetched.body
    if body is None:  # only fetches that got a page are sent
        raise ValueError(f"{fetched.url}: a fetch without a body has no raw page")
    return RawPage(source=source.name, url=fetched.url, page_id=page_id_for(fetched.url, source.name, body),
                   html_b64=base64.b64encode(body).decode("ascii"),
                   content_type=fetched.headers.get("content-type"), fetched_at=datetime.now(UTC),
                   final_url=fetched.final_url if fetched.final_url != fetched.url else None,
                   http_status=fetched.status, lang_hint=source.lang,
                   headers={k: v for k, v in fetched.headers.items() if k != "location"} or None)


class FeederMetrics:
    OUTCOMES = ("fetched", "not_modified", "failed", "skipped_seen", "oversized", "robots_denied", "blocked")

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pages = Counter("newsstream_feeder_pages", "Pages per source and outcome.", ["source", "outcome"],
                             registry=self.registry)
        self.polls = Counter("newsstream_feeder_polls", "Source documents polled, by outcome.",
                             ["source", "outcome"], registry=self.registry)

    def count(self, source: str, outcome: str) -> None:
        self.pages.labels(source, outcome).inc()

    def snapshot(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for metric in self.pages.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    out.setdefault(sample.labels["source"], {})[sample.labels["outcome"]] = int(sample.value)
        return out


class Feeder:
    def __init__(self, sources: list[Source], store: SeenStore, send, policy: FetchPolicy,
                 metrics: FeederMetrics | None = None, resend_after_seconds: float = 3600.0, outcome_query=None,
                 max_attempts: int = 5, archive=None):
        """`send(topic_key, key, value)` produces to a topic; `outcome_query(urls)` returns the URLs with an outcome;
        a page that fails (5xx, timeouts) in `max_attempts` polls is given up; `archive(page)` keeps each fetched
        page in the raw archive before it is sent."""
        self.sources = sources
        self.store = store
        self.send = send
        self.policy = policy
        self.metrics = metrics or FeederMetrics()
        self.resend_after_seconds = resend_after_seconds
        self.outcome_query = outcome_query
        self.max_attempts = max_attempts
        self.archive = archive
        # One thread, off the event loop: appending fsyncs, and rolling a segment uploads it to the bucket (seconds
        # on a slow link) while every other fetch and send waits; one thread keeps appends in order, one at a time.
        self._archive_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feeder-archive")
        self.stopping = asyncio.Event()

    async def reconcile(self) -> int:
        """Pages sent long ago whose outcome never reached the warehouse are fetched again; returns how many.

        A configured source's page goes back to its pending URLs, so it is fetched at that source's next
        poll even when the source no longer lists it or answers 304; a backfilled page becomes unseen, so
        the next backfill of its file sends it again.

        A warehouse that cannot answer (down, not migrated, no worker holding chDB) is logged, not fatal:
        the pages stay 'sent' and the next reconcile asks again."""
        if self.outcome_query is None:
            return 0
        pending = self.store.unlanded(time.time() - self.resend_after_seconds)
        if not pending:
            return 0
        try:
            landed = await self.outcome_query([url for _, url in pending])
        except Exception as exc:  # any warehouse failure: keep feeding, reconcile later
            log.warning("feeder reconcile skipped, the warehouse did not answer: %s", exc)
            return 0
        self.store.mark_landed([c for c, url in pending if url in landed])
        lost = [c for c, url in pending if url not in landed]
        self.store.requeue(lost, [s.name for s in self.sources])
        if lost:
            log.warning("feeder reconcile: %d sent pages never reached the warehouse; they will be fetched again",
                        len(lost))
        return len(lost)

    async def discover(self, fetcher: Fetcher, source: Source) -> list[str]:
        if source.kind == "urls":
            return list(source.urls)
        found: list[str] = []
        queue = [source.url] if source.url else []  # a feed or sitemap source always has one (config.Source)
        visited = 0
        while queue and visited <= MAX_CHILD_SITEMAPS and len(found) < source.max_items * 2:
            url = queue.pop(0)
            visited += 1
            etag, modified = self.store.validators(url)
            got = await fetcher.get(url, etag, modified)
            if got.error == "stopped":
                break
            if got.not_modified:
                self.metrics.polls.labels(source.name, "not_modified").inc()
                continue
            if not got.ok or got.body is None:
                self.metrics.polls.labels(source.name, "failed").inc()
                log.warning("source %s: %s: %s", source.name, url, got.error)
                continue
            self.metrics.polls.labels(source.name, "fetched").inc()
            self.store.set_validators(url, got.headers.get("etag"), got.headers.get("last-modified"))
            try:
                result: Discovered = (from_feed(got.body, got.final_url or url) if source.kind == "feed"
                                      else from_sitemap(got.body))
            except Exception as exc:  # a broken feed is that source's problem, not the feeder's
                log.warning("source %s: cannot parse %s: %s", source.name, url, exc)
                continue
            found.extend(result.urls)
            queue.extend(result.sitemaps)
        return found

    async def poll(self, fetcher: Fetcher, source: Source) -> None:
        """What the source lists now joins its pending URLs; the first `max_items` of those are fetched."""
        urls = await self.discover(fetcher, source)
        found = [(canonicalize_url(url) or url, url) for url in urls]
        for _ in range(self.store.add_pending(source.name, found, keep=source.max_pending)):
            self.metrics.count(source.name, "skipped_seen")
        batch = self.store.pending(source.name, source.max_items)
        await asyncio.gather(*(self.fetch_page(fetcher, source, canonical, url) for canonical, url in batch))

    async def fetch_page(self, fetcher: Fetcher, source: Source, canonical: str, url: str) -> None:
        got = await fetcher.get(url)
        if got.error == "stopped":
            return  # never started: it stays pending for the next run
        if got.ok:
            record = raw_record(source, got)
            value = orjson.dumps(record.model_dump(mode="json", exclude_none=True))
            if self.archive is not None:
                await asyncio.get_running_loop().run_in_executor(self._archive_thread, self.archive, record)
            try:
                await self.send("raw-html", raw_key(canonical), value)
            except MessageSizeTooLargeError as exc:  # a broker limit below ours: said once, not retried each poll
                self.metrics.count(source.name, "oversized")
                await self.give_up(source, canonical, url, Rejected(
                    "oversized", f"the broker refused a {len(value)}-byte message: {exc}"))
                return
            self.store.mark_sent(canonical, url, source.name)
            if got.final_url and (final := canonicalize_url(got.final_url)) and final != canonical:
                self.store.mark_alias(final, got.final_url, source.name)
            self.metrics.count(source.name, "fetched")
            return
        outcome = {"robots": "robots_denied", "oversized": "oversized"}.get(got.error or "", "failed")
        if (got.error or "").startswith("blocked"):
            outcome = "blocked"
        self.metrics.count(source.name, outcome)
        if outcome == "oversized":
            # Recorded, not lost silently: a dead letter with the reason, and the URL is not tried again.
            await self.give_up(source, canonical, url,
                               Rejected("oversized", f"over the {self.policy.max_bytes}-byte limit"))
        elif outcome != "failed":
            self.store.mark_final(canonical, url, source.name)  # robots or SSRF: asking again changes nothing
        elif got.status is not None and 400 <= got.status < 500 and got.status != 429:
            self.store.mark_final(canonical, url, source.name)  # gone or forbidden: not asked again every poll
            log.info("source %s: %s: %s (not asked again)", source.name, url, got.error)
        elif (attempts := self.store.failed_attempt(canonical)) >= self.max_attempts:
            await self.give_up(source, canonical, url, Rejected("fetch failed", f"{got.error} in {attempts} polls"))
            log.warning("source %s: %s: %s in %d polls; given up", source.name, url, got.error, attempts)
        else:
            log.info("source %s: %s: %s (will retry next poll)", source.name, url, got.error)

    async def give_up(self, source: Source, canonical: str, url: str, why: Rejected) -> None:
        """A page the feeder will not send: a dead letter says why (so the warehouse knows), then it is not asked
        again."""
        letter = dead_letter("feed", why, source=source.name, url=url)
        await self.send("dead-letters", None, orjson.dumps(letter.model_dump(mode="json")))
        self.store.mark_final(canonical, url, source.name)

    async def run(self, once: bool = False) -> None:
        """Every source on its own schedule until stopped (a slow source delays no other); with `once`, one pass."""
        await self.reconcile()
        dropped = self.store.drop_pending_except([s.name for s in self.sources])
        if dropped:
            log.info("feeder: %d pending URLs of sources no longer configured dropped", dropped)
        try:
            async with Fetcher(self.policy, self.stopping) as fetcher:
                if once:
                    await asyncio.gather(*(self.poll(fetcher, s) for s in self.sources))
                else:
                    await asyncio.gather(self._housekeeping(), *(self._keep_polling(fetcher, s) for s in self.sources))
        finally:
            self._archive_thread.shutdown(wait=True)  # an append in progress finishes before the writer closes
        log.info("feeder stopped; counters: %s", self.metrics.snapshot())

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _keep_polling(self, fetcher: Fetcher, source: Source) -> None:
        # In-flight polls always finish: a stop request is honoured between polls.
        while not self.stopping.is_set():
            try:
                await self.poll(fetcher, source)
            except Exception:  # one failed poll must not end the source's schedule
                log.exception("source %s: poll failed", source.name)
            await self._pause(source.interval_seconds)

    async def _housekeeping(self) -> None:
        while not self.stopping.is_set():
            await self._pause(60)
            log.info("feeder counters: %s", self.metrics.snapshot())
            if not self.stopping.is_set():
                await self.reconcile()


OUTCOME_QUERY_BYTES = 2000  # characters of URLs per request: the worker's /sql reads them from its request line (8 KB)


def landed_urls(warehouse, urls: list[str]) -> set[str]:
    """The URLs that have an outcome in the ledger, asked in chunks of at most OUTCOME_QUERY_BYTES."""
    found: set[str] = set()
    for chunk in chunks_by_size(urls, OUTCOME_QUERY_BYTES):
        _, rows = warehouse.query("SELECT DISTINCT url FROM ledger WHERE url IN {urls:Array(String)}", {"urls": chunk})
        found.update(r[0] for r in rows)
    return found


def chunks_by_size(items: list[str], max_chars: int) -> list[list[str]]:
    """Consecutive runs of `items` of at most `max_chars` characters in all (an item longer alone stays whole)."""
    chunks: list[list[str]] = []
    size = max_chars + 1
    for item in items:
        if size + len(item) > max_chars:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += len(item)
    return chunks


def policy_from(settings) -> FetchPolicy:
    return FetchPolicy(user_agent=settings.feeder_user_agent, max_bytes=settings.max_page_bytes,
                       allow_private=settings.feeder_allow_private, host_delay_seconds=settings.feeder_host_delay,
                       host_concurrency=settings.feeder_host_concurrency,
                       timeout_seconds=settings.feeder_timeout_seconds,
                       retries=settings.feeder_retries, max_redirects=settings.feeder_max_redirects)


async def run_feeder(settings, sources: list[Source], kafka_url: str, once: bool = False) -> dict:
    """The feeder with a real producer, the seen store in the data directory, metrics and SIGTERM handling."""
    from streams.inputs.archive import writer_for
    from streams.pipeline.topics import ensure_topics, topic_specs
    from streams.runtime.kafka import KafkaClients
    from streams.warehouse.client import connect

    kafka = KafkaClients(settings, kafka_url)
    await ensure_topics(kafka)
    specs = topic_specs(settings)
    producer = kafka.producer()
    await producer.start()
    store = SeenStore(settings.data_path / "feeder.sqlite")
    metrics = FeederMetrics()
    if settings.feeder_metrics_port:
        start_http_server(settings.feeder_metrics_port, addr=settings.web_host, registry=metrics.registry)

    async def send(topic_key: str, key: bytes | None, value: bytes) -> None:
        await producer.send_and_wait(specs[topic_key].name, value, key=key)

    def ask(urls: list[str]) -> set[str]:
        # chDB allows one process per directory: the feeder borrows the worker's warehouse, never opens it
        with connect(settings, role="borrower") as warehouse:
            return landed_urls(warehouse, urls)

    async def outcome_query(urls: list[str]) -> set[str]:
        return await asyncio.get_running_loop().run_in_executor(None, ask, urls)

    policy = policy_from(settings)
    archive = writer_for(settings)
    feeder = Feeder(sources, store, send, policy, metrics, settings.feeder_resend_after_seconds, outcome_query,
                    max_attempts=settings.feeder_max_attempts, archive=archive.append)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, feeder.stopping.set)
    try:
        await feeder.run(once=once)
    finally:
        archive.close()
        await producer.stop()
        store.close()
    return metrics.snapshot()
