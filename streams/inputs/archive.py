"""The raw archive: every page that enters the pipeline, kept in WARC segments (warcio) in the archive directory.

A page is archived before it is produced to the raw topic, so a broker that loses its messages (the local
broker keeps them in memory) loses no page: reconcile re-sends archived pages with no outcome, and
`reprocess --from-archive` runs history through the pipeline again. WARC is the field's format for raw HTML
(Common Crawl, Media Cloud), so other tools read the archive too.

Each page is two records: a `resource` record holding the page bytes (WARC-Target-URI, WARC-Date = fetch time)
and a `metadata` record holding the rest of its RawPage as JSON. Each segment `<name>.warc.gz` has a sidecar
`<name>.idx`, one JSON line per page (page id, byte offset, when it entered, URL, source), so reconcile finds
pages without decompressing the archive. Every writer (an ingest run, the feeder) writes segments of its own.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from io import BufferedWriter, BytesIO
from pathlib import Path

import orjson

from schemas.records import RawPage
from streams.errors import UserError

SEGMENT_SUFFIX = ".warc.gz"
INDEX_SUFFIX = ".idx"
META_TYPE = "application/vnd.newsstream.rawpage+json"
_BODY_FIELDS = ("html", "html_b64", "origin")


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Entry:
    """One archived page, as its segment's index lists it."""

    page_id: str
    segment: str
    offset: int
    entered_at: datetime
    url: str | None
    source: str


class ArchiveWriter:
    """Appends pages to a segment of its own; a new segment past `segment_bytes`. Call `close` (or use `with`)."""

    def __init__(self, root: Path, segment_bytes: int = 64_000_000):
        from warcio.warcwriter import WARCWriter

        self.root = root
        self.segment_bytes = segment_bytes
        self._writer_class = WARCWriter
        self._warc: BufferedWriter | None = None
        self._index: BufferedWriter | None = None
        self.name: str | None = None
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the archive directory {root}: {exc.strerror}") from exc

    def _open(self) -> tuple[BufferedWriter, BufferedWriter, str]:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.name = name = f"{stamp}-{os.getpid()}-{secrets.token_hex(3)}"
        try:
            self._warc = warc = open(self.root / f"{name}{SEGMENT_SUFFIX}", "ab")
            self._index = index = open(self.root / f"{name}{INDEX_SUFFIX}", "ab")
        except OSError as exc:
            raise UserError(f"cannot write to the archive directory {self.root}: {exc.strerror} "
                            "(NEWSSTREAM_ARCHIVE_DIR)") from exc
        self._writer = self._writer_class(warc, gzip=True)
        return warc, index, name

    def append(self, page: RawPage, entered_at: datetime | None = None) -> Entry:
        """Write the page (which must carry its page_id) and index it; flushed before returning."""
        if not page.page_id:
            raise ValueError("an archived page needs its page_id")
        if self._warc is None or self._index is None or self.name is None:
            warc, index, name = self._open()
        else:
            warc, index, name = self._warc, self._index, self.name
        entered = _utc(entered_at or datetime.now(UTC))
        body = page.body()
        data = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
        meta = page.model_dump(mode="json", exclude_none=True, exclude=set(_BODY_FIELDS))
        meta["body"] = "bytes" if page.html_b64 is not None else "text"
        meta["entered_at"] = entered.isoformat()
        when = _utc(page.fetched_at or entered).strftime("%Y-%m-%dT%H:%M:%SZ")
        uri = page.url or f"urn:newsstream:source:{page.source}"
        offset = warc.tell()
        record_id = f"<urn:newsstream:page:{page.page_id}>"
        resource = self._writer.create_warc_record(
            uri, "resource", payload=BytesIO(data), length=len(data),
            warc_content_type=page.content_type or "text/html",
            warc_headers_dict={"WARC-Date": when, "WARC-Record-ID": record_id})
        self._writer.write_record(resource)
        metadata = self._writer.create_warc_record(
            uri, "metadata", payload=BytesIO(orjson.dumps(meta)), warc_content_type=META_TYPE,
            warc_headers_dict={"WARC-Date": when, "WARC-Concurrent-To": record_id})
        self._writer.write_record(metadata)
        warc.flush()
        entry = Entry(page.page_id, name, offset, entered, page.url, page.source)
        index.write(orjson.dumps({**asdict(entry), "entered_at": entered.isoformat()}) + b"\n")
        index.flush()
        if warc.tell() >= self.segment_bytes:
            self.close()
        return entry

    def sync(self) -> None:
        """To disk (fsync): what a machine restart must not lose."""
        for handle in (self._warc, self._index):
            if handle is not None:
                handle.flush()
                os.fsync(handle.fileno())

    def close(self) -> None:
        self.sync()
        for handle in (self._warc, self._index):
            if handle is not None:
                handle.close()
        self._warc = self._index = None

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def segment_names(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name[: -len(SEGMENT_SUFFIX)] for p in root.glob(f"*{SEGMENT_SUFFIX}"))


