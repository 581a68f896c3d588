"""Input documents from paths: HTML files, folders of them, JSONL records {"url","html","fetched_at"},
and WARC files (response records, e.g. Common Crawl News), read with warcio."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import orjson

JSONL_SUFFIXES = {".jsonl", ".ndjson"}
WARC_SUFFIXES = (".warc", ".warc.gz")


@dataclass(frozen=True)
class RawDocument:
    """One input document. `error` is set when the input itself is unreadable (a bad JSONL line).
    `path`, `line` and `offset` say where it was read: the file, the JSONL line number (1-based), the byte
    offset of the JSONL line or WARC record in the file (what `warcio extract FILE OFFSET` takes)."""

    source: str
    url: str | None
    body: bytes | str | None
    fetched_at: datetime | None
    content_type: str | None = None
    error: str | None = None
    path: str | None = None
    line: int | None = None
    offset: int | None = None


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Where(TypedDict):
    path: str
    line: int
    offset: int


def _jsonl(path: Path) -> Iterator[RawDocument]:
    offset = 0
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            source = f"{path}:{number}"
            where = _Where(path=str(path), line=number, offset=start)
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield RawDocument(source, None, None, None, error=f"bad JSONL record: {exc}", **where)
                continue
            if not isinstance(record, dict) or not isinstance(record.get("html"), str):
                yield RawDocument(source, None, None, None, error="bad JSONL record: needs a string 'html' field",
                                  **where)
                continue
            url = record.get("url") if isinstance(record.get("url"), str) else None
            content_type = record.get("content_type") if isinstance(record.get("content_type"), str) else None
            yield RawDocument(source, url, record["html"], _parse_time(record.get("fetched_at")),
                              content_type=content_type, **where)


WARC_TYPES = {"warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation"}


def _warc(path: Path, max_bytes: int) -> Iterator[RawDocument]:
    """Each successful (2xx) HTTP response record holding HTML; bodies over the cap are cut at cap + 1 so they read
    as oversized.
    A file with no readable WARC record (damaged, or not a WARC) is one bad input, never silence."""
    from warcio.archiveiterator import ArchiveIterator

    records = 0
    with path.open("rb") as stream:
        try:
            records_in_file = ArchiveIterator(stream)
            for number, record in enumerate(records_in_file, 1):
                if record.rec_type not in WARC_TYPES:
                    continue
                records += 1
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                if not (record.http_headers.get_statuscode() or "").startswith("2"):
                    continue  # a redirect, error page or 304 in the archive: not the article
                content_type = record.http_headers.get_header("Content-Type") or ""
                if content_type and "html" not in content_type.lower():
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                body = record.content_stream().read(max_bytes + 1)
                yield RawDocument(f"{path}#{number}", url, body,
                                  _parse_time(record.rec_headers.get_header("WARC-Date")),
                                  content_type=content_type or None, path=str(path),
                                  offset=records_in_file.get_record_offset())
        except Exception as exc:  # a damaged archive: what was read stands, the rest is one bad input
            yield RawDocument(str(path), None, None, None, error=f"bad WARC file: {exc}", path=str(path))
            return
    if records == 0:
        yield RawDocument(str(path), None, None, None, error="bad WARC file: no readable WARC record", path=str(path))


def _file(path: Path, max_bytes: int) -> RawDocument:
    fetched_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    with path.open("rb") as f:
        body = f.read(max_bytes + 1)  # reading one byte past the cap is enough to know it is oversized
    return RawDocument(str(path), None, body, fetched_at, path=str(path))


def iter_documents(paths: Iterable[str | Path], *, max_bytes: int) -> Iterator[RawDocument]:
    """Documents in a stable order: paths as given, folders walked in sorted order."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.exists():
            files = [path]
        else:
            yield RawDocument(str(path), None, None, None, error="no such file or folder", path=str(path))
            continue
        for file in files:
            yield from _readable(file, max_bytes)


def _readable(file: Path, max_bytes: int) -> Iterator[RawDocument]:
    """The file's documents; one that cannot be read (permissions, an I/O error: /proc/self/mem) is one bad input
    after those read before the error, never an error of the whole run (`process` blamed it on its output)."""
    try:
        if file.suffix.lower() in JSONL_SUFFIXES:
            yield from _jsonl(file)
        elif file.name.lower().endswith(WARC_SUFFIXES):
            yield from _warc(file, max_bytes)
        else:
            yield _file(file, max_bytes)
    except OSError as exc:
        yield RawDocument(str(file), None, None, None, error=f"cannot read: {exc.strerror or exc}", path=str(file))
