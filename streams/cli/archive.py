"""`newsstream archive list|verify|upload|prune` and `newsstream reprocess --from-archive`: thin commands over
streams.inputs.archive (the archive directory, or the bucket with NEWSSTREAM_ARCHIVE_S3_BUCKET)."""

from __future__ import annotations

import asyncio
import json
import math
import sys


def _settings():
    from streams.cli.commands import _settings  # a bad environment variable is one line there, not a traceback

    return _settings()


def cmd_list(args) -> int:
    from streams.inputs.archive import archive_for, list_segments

    settings = _settings()
    segments = list_segments(archive_for(settings))
    for info in segments:
        # `local`: still in the archive directory (open, or waiting for its upload when a bucket is set)
        print(f"{info.segment}\t{info.pages} pages\t{info.bytes} bytes\t"
              f"{info.first.isoformat() if info.first else '-'}\t{info.last.isoformat() if info.last else '-'}\t"
              f"{info.where}")
    print(f"{len(segments)} segments, {sum(i.pages for i in segments)} pages in {archive_for(settings)}")
    return 0


def cmd_verify(args) -> int:
    from streams.inputs.archive import archive_for, verify

    settings = _settings()
    report = verify(archive_for(settings))
    for problem in report.problems:
        print(problem, file=sys.stderr)
    print(f"{report.segments} segments, {report.pages} pages: "
          + ("all digests and index entries check out" if report.ok else f"{len(report.problems)} problems"))
    return 0 if report.ok else 1


def cmd_upload(args) -> int:
    from streams.errors import UserError
    from streams.inputs.archive import archive_for

    store = archive_for(_settings())
    if store.bucket is None:
        raise UserError("no bucket: set NEWSSTREAM_ARCHIVE_S3_BUCKET (and _ENDPOINT for MinIO and the like)")
    done = store.upload_pending()
    for name in done:
        print(name)
    print(f"{len(done)} segments uploaded to {store.bucket} (segments still being written are left for their writer)")
    return 0


def cmd_prune(args) -> int:
    from streams.errors import UserError
    from streams.inputs.archive import archive_for, prune

    settings = _settings()
    days = settings.archive_retention_days if args.older_than_days is None else args.older_than_days
    if args.older_than_days is not None and not (math.isfinite(days) and days > 0):
        raise UserError(f"--older-than-days must be positive, not {days:g}")
    if days <= 0:
        raise UserError("retention is 0 (keep forever): set NEWSSTREAM_ARCHIVE_RETENTION_DAYS or --older-than-days")
    removed = prune(archive_for(settings), days, dry_run=args.dry_run)
    for name in removed:
        print(name)
    print(f"{len(removed)} segments {'would be ' if args.dry_run else ''}deleted (newest page over {days:g} days old)")
    return 0


def reprocess_from_archive(since: str, until: str, dry_run: bool = False) -> int:
    """Every archived page that entered in [since, until) goes through the whole pipeline again."""
    from streams.errors import UserError
    from streams.inputs import archive
    from streams.ops.reconcile import ReconcileReport, resend_archived
    from streams.ops.reprocess import parse_day
    from streams.runtime.broker import kafka_url

    settings = _settings()
    try:
        start, end = parse_day(since), parse_day(until)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if end <= start:
        raise UserError(f"--until ({until}) must be after --since ({since})")
    pages = list(archive.first_by_page(archive.entries(archive.archive_for(settings), since=start, until=end)).values())
    if dry_run or not pages:
        print(json.dumps({"pages": len(pages), "resent": 0}))
        return 0
    url = kafka_url(settings)
    if url is None:
        raise UserError("no broker: set KAFKA_URL or start one with `newsstream run`")
    report = ReconcileReport()
    if pages:
        asyncio.run(resend_archived(settings, url, pages, report, replace=True))
    print(json.dumps({"pages": len(pages), "resent": report.resent, "unreadable": report.dead_lettered}))
    return 0


def register(sub) -> None:
    from streams.cli.commands import _command

    archive = _command(sub, "archive", "the raw archive (WARC segments of every page that entered): list, verify, "
                       "upload, prune", """
  newsstream archive list
  newsstream archive verify
  newsstream archive prune --older-than-days 90 --dry-run
""")
    commands = archive.add_subparsers(dest="archive_command", required=True)
    _command(commands, "list", "segments with their page counts and time range", """
  newsstream archive list
""", cmd_list)
    _command(commands, "verify", "read every record, check WARC digests and the index; exit 1 on a problem", """
  newsstream archive verify
""", cmd_verify)
    _command(commands, "upload", "upload the closed segments still in the archive directory to the bucket", """
  newsstream archive upload
""", cmd_upload)
    p = _command(commands, "prune", "delete segments older than NEWSSTREAM_ARCHIVE_RETENTION_DAYS", """
  newsstream archive prune --dry-run
  newsstream archive prune --older-than-days 90
""", cmd_prune)
    p.add_argument("--older-than-days", type=float, default=None, help="instead of the retention setting")
    p.add_argument("--dry-run", action="store_true", help="only list them")
