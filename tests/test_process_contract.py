"""The `process` output contract: one JSON line per input document, in input order, exactly these keys."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from datetime import datetime

import pytest

from tests.conftest import BAD, CORPUS, ROOT

KEYS = ["source", "status", "reason", "detail", "article_id", "url", "title", "text", "lang", "published_at", "mentions",
        "entities", "story_id", "duplicate_of", "input"]
MENTION_KEYS = ["actor_id", "name", "type", "surface", "start", "end"]
ENTITY_KEYS = ["type", "surface", "start", "end", "key", "actor_id"]
ARTICLE = (CORPUS / sorted(p.name for p in CORPUS.iterdir())[0]).read_text(encoding="utf-8", errors="replace")


def run_process(*paths, env=None, out="-"):
    result = subprocess.run([sys.executable, "-m", "streams.cli", "process", *map(str, paths), "--out", out],
                            capture_output=True, cwd=ROOT, env=os.environ | (env or {}), timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    random.seed(7)
    (d / "a-empty.html").write_bytes(b"")
    (d / "b-binary.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (d / "c-gzip.html").write_bytes(b"\x1f\x8b\x08\x00" + bytes(random.randrange(256) for _ in range(500)))
    (d / "d-not-html.txt").write_text("just a line of plain text, no markup at all " * 20)
    (d / "e-undecodable.html").write_bytes(b"<html><body><p>" + bytes(random.randrange(0x80, 0x100) for _ in range(3000)))
    (d / "f-oversized.html").write_text("<html><body>" + "<p>" + "كلمة " * 40000 + "</p>" * 1 + "</body></html>")
    (d / "g-no-article.html").write_text("<html><head><title>x</title></head><body><nav><a href='/'>الرئيسية</a></nav></body></html>")
    (d / "h-records.jsonl").write_text(
        json.dumps({"url": "https://example.org/a?utm_source=x", "html": ARTICLE, "fetched_at": "2016-11-25T10:00:00Z"},
                   ensure_ascii=False) + "\n{not json\n" + json.dumps({"url": "https://example.org/b"}) + "\n")
    return d


@pytest.fixture(scope="module")
def lines(bad_inputs):
    return run_process(CORPUS, bad_inputs, BAD, env={"NEWSSTREAM_MAX_PAGE_BYTES": "200000"})


def test_exact_shape_of_every_line(lines):
    for line in lines:
        assert list(line) == KEYS
        assert line["status"] in ("ok", "rejected")
        for m in line["mentions"]:
            assert list(m) == MENTION_KEYS
            assert m["type"] in ("person", "organization", "location", "other")
            assert line["text"][m["start"]:m["end"]] == m["surface"]
        for e in line["entities"]:
            assert list(e) == ENTITY_KEYS
            assert e["type"] in ("person", "organization", "location", "other") and e["key"]
            assert line["text"][e["start"]:e["end"]] == e["surface"]
        # every mention is an entity linked to its actor
        assert {(m["start"], m["actor_id"]) for m in line["mentions"]} <= {(e["start"], e["actor_id"]) for e in line["entities"]}
        if line["status"] == "ok":
            assert line["reason"] is None and line["detail"] is None and line["article_id"] and line["story_id"]
            assert line["text"].split("\n", 1)[0] == line["title"]
            assert datetime.fromisoformat(line["published_at"]).tzinfo is not None
        else:
            assert line["reason"] and line["article_id"] is None and line["text"] is None and line["mentions"] == []
            assert isinstance(line["detail"], str) and line["detail"]  # what exactly was wrong
            assert line["entities"] == []


def test_one_line_per_document_in_input_order(lines, bad_inputs):
    corpus = sorted(str(p) for p in CORPUS.rglob("*") if p.is_file())
    assert [l["source"] for l in lines[: len(corpus)]] == corpus
    jsonl = str(bad_inputs / "h-records.jsonl")
    assert [l["source"] for l in lines if l["source"].startswith(jsonl)] == [f"{jsonl}:1", f"{jsonl}:2", f"{jsonl}:3"]


def test_every_bad_input_kind_is_rejected_with_its_reason(lines, bad_inputs):
    by_source = {l["source"]: l for l in lines}
    expected = {
        "a-empty.html": "empty", "b-binary.html": "binary", "c-gzip.html": "binary", "d-not-html.txt": "not html",
        "e-undecodable.html": "undecodable", "f-oversized.html": "oversized", "g-no-article.html": "no article text",
    }
    for name, reason in expected.items():
        assert (by_source[str(bad_inputs / name)]["status"], by_source[str(bad_inputs / name)]["reason"]) == ("rejected", reason)
    jsonl = str(bad_inputs / "h-records.jsonl")
    assert by_source[f"{jsonl}:1"]["status"] == "ok"
    assert by_source[f"{jsonl}:2"]["reason"] == "bad input"
    assert by_source[f"{jsonl}:2"]["detail"].startswith("bad JSONL record: ")  # the JSON error, where it is
    assert by_source[f"{jsonl}:3"]["reason"] == "bad input"
    assert by_source[f"{jsonl}:3"]["detail"] == "bad JSONL record: needs a string 'html' field"
    for path in sorted(BAD.iterdir()):
        assert by_source[str(path)]["status"] == "rejected", path.name


def test_output_is_deterministic(lines, bad_inputs, tmp_path):
    out = tmp_path / "out.jsonl"
    run_process(CORPUS, bad_inputs, BAD, env={"NEWSSTREAM_MAX_PAGE_BYTES": "200000"}, out=out)
    again = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert again == lines


def test_each_line_says_where_its_input_was_read(lines, bad_inputs):
    by_source = {line["source"]: line for line in lines}
    page = CORPUS / sorted(p.name for p in CORPUS.iterdir())[0]
    assert by_source[str(page)]["input"] == {"path": str(page), "line": None, "offset": None}
    jsonl = bad_inputs / "h-records.jsonl"
    data = jsonl.read_bytes()
    for number in (1, 2, 3):
        where = by_source[f"{jsonl}:{number}"]["input"]
        assert (where["path"], where["line"]) == (str(jsonl), number)
        # the offset is where that line starts in the file: a user can seek to the input of any output line
        assert data[where["offset"]:].split(b"\n", 1)[0] == data.split(b"\n")[number - 1]


def test_a_warc_record_is_found_again_at_its_offset(tmp_path):
    from warcio.archiveiterator import ArchiveIterator
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from streams.inputs.paths import iter_documents

    path = tmp_path / "crawl.warc.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for n in range(3):
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"https://example.org/{n}", "response",
                                                          payload=io.BytesIO(ARTICLE.encode()),
                                                          http_headers=headers))
    docs = list(iter_documents([path], max_bytes=10_000_000))
    assert [d.url for d in docs] == [f"https://example.org/{n}" for n in range(3)]
    assert len({d.offset for d in docs}) == 3
    for doc in docs:
        assert doc.path == str(path)
        with path.open("rb") as stream:
            stream.seek(doc.offset)
            record = next(iter(ArchiveIterator(stream)))
            assert record.rec_headers.get_header("WARC-Target-URI") == doc.url


def test_a_jsonl_line_with_a_lone_surrogate_says_why_it_is_rejected(tmp_path):
    """JSON allows "\\ud800" escapes; no UTF-8 text holds a lone surrogate: the line is bad input, and says so."""
    jsonl = tmp_path / "pages.jsonl"
    jsonl.write_text('{"url": "https://example.org/s", "html": "<p>\\ud800 x</p>"}\n')
    [line] = run_process(jsonl)
    assert (line["status"], line["reason"]) == ("rejected", "bad input")
    assert line["detail"].startswith("bad JSONL record: ") and "surrogate" in line["detail"]


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux's /proc/self/mem (reading it fails)")
def test_an_input_that_cannot_be_read_is_one_bad_line_not_an_output_error(tmp_path):
    """`process a.html /proc/self/mem b.html` stopped with "--out ...: cannot write: Input/output error"."""
    page = tmp_path / "a.html"
    page.write_text(ARTICLE, encoding="utf-8")
    lines = run_process(page, "/proc/self/mem", page)
    assert [line["status"] for line in lines] == ["ok", "rejected", "ok"]
    assert (lines[1]["source"], lines[1]["reason"]) == ("/proc/self/mem", "bad input")
    assert lines[1]["detail"].startswith("cannot read: ")
