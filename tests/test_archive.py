"""The raw archive: pages written as WARC segments come back intact; verify finds damage; prune keeps retention."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from schemas.records import RawPage
from streams.inputs import archive
from streams.pipeline.identity import page_id_for


def page(n: int, text: bool = False) -> RawPage:
    body = f"<html><body><p>صفحة رقم {n}</p></body></html>"
    url = f"https://example.org/news?id={n}"
    fields = dict(source=f"feed-{n}", url=url, page_id=page_id_for(url, "x", body), content_type="text/html; charset=utf-8",
                  fetched_at=datetime(2026, 1, 1, 12, n, tzinfo=timezone.utc), lang_hint="ar",
                  headers={"etag": f'"{n}"'})
    if text:
        return RawPage(html=body, **fields)
    return RawPage(html_b64=base64.b64encode(body.encode("windows-1256", "replace")).decode(), **fields)


def test_pages_come_back_exactly_as_they_were_archived(tmp_path):
    pages = [page(i, text=i % 2 == 0) for i in range(6)]
    with archive.ArchiveWriter(tmp_path) as writer:
        written = [writer.append(p) for p in pages]
    found = list(archive.entries(tmp_path))
    assert [e.page_id for e in found] == [p.page_id for p in pages]
    for entry, original in zip(written, pages):
        assert archive.read_page(tmp_path, entry) == original
    assert archive.verify(tmp_path).ok


def test_other_warc_tools_read_the_segments(tmp_path):
    with archive.ArchiveWriter(tmp_path) as writer:
        writer.append(page(1))
    segment = next(tmp_path.glob("*.warc.gz"))
    done = subprocess.run([sys.executable, "-c", "from warcio.cli import main; main()", "check", "-v", str(segment)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_new_segment_past_the_size_limit_and_one_entry_per_page(tmp_path):
    with archive.ArchiveWriter(tmp_path, segment_bytes=1) as writer:
        for i in range(3):
            writer.append(page(i))
        writer.append(page(0))  # the same page ingested again
    assert len(archive.segment_names(tmp_path)) == 4
    assert len(archive.first_by_page(archive.entries(tmp_path))) == 3


def test_verify_reports_a_damaged_segment_and_a_torn_index(tmp_path):
    with archive.ArchiveWriter(tmp_path) as writer:
        entries = [writer.append(page(i)) for i in range(3)]
    name = entries[0].segment
    segment = tmp_path / f"{name}.warc.gz"
    data = bytearray(segment.read_bytes())
    data[entries[1].offset + 40] ^= 0xFF  # flip a byte inside the second page's gzip member
    segment.write_bytes(bytes(data))
    with open(tmp_path / f"{name}.idx", "ab") as index:
        index.write(b'{"page_id": "torn')  # a writer killed mid-line: skipped, not fatal
    report = archive.verify(tmp_path)
    assert not report.ok and any(name in p for p in report.problems)
    assert len(list(archive.index_entries(tmp_path, name))) == 3
    assert archive.read_page(tmp_path, entries[0]) == page(0)


def test_prune_deletes_only_segments_past_retention(tmp_path):
    now = datetime.now(timezone.utc)
    with archive.ArchiveWriter(tmp_path, segment_bytes=1) as writer:
        writer.append(page(1), entered_at=now - timedelta(days=40))
        writer.append(page(2), entered_at=now - timedelta(days=5))
    assert archive.prune(tmp_path, 0) == []  # 0: keep forever
    assert len(archive.prune(tmp_path, 30, dry_run=True)) == 1 and len(archive.segment_names(tmp_path)) == 2
    removed = archive.prune(tmp_path, 30)
    assert len(removed) == 1
    assert [e.page_id for e in archive.entries(tmp_path)] == [page(2).page_id]


def test_archive_cli_list_verify_prune(tmp_path):
    env = os.environ | {"NEWSSTREAM_DATA_DIR": str(tmp_path), "NEWSSTREAM_ARCHIVE_RETENTION_DAYS": "30"}
    with archive.ArchiveWriter(tmp_path / "archive", segment_bytes=1) as writer:
        writer.append(page(1), entered_at=datetime.now(timezone.utc) - timedelta(days=31))
        writer.append(page(2))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, capture_output=True, text=True)

    listed = cli("archive", "list")
    assert listed.returncode == 0 and "2 segments, 2 pages" in listed.stdout
    assert cli("archive", "verify").returncode == 0
    pruned = cli("archive", "prune")
    assert pruned.returncode == 0 and "1 segments deleted" in pruned.stdout
    assert "1 segments, 1 pages" in cli("archive", "list").stdout
    bad = cli("reprocess", "--from-archive", "--since", "2026-02-01", "--until", "2026-01-01")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    counted = cli("reprocess", "--from-archive", "--since", "2000-01-01", "--until", "2100-01-01", "--dry-run")
    assert counted.returncode == 0 and '"pages": 1' in counted.stdout


def test_prune_refuses_nan_and_inf_in_one_line(tmp_path):
    env = os.environ | {"NEWSSTREAM_DATA_DIR": str(tmp_path)}
    for value in ("nan", "inf"):
        done = subprocess.run([sys.executable, "-m", "streams.cli", "archive", "prune", "--older-than-days", value,
                               "--dry-run"], env=env, capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr


def test_verify_reports_a_segment_of_garbage_in_printable_text(tmp_path):
    """A damaged gzip member: warcio quotes the raw bytes it read; the report must not write them to a terminal."""
    with archive.ArchiveWriter(tmp_path) as writer:
        entries = [writer.append(page(i)) for i in range(3)]
    segment = tmp_path / f"{entries[0].segment}.warc.gz"
    data = bytearray(segment.read_bytes())
    data[entries[1].offset + 60:entries[1].offset + 76] = b"X" * 16
    segment.write_bytes(bytes(data))
    report = archive.verify(tmp_path)
    assert not report.ok
    for problem in report.problems:
        assert problem.isprintable() and len(problem) < 400, problem


def test_archive_commands_name_a_bad_setting_in_one_line(tmp_path):
    for value in ("-3", "inf"):
        env = os.environ | {"NEWSSTREAM_DATA_DIR": str(tmp_path), "NEWSSTREAM_ARCHIVE_RETENTION_DAYS": value}
        done = subprocess.run([sys.executable, "-m", "streams.cli", "archive", "prune", "--dry-run"], env=env,
                              capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "NEWSSTREAM_ARCHIVE_RETENTION_DAYS" in done.stderr


@pytest.mark.parametrize("grace", [-1.0, float("nan"), float("inf"), 1e308])
def test_reconcile_refuses_a_grace_that_is_not_finite_and_non_negative(grace, tmp_path):
    """The one check behind the CLI and the worker's POST /reconcile (which answers 400 with it)."""
    import asyncio

    from streams.ops.reconcile import reconcile
    from streams.settings import Settings

    async def no_query(*args, **kwargs):
        raise AssertionError("nothing may be read before the grace is checked")

    with pytest.raises(ValueError, match="the grace must be a number of seconds from 0 to"):
        asyncio.run(reconcile(Settings(data_dir=tmp_path), "kafka://127.0.0.1:1", no_query, grace_seconds=grace))


