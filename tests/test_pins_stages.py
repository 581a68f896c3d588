"""Pins for the stages' edges, written against mutmut survivors (each test names the behaviour it holds)."""

from __future__ import annotations

from datetime import datetime

import lxml.html
import pytest

from streams.pipeline.stages import Rejected, charset
from streams.pipeline.stages.chrome import prune_chrome
from streams.pipeline.stages.dates import find_stamp, parse_stamp


def pruned(body: str) -> str:
    tree = lxml.html.fromstring(f"<html><body>{body}</body></html>")
    assert prune_chrome(tree) == 1
    return lxml.html.tostring(tree.find("body"), encoding="unicode")


def test_text_after_a_removed_block_stays_where_it_was():
    """The tail of a pruned block joins its previous sibling, not the container's last child (that moved the
    sentence after every later paragraph)."""
    share = '<div class="share-buttons" aria-label="share"><a href="/x">Share</a></div>'
    assert pruned(f"<div><p>First.</p>{share} Tail words.<p>Last.</p></div>") == (
        "<body><div><p>First.</p> Tail words.<p>Last.</p></div></body>")


def test_text_after_a_removed_first_block_joins_the_container_text():
    share = '<div class="share-buttons" aria-label="share"><a href="/x">Share</a></div>'
    assert pruned(f"<div>Lead {share} tail words.<p>Last.</p></div>") == (
        "<body><div>Lead  tail words.<p>Last.</p></div></body>")
    assert pruned(f"<div>{share} tail words.<p>Last.</p></div>") == "<body><div> tail words.<p>Last.</p></div></body>"


def test_a_page_no_charset_decodes_is_rejected_as_undecodable(monkeypatch):
    class Nothing:
        def best(self):
            return None

    monkeypatch.setattr(charset, "from_bytes", lambda data: Nothing())
    with pytest.raises(Rejected) as raised:
        charset.decode_html(b"<p>\xc3\x28 not utf-8</p>")
    assert (raised.value.reason, raised.value.detail) == ("undecodable", "no charset decodes this page")


def test_an_iso_week_date_is_a_full_date():
    assert parse_stamp("2024-W18-3") == datetime(2024, 5, 1)


def test_a_stated_offset_is_whole_minutes_east_of_utc():
    for text, minutes in (("1 May 2024 10:30 GMT+0430", 270), ("1 May 2024 10:30 GMT-0300", -180)):
        found = find_stamp(text)
        assert found is not None and found[1] == minutes and type(found[1]) is int, (text, found)


def test_a_rejection_without_detail_reads_as_its_reason():
    assert str(Rejected("empty")) == "empty" and str(Rejected("empty", "no text")) == "empty: no text"
