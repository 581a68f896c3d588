"""The raw archive: every page that enters the pipeline, kept in WARC segments (warcio).

A page is archived before it is produced to the raw topic, so a broker that loses its messages (the local
broker keeps them in memory) loses no page: reconcile re-sends archived pages with no outcome, and
`reprocess --from-archive` runs history through the pipeline again. WARC is the field's format for raw HTML
(Common Crawl, Media Cloud), so other tools read the archive too.

Each page is two records: a `resource` record holding the page bytes (WARC-Target-URI, WARC-Date = fetch time)
and a `metadata` record holding the rest of its RawPage as JSON. Each segment `<name>.warc.gz` has a sidecar
`<name>.idx`, one JSON line per page (page id, byte offset, end, when it entered, URL, source), so reconcile finds
pages without decompressing the archive. The index is a convenience, the segment is the truth: a garbled or
missing index line, or a segment that runs past its last indexed page, is rebuilt from the segment's records.
Every writer (an ingest run, the feeder, a worker archiving a page another tool produced) writes segments of its own.

Storage: the archive directory (NEWSSTREAM_ARCHIVE_DIR) by default; with NEWSSTREAM_ARCHIVE_S3_BUCKET an
S3-compatible bucket. Writers always write the open segment in the archive directory first (appending to an
object is not possible in S3) and upload it when it rolls (NEWSSTREAM_ARCHIVE_SEGMENT_BYTES or _SECONDS) or the
writer stops; a segment left behind by a killed writer is uploaded by the next writer or reconcile on that
machine. Readers see both: the bucket and the segments still in the local directory (local wins).
"""

from __future__ import annotations

import base64
import fcntl
import os
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from io import BufferedWriter, BytesIO
from pathlib import Path
from typing import IO

import orjson

from schemas.records import RawPage
from streams.errors import UserError

SEGMENT_SUFFIX = ".warc.gz"
INDEX_SUFFIX = ".idx"
META_TYPE = "application/vnd.newsstream.rawpage+json"
PAGE_RECORD_PREFIX = "<urn:newsstream:page:"
_BODY_FIELDS = ("html", "html_b64", "origin")


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ArchiveUnavailable(UserError):
    """The bucket could not be reached or refused a request (bad endpoint, credentials, bucket)."""


@dataclass(frozen=True)
class Entry:
    """One archived page, as its segment's index lists it."""

    page_id: str
    segment: str
    offset: int
    entered_at: datetime
    url: str | None
    source: str


@dataclass(frozen=True)
class SegmentFile:
    name: str
    bytes: int
    modified: datetime
    where: str  # "local" (the archive directory) or "bucket"


class LocalStore:
    """Segments in a directory."""

    where = "local"

    def __init__(self, root: Path):
        self.root = root

    def __str__(self) -> str:
        return str(self.root)

    def path(self, name: str, suffix: str = SEGMENT_SUFFIX) -> Path:
        return self.root / f"{name}{suffix}"

    def segments(self) -> dict[str, SegmentFile]:
        if not self.root.is_dir():
            return {}
        out = {}
        for p in self.root.glob(f"*{SEGMENT_SUFFIX}"):
            try:
                stat = p.stat()
            except FileNotFoundError:  # uploaded and removed meanwhile
                continue
            name = p.name[: -len(SEGMENT_SUFFIX)]
            out[name] = SegmentFile(name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC), self.where)
        return out

    def read_index(self, name: str) -> bytes | None:
        try:
            return self.path(name, INDEX_SUFFIX).read_bytes()
        except OSError:
            return None

    def open(self, name: str, offset: int = 0) -> IO[bytes]:
        stream = open(self.path(name), "rb")
        stream.seek(offset)
        return stream

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)
        self.path(name, INDEX_SUFFIX).unlink(missing_ok=True)