def test_a_garbled_index_line_hides_no_page(tmp_path):
    """A corrupt line in the middle of an index (not only a torn last one): its page is found in the segment, and
    verify names the line."""
    with archive.ArchiveWriter(tmp_path) as writer:
        written = [writer.append(page(i)) for i in range(4)]
    index = tmp_path / f"{written[0].segment}.idx"
    lines = index.read_bytes().splitlines()
    lines[1] = b"\x00\x00garbage{" + lines[1][20:]
    index.write_bytes(b"\n".join(lines) + b"\n")
    problems: list[str] = []
    found = list(archive.entries(tmp_path, problems=problems))
    assert [e.page_id for e in found] == [p.page_id for p in map(page, range(4))]
    assert archive.read_page(tmp_path, found[1]) == page(1)
    assert problems and "index line 2 garbled" in problems[0]
    report = archive.verify(tmp_path)
    assert any("index line 2 garbled" in p for p in report.problems), report.problems


def test_a_lost_index_or_a_writer_killed_before_its_index_line_hides_no_page(tmp_path):
    with archive.ArchiveWriter(tmp_path) as writer:
        written = [writer.append(page(i)) for i in range(3)]
    index = tmp_path / f"{written[0].segment}.idx"
    lines = index.read_bytes().splitlines()
    index.write_bytes(b"\n".join(lines[:2]) + b"\n")  # the segment holds a page its index never listed
    assert len(list(archive.entries(tmp_path))) == 3
    assert any("1 pages not in the index" in p for p in archive.verify(tmp_path).problems)
    index.unlink()
    assert [e.offset for e in archive.entries(tmp_path)] == [e.offset for e in written]
    assert any("no index" in p for p in archive.verify(tmp_path).problems)


