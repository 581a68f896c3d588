"""WARC backfill keeps only what a browser would have shown as the page: 2xx HTML responses."""

from __future__ import annotations

import io

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from streams.inputs.paths import iter_documents
from tests.conftest import CORPUS

PAGE = (CORPUS / "01-rt-lavrov-west-signals.html").read_bytes()


def test_redirects_and_error_pages_in_a_warc_are_not_documents(tmp_path):
    path = tmp_path / "crawl.warc.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, status, extra, body in (
                ("https://a.example/old", "301 Moved Permanently", [("Location", "https://a.example/1")],
                 b"<html><body>Moved</body></html>"),
                ("https://a.example/1", "200 OK", [], PAGE),
                ("https://a.example/missing", "404 Not Found", [], b"<html><body>" + b"Not found. " * 50 + b"</body></html>"),
                ("https://a.example/2", "203 Non-Authoritative Information", [], PAGE)):
            headers = StatusAndHeaders(status, [("Content-Type", "text/html; charset=utf-8"), *extra],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=headers))
    docs = list(iter_documents([path], max_bytes=10_000_000))
    assert [(d.url, d.error) for d in docs] == [("https://a.example/1", None), ("https://a.example/2", None)]
    assert docs[0].body == PAGE


def test_a_backfilled_url_is_marked_seen_by_its_canonical_form_and_skipped_next_time(tmp_path, monkeypatch):
    """`backfill` wires the seen store into ingest: what it sent, the feeder and later backfills skip."""
    import asyncio

    from streams.inputs.feeder import backfill as backfill_module
    from streams.inputs.feeder.store import SeenStore
    from streams.inputs.ingest import IngestReport
    from streams.inputs.paths import RawDocument
    from streams.settings import Settings

    docs = [RawDocument("a.warc:1", "https://Example.org/a?utm_source=x", "<p>a</p>", None),
            RawDocument("b.jsonl:1", None, "<p>b</p>", None)]
    calls = []

    async def fake_ingest(paths, settings, kafka_url, *, progress, on_sent, skip):
        calls.append((list(paths), kafka_url, progress))
        report = IngestReport()
        for doc in docs:
            if skip(doc):
                report.skipped += 1
                continue
            on_sent(doc)
            report.sent += 1
        return report

    monkeypatch.setattr(backfill_module, "ingest", fake_ingest)
    settings = Settings(_env_file=None, data_dir=tmp_path)
    first = asyncio.run(backfill_module.backfill(["in.warc"], settings, "kafka://x:1", progress=False))
    assert (first.sent, first.skipped) == (2, 0) and calls == [(["in.warc"], "kafka://x:1", False)]
    again = asyncio.run(backfill_module.backfill(["in.warc"], settings, "kafka://x:1"))
    assert (again.sent, again.skipped) == (1, 1), "the page with a URL is skipped, the one without is sent again"
    assert calls[-1][2] is True
    forced = asyncio.run(backfill_module.backfill(["in.warc"], settings, "kafka://x:1", resend_seen=True))
    assert (forced.sent, forced.skipped) == (2, 0)
    store = SeenStore(settings.data_path / "feeder.sqlite")
    assert store.seen("https://example.org/a") and not store.seen("https://Example.org/a?utm_source=x")
    assert store.unlanded(older_than=1e12) == [("https://example.org/a", "https://Example.org/a?utm_source=x")]
    assert store.db.execute("SELECT source FROM pages").fetchall() == [("backfill",)]