class S3Store:
    """Segments as objects `<prefix><name>.warc.gz` and `<prefix><name>.idx` in an S3-compatible bucket (boto3)."""

    where = "bucket"

    def __init__(self, client, bucket: str, prefix: str):
        self.client, self.bucket, self.prefix = client, bucket, prefix
        # Index bodies by (name, ETag from the last listing): reconcile reads every index each tick, and an
        # uploaded index does not change (a replaced one has another ETag).
        self._etags: dict[str, str] = {}
        self._indexes: dict[str, tuple[str, bytes]] = {}

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _unavailable(self, what: str, exc: Exception) -> ArchiveUnavailable:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            return ArchiveUnavailable(f"archive bucket {self}: {what} refused: "
                                      + ": ".join(str(v) for v in (error.get("Code"), error.get("Message")) if v))
        hint = ""
        if type(exc).__name__ == "NoCredentialsError":
            hint = " (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile or role boto3 finds)"
        return ArchiveUnavailable(f"archive bucket {self}: {what} failed: {exc}{hint}")

    def _call(self, what: str, fn, *args, **kwargs):
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:  # upload_file wraps ClientError in the last
            raise self._unavailable(what, exc) from exc

    def segments(self) -> dict[str, SegmentFile]:
        out, etags = {}, {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in self._call("listing", lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix))):
            for obj in page.get("Contents", []):
                key = obj["Key"][len(self.prefix):]
                if key.endswith(INDEX_SUFFIX) and "/" not in key:
                    etags[key[: -len(INDEX_SUFFIX)]] = obj.get("ETag", "")
                if key.endswith(SEGMENT_SUFFIX) and "/" not in key:
                    name = key[: -len(SEGMENT_SUFFIX)]
                    out[name] = SegmentFile(name, int(obj["Size"]), _utc(obj["LastModified"]), self.where)
        self._etags = etags
        return out

    def read_index(self, name: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        cached = self._indexes.get(name)
        if cached is not None and cached[0] == self._etags.get(name):
            return cached[1]
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=f"{self.prefix}{name}{INDEX_SUFFIX}")
            data = obj["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._unavailable("reading an index", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("reading an index", exc) from exc
        if obj.get("ETag"):
            self._indexes[name] = (obj["ETag"], data)
        return data

    def open(self, name: str, offset: int = 0) -> IO[bytes]:
        extra = {"Range": f"bytes={offset}-"} if offset else {}
        return self._call("reading a segment", self.client.get_object, Bucket=self.bucket,
                          Key=f"{self.prefix}{name}{SEGMENT_SUFFIX}", **extra)["Body"]

    def upload(self, local: LocalStore, name: str) -> None:
        """The segment first, then its index: an index in the bucket never points at a missing segment."""
        for suffix in (SEGMENT_SUFFIX, INDEX_SUFFIX):
            path = local.path(name, suffix)
            if suffix == INDEX_SUFFIX and not path.exists():
                continue  # rebuilt from the segment when read
            self._call("upload", self.client.upload_file, str(path), self.bucket, f"{self.prefix}{name}{suffix}")

    def delete(self, name: str) -> None:
        self._etags.pop(name, None)
        self._indexes.pop(name, None)
        keys = [{"Key": f"{self.prefix}{name}{s}"} for s in (SEGMENT_SUFFIX, INDEX_SUFFIX)]
        self._call("delete", self.client.delete_objects, Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})


class Archive:
    """Where the segments are: the archive directory, and the bucket when one is configured."""

    def __init__(self, local: LocalStore, bucket: S3Store | None = None):
        self.local, self.bucket = local, bucket

    def __str__(self) -> str:
        return f"{self.bucket} (open segments in {self.local})" if self.bucket else str(self.local)

    def segments(self) -> dict[str, SegmentFile]:
        found = self.bucket.segments() if self.bucket is not None else {}
        found.update(self.local.segments())  # not uploaded yet, or uploaded and not yet removed: the same bytes
        return dict(sorted(found.items()))

    def _store(self, name: str) -> LocalStore | S3Store:
        if self.bucket is None or self.local.path(name).exists():
            return self.local
        return self.bucket

    def read_index(self, name: str) -> bytes | None:
        return self._store(name).read_index(name)

    def open(self, name: str, offset: int = 0) -> IO[bytes]:
        return self._store(name).open(name, offset)

    def delete(self, name: str) -> None:
        if self.bucket is not None:
            self.bucket.delete(name)
        self.local.delete(name)

    def upload_pending(self) -> list[str]:
        """Upload the local segments no live writer holds (a writer killed before its upload, a bucket that was
        down), then remove them here. A writer holds an flock on its open segment, so that one is left alone."""
        if self.bucket is None:
            return []
        done = []
        for name in self.local.segments():
            try:
                handle = open(self.local.path(name), "rb")
            except FileNotFoundError:
                continue
            with handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a writer is still appending to it
                if not self.local.path(name).exists():
                    continue  # uploaded and removed by someone else meanwhile
                self.bucket.upload(self.local, name)
                self.local.delete(name)
            done.append(name)
        return done