def test_reconcile_counts_a_page_whose_index_line_is_garbled(tmp_path):
    import asyncio

    from streams.ops.reconcile import reconcile
    from streams.settings import Settings

    settings = Settings(_env_file=None, data_dir=tmp_path)
    with archive.ArchiveWriter(settings.archive_path) as writer:
        written = [writer.append(page(i)) for i in range(3)]
    index = settings.archive_path / f"{written[0].segment}.idx"
    lines = index.read_bytes().splitlines()
    index.write_bytes(lines[0] + b"\n" + b"not json\n" + lines[2] + b"\n")

    async def nothing_landed(sql, params=None):
        return []

    report = asyncio.run(reconcile(settings, "kafka://127.0.0.1:1", nothing_landed, grace_seconds=0, dry_run=True))
    assert report.missing == 3 and written[1].page_id in {s["page_id"] for s in report.sample}
    assert report.archive_problems and "garbled" in report.archive_problems[0]


def test_verify_reports_a_segment_that_holds_no_page(tmp_path):
    with archive.ArchiveWriter(tmp_path) as writer:
        writer.append(page(1))
    (tmp_path / "20260101T000000000000Z-1-abcdef.warc.gz").write_bytes(b"\x1f\x8b not gzip at all")
    report = archive.verify(tmp_path)
    assert any("abcdef" in p and "no page record" in p for p in report.problems), report.problems


def _cut_last_page(tmp_path):
    """A segment whose last page is cut partway through its body (a disk or copy that stopped short)."""
    with archive.ArchiveWriter(tmp_path) as writer:
        entries = [writer.append(page(i)) for i in range(3)]
    segment = tmp_path / f"{entries[0].segment}.warc.gz"
    data = segment.read_bytes()
    segment.write_bytes(data[: entries[2].offset + 40])  # inside the page's first record: its iterator ends early
    return entries


def test_a_page_cut_short_is_a_value_error_not_a_stop_iteration(tmp_path):
    """StopIteration escaped read_page; through asyncio.to_thread it became a TypeError that hung reconcile."""
    entries = _cut_last_page(tmp_path)
    with pytest.raises(ValueError, match="cut short"):
        archive.read_page(tmp_path, entries[2])
    assert archive.read_page(tmp_path, entries[0]) == page(0)


def test_verify_names_a_page_that_cannot_be_read_back(tmp_path):
    """verify said 'all digests and index entries check out' for a segment whose last page was cut short."""
    entries = _cut_last_page(tmp_path)
    report = archive.verify(tmp_path)
    assert not report.ok
    assert any(entries[2].page_id in p and "cannot be read back" in p for p in report.problems), report.problems


async def test_reconcile_dead_letters_a_page_cut_short_instead_of_hanging(tmp_path):
    import asyncio

    from streams.ops.reconcile import reconcile
    from streams.runtime.broker import LocalBroker
    from streams.settings import Settings

    _cut_last_page(tmp_path / "archive")
    settings = Settings(_env_file=None, data_dir=tmp_path)

    async def no_outcomes(sql, parameters=None):
        return []

    with LocalBroker(tmp_path / "broker") as broker:
        report = await asyncio.wait_for(reconcile(settings, broker.url, no_outcomes, grace_seconds=0), 120)
    assert report.missing == 3 and report.resent == 2 and report.dead_lettered == 1


@pytest.mark.parametrize("grace", ["1e308", "4e8"])
def test_reconcile_refuses_a_grace_past_ten_years(grace, tmp_path):
    done = subprocess.run([sys.executable, "-m", "streams.cli", "reconcile", "--dry-run", "--grace", grace],
                          env=os.environ | {"NEWSSTREAM_DATA_DIR": str(tmp_path)}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "ten years" in done.stderr