def index_entries(root: Path, segment: str) -> Iterator[Entry]:
    """A segment's index; a torn last line (a writer killed mid-write) is skipped."""
    try:
        lines = (root / f"{segment}{INDEX_SUFFIX}").read_bytes().splitlines()
    except OSError:
        return
    for line in lines:
        try:
            row = orjson.loads(line)
            yield Entry(row["page_id"], segment, int(row["offset"]), _utc(datetime.fromisoformat(row["entered_at"])),
                        row.get("url"), row.get("source") or "")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue


def entries(root: Path, *, since: datetime | None = None, until: datetime | None = None) -> Iterator[Entry]:
    """Every archived page entered in [since, until), oldest segment first."""
    for segment in segment_names(root):
        for entry in index_entries(root, segment):
            if (since is None or entry.entered_at >= since) and (until is None or entry.entered_at < until):
                yield entry


def first_by_page(found: Iterator[Entry]) -> dict[str, Entry]:
    """One entry per page id (a page ingested twice is one page): the first."""
    out: dict[str, Entry] = {}
    for entry in found:
        out.setdefault(entry.page_id, entry)
    return out


def _page_from(records) -> RawPage:
    resource = next(records)
    if resource.rec_type != "resource":
        raise ValueError(f"expected a resource record, found {resource.rec_type}")
    data = resource.content_stream().read()
    metadata = next(records)
    if metadata.rec_type != "metadata":
        raise ValueError(f"expected a metadata record, found {metadata.rec_type}")
    meta = orjson.loads(metadata.content_stream().read())
    kind = meta.pop("body", "bytes")
    meta.pop("entered_at", None)
    if kind == "text":
        meta["html"] = data.decode("utf-8", "surrogatepass")
    else:
        meta["html_b64"] = base64.b64encode(data).decode("ascii")
    return RawPage.model_validate(meta)


def read_page(root: Path, entry: Entry) -> RawPage:
    """The archived page an index entry points at (ValueError / OSError when the segment is damaged or gone)."""
    from warcio.archiveiterator import ArchiveIterator

    with open(root / f"{entry.segment}{SEGMENT_SUFFIX}", "rb") as stream:
        stream.seek(entry.offset)
        page = _page_from(iter(ArchiveIterator(stream)))
    if page.page_id != entry.page_id:
        raise ValueError(f"offset {entry.offset} of {entry.segment} holds page {page.page_id}, not {entry.page_id}")
    return page


@dataclass
class SegmentInfo:
    segment: str
    pages: int
    bytes: int
    first: datetime | None
    last: datetime | None


def list_segments(root: Path) -> list[SegmentInfo]:
    out = []
    for segment in segment_names(root):
        found = list(index_entries(root, segment))
        size = (root / f"{segment}{SEGMENT_SUFFIX}").stat().st_size
        out.append(SegmentInfo(segment, len(found), size, min((e.entered_at for e in found), default=None),
                               max((e.entered_at for e in found), default=None)))
    return out


@dataclass
class VerifyReport:
    segments: int = 0
    pages: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(root: Path) -> VerifyReport:
    """Read every record, check its WARC digests, and check that each index entry points at its page."""
    from warcio.archiveiterator import ArchiveIterator

    report = VerifyReport()
    for segment in segment_names(root):
        report.segments += 1
        path = root / f"{segment}{SEGMENT_SUFFIX}"
        found: dict[int, str] = {}
        try:
            with open(path, "rb") as stream:
                records = ArchiveIterator(stream, check_digests=True)
                for record in records:
                    offset = records.get_record_offset()
                    record.content_stream().read()
                    if record.digest_checker.passed is False:
                        report.problems.append(f"{segment}: record at {offset}: "
                                               + "; ".join(map(str, record.digest_checker.problems)))
                    record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
                    if record.rec_type == "resource" and record_id.startswith("<urn:newsstream:page:"):
                        found[offset] = record_id[len("<urn:newsstream:page:"):-1]
        except Exception as exc:
            # warcio quotes the raw bytes it choked on: keep the report printable and short
            detail = "".join(c if c.isprintable() else "?" for c in str(exc))[:120]
            report.problems.append(f"{segment}: unreadable after {len(found)} pages: {type(exc).__name__}: {detail}")
        listed = list(index_entries(root, segment))
        for entry in listed:
            if found.get(entry.offset) != entry.page_id:
                report.problems.append(f"{segment}: index entry for page {entry.page_id} at {entry.offset} "
                                       "does not match the segment")
        unindexed = len(found) - len({e.offset for e in listed} & found.keys())
        if unindexed:
            report.problems.append(f"{segment}: {unindexed} pages not in the index")
        report.pages += len(found)
    return report


def prune(root: Path, retention_days: float, *, now: datetime | None = None, dry_run: bool = False) -> list[str]:
    """Delete segments whose newest page entered more than `retention_days` ago (0: keep forever)."""
    if retention_days <= 0:
        return []
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    removed = []
    for info in list_segments(root):
        newest = info.last
        if newest is None:  # no readable index: judge by the file's age
            newest = datetime.fromtimestamp((root / f"{info.segment}{SEGMENT_SUFFIX}").stat().st_mtime, UTC)
        if newest < cutoff:
            removed.append(info.segment)
            if not dry_run:
                (root / f"{info.segment}{SEGMENT_SUFFIX}").unlink(missing_ok=True)
                (root / f"{info.segment}{INDEX_SUFFIX}").unlink(missing_ok=True)
    return removed
