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