def as_archive(where: Path | Archive) -> Archive:
    return where if isinstance(where, Archive) else Archive(LocalStore(Path(where)))


@lru_cache(maxsize=8)
def archive_for(settings) -> Archive:
    """The archive the settings name; one S3 client per settings object (boto3's credential chain: AWS_ACCESS_KEY_ID
    and AWS_SECRET_ACCESS_KEY from the environment, a profile, or an instance role)."""
    local = LocalStore(settings.archive_path)
    if not settings.archive_s3_bucket:
        return Archive(local)
    import boto3
    from botocore.config import Config

    timeout = settings.archive_s3_timeout_seconds  # a hung endpoint: two attempts, then the segment stays local
    config = Config(retries={"total_max_attempts": 2, "mode": "standard"}, connect_timeout=timeout,
                    read_timeout=timeout, s3={"addressing_style": "path"} if settings.archive_s3_endpoint else None)
    client = boto3.session.Session().client("s3", endpoint_url=settings.archive_s3_endpoint,
                                            region_name=settings.archive_s3_region, config=config)
    return Archive(local, S3Store(client, settings.archive_s3_bucket, settings.archive_s3_prefix))


def _warn(message: str) -> None:
    print(f"newsstream: {message}", file=sys.stderr, flush=True)


class ArchiveWriter:
    """Appends pages to a segment of its own; a new segment past `segment_bytes` or `segment_seconds` (0: no age
    limit). With a bucket, a closed segment is uploaded and removed here. Call `close` (or use `with`)."""

    def __init__(self, where: Path | Archive, segment_bytes: int = 64_000_000, segment_seconds: float = 0):
        from warcio.warcwriter import WARCWriter

        self.archive = as_archive(where)
        self.root = self.archive.local.root
        self.segment_bytes = segment_bytes
        self.segment_seconds = segment_seconds
        self._writer_class = WARCWriter
        self._warc: BufferedWriter | None = None
        self._index: BufferedWriter | None = None
        self._opened_at = 0.0
        self._first = True
        self.name: str | None = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the archive directory {self.root}: {exc.strerror}") from exc

    def _open(self) -> tuple[BufferedWriter, BufferedWriter, str]:
        if self._first and self.archive.bucket is not None:
            self._first = False
            try:
                self.archive.upload_pending()  # what a killed writer on this machine left behind
            except ArchiveUnavailable as exc:
                _warn(f"{exc}; earlier segments stay in {self.root} until an upload succeeds")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.name = name = f"{stamp}-{os.getpid()}-{secrets.token_hex(3)}"
        try:
            self._warc = warc = open(self.root / f"{name}{SEGMENT_SUFFIX}", "ab")
            self._index = index = open(self.root / f"{name}{INDEX_SUFFIX}", "ab")
        except OSError as exc:
            raise UserError(f"cannot write to the archive directory {self.root}: {exc.strerror} "
                            "(NEWSSTREAM_ARCHIVE_DIR)") from exc
        fcntl.flock(warc, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "being written": not uploaded under our feet
        self._opened_at = time.monotonic()
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
        record_id = f"{PAGE_RECORD_PREFIX}{page.page_id}>"
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
        end = warc.tell()
        entry = Entry(page.page_id, name, offset, entered, page.url, page.source)
        index.write(orjson.dumps({**asdict(entry), "entered_at": entered.isoformat(), "end": end}) + b"\n")
        index.flush()
        if end >= self.segment_bytes or (
                self.segment_seconds and time.monotonic() - self._opened_at >= self.segment_seconds):
            self.close()
        return entry

    def sync(self) -> None:
        """To disk (fsync): what a machine restart must not lose."""
        for handle in (self._warc, self._index):
            if handle is not None:
                handle.flush()
                os.fsync(handle.fileno())

    def close(self) -> None:
        """Closes the open segment; with a bucket, uploads it (a failed upload leaves it here for a later one)."""
        if self._warc is None or self._index is None or self.name is None:
            return
        warc, index, name, uploaded = self._warc, self._index, self.name, False
        try:
            self.sync()
            if self.archive.bucket is not None:
                try:
                    self.archive.bucket.upload(self.archive.local, name)
                    uploaded = True
                except ArchiveUnavailable as exc:
                    _warn(f"{exc}; segment {name} stays in {self.root} until an upload succeeds "
                          "(the next writer or reconcile on this machine retries)")
        finally:
            warc.close()
            index.close()
            self._warc = self._index = None
        if uploaded:
            self.archive.local.delete(name)

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def writer_for(settings) -> ArchiveWriter:
    """The archive writer of an ingest run, the feeder or a worker, from the settings."""
    return ArchiveWriter(archive_for(settings), settings.archive_segment_bytes, settings.archive_segment_seconds)


class UnarchivedPages:
    """Raw pages another tool produced straight to the raw topic (not ingest, feed, backfill or reconcile) arrive
    without a page id, because our writers give each page its id when they archive it. The clean stage archives
    such a page when it first sees it, under the id it gives it, so reconcile and `reprocess --from-archive` cover
    it from then on. (A page the broker lost before any worker read it never entered: no one can re-send it.)"""

    def __init__(self, settings):
        self.settings = settings
        self._writer: ArchiveWriter | None = None
        self._lock = threading.Lock()  # the clean stage runs in executor threads
        self.archived = 0

    def keep(self, page: RawPage, page_id: str | None, entered_at: datetime | None) -> bool:
        if page.page_id or not page_id:
            return False
        with self._lock:
            if self._writer is None:
                self._writer = writer_for(self.settings)
            self._writer.append(page.model_copy(update={"page_id": page_id}), entered_at)
            self.archived += 1
        return True

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()


def segment_names(where: Path | Archive) -> list[str]:
    return list(as_archive(where).segments())


def _scan(archive: Archive, segment: str) -> Iterator[Entry]:
    """The pages of a segment, read from its records (the index rebuilt); stops quietly at damage."""
    from warcio.archiveiterator import ArchiveIterator

    try:
        stream = archive.open(segment)
    except (OSError, ArchiveUnavailable):
        return
    try:
        records = ArchiveIterator(stream)
        resource: tuple[str, int] | None = None
        for record in records:
            record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
            if record.rec_type == "resource" and record_id.startswith(PAGE_RECORD_PREFIX):
                resource = (record_id, records.get_record_offset())
            elif (record.rec_type == "metadata" and resource is not None
                  and record.rec_headers.get_header("WARC-Concurrent-To") == resource[0]):
                meta = orjson.loads(record.content_stream().read())
                yield Entry(resource[0][len(PAGE_RECORD_PREFIX):-1], segment, resource[1],
                            _utc(datetime.fromisoformat(meta["entered_at"])), meta.get("url"), meta.get("source") or "")
                resource = None
    except Exception:  # a torn or damaged segment: the pages before the damage stand
        return
    finally:
        stream.close()


def _parse_index(data: bytes, segment: str) -> tuple[list[Entry], list[int], int | None]:
    """Entries, the numbers of the lines that are not one (garbled, torn), and where the last indexed page ends."""
    good, bad, end = [], [], None
    for number, line in enumerate(data.splitlines(), 1):
        try:
            row = orjson.loads(line)
            good.append(Entry(row["page_id"], segment, int(row["offset"]),
                              _utc(datetime.fromisoformat(row["entered_at"])), row.get("url"), row.get("source") or ""))
            end = int(row["end"]) if "end" in row else None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            bad.append(number)
    return good, bad, end


def index_entries(where: Path | Archive, segment: str, *, size: int | None = None,
                  problems: list[str] | None = None) -> list[Entry]:
    """A segment's pages from its index; rebuilt from the segment's records when the index cannot be trusted
    (a garbled or torn line, no index, or a segment longer than its last indexed page: a writer killed between
    the two), so a damaged index never hides a page. `problems` collects what was wrong."""
    archive = as_archive(where)
    data = archive.read_index(segment)
    good, bad, end = _parse_index(data, segment) if data is not None else ([], [], None)
    why = None
    if data is None:
        why = "no index"
    elif bad:
        why = f"index line{'s' if len(bad) > 1 else ''} {', '.join(map(str, bad[:10]))} garbled"
    elif end is not None and size is not None and size > end:
        why = f"{size - end} bytes past the last indexed page"
    if why is None:
        return good
    by_offset = {e.offset: e for e in good}
    rebuilt = 0
    for entry in _scan(archive, segment):
        if entry.offset not in by_offset:
            by_offset[entry.offset] = entry
            rebuilt += 1
    if problems is not None:
        problems.append(f"{segment}: {why}; {rebuilt} pages found in the segment that the index did not list")
    return sorted(by_offset.values(), key=lambda e: e.offset)


def entries(where: Path | Archive, *, since: datetime | None = None, until: datetime | None = None,
            problems: list[str] | None = None) -> Iterator[Entry]:
    """Every archived page entered in [since, until), oldest segment first."""
    archive = as_archive(where)
    for segment, info in archive.segments().items():
        for entry in index_entries(archive, segment, size=info.bytes, problems=problems):
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


def read_page(where: Path | Archive, entry: Entry) -> RawPage:
    """The archived page an index entry points at (ValueError / OSError / ArchiveUnavailable when the segment is
    damaged or gone)."""
    from warcio.archiveiterator import ArchiveIterator

    stream = as_archive(where).open(entry.segment, entry.offset)
    try:
        page = _page_from(iter(ArchiveIterator(stream)))
    except StopIteration:  # would escape asyncio.to_thread as a TypeError and hang the caller's future
        raise ValueError(f"the page at {entry.offset} of {entry.segment} is cut short") from None
    finally:
        stream.close()
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
    where: str = "local"


def list_segments(where: Path | Archive) -> list[SegmentInfo]:
    archive = as_archive(where)
    out = []
    for segment, info in archive.segments().items():
        found = index_entries(archive, segment, size=info.bytes)
        out.append(SegmentInfo(segment, len(found), info.bytes, min((e.entered_at for e in found), default=None),
                               max((e.entered_at for e in found), default=None), info.where))
    return out


@dataclass
class VerifyReport:
    segments: int = 0
    pages: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(where: Path | Archive) -> VerifyReport:
    """Read every record, check its WARC digests, and check that each index line is an entry pointing at its page."""
    from warcio.archiveiterator import ArchiveIterator

    archive = as_archive(where)
    report = VerifyReport()
    for segment, info in archive.segments().items():
        report.segments += 1
        found: dict[int, str] = {}
        problems_before = len(report.problems)
        try:
            stream = archive.open(segment)
            try:
                records = ArchiveIterator(stream, check_digests=True)
                for record in records:
                    offset = records.get_record_offset()
                    record.content_stream().read()
                    if record.digest_checker.passed is False:
                        report.problems.append(f"{segment}: record at {offset}: "
                                               + "; ".join(map(str, record.digest_checker.problems)))
                    record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
                    if record.rec_type == "resource" and record_id.startswith(PAGE_RECORD_PREFIX):
                        found[offset] = record_id[len(PAGE_RECORD_PREFIX):-1]
            finally:
                stream.close()
        except Exception as exc:
            # warcio quotes the raw bytes it choked on: keep the report printable and short
            detail = "".join(c if c.isprintable() else "?" for c in str(exc))[:120]
            report.problems.append(f"{segment}: unreadable after {len(found)} pages: {type(exc).__name__}: {detail}")
        if not found and info.bytes and len(report.problems) == problems_before:
            report.problems.append(f"{segment}: {info.bytes} bytes and no page record in them")
        data = archive.read_index(segment)
        listed, bad, _ = _parse_index(data, segment) if data is not None else ([], [], None)
        if data is None:
            report.problems.append(f"{segment}: no index (its pages are read from the segment)")
        for number in bad:
            report.problems.append(f"{segment}: index line {number} garbled (its page is read from the segment)")
        for entry in listed:
            if found.get(entry.offset) != entry.page_id:
                report.problems.append(f"{segment}: index entry for page {entry.page_id} at {entry.offset} "
                                       "does not match the segment")
        unindexed = len(found) - len({e.offset for e in listed} & found.keys())
        if unindexed:
            report.problems.append(f"{segment}: {unindexed} pages not in the index")
        for entry in index_entries(archive, segment, size=info.bytes):  # what reconcile would read back
            try:
                read_page(archive, entry)
            except Exception as exc:
                detail = "".join(c if c.isprintable() else "?" for c in str(exc))[:120]
                report.problems.append(f"{segment}: page {entry.page_id} at {entry.offset} cannot be read back: "
                                       f"{type(exc).__name__}: {detail}")
        report.pages += len(found)
    return report


def prune(where: Path | Archive, retention_days: float, *, now: datetime | None = None,
          dry_run: bool = False) -> list[str]:
    """Delete segments whose newest page entered more than `retention_days` ago (0: keep forever)."""
    if retention_days <= 0:
        return []
    archive = as_archive(where)
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    removed = []
    files = archive.segments()
    for info in list_segments(archive):
        newest = info.last or files[info.segment].modified  # no readable page: judge by the file's age
        if newest < cutoff:
            removed.append(info.segment)
            if not dry_run:
                archive.delete(info.segment)
    return removed
