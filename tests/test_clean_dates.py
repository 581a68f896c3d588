"""The clean stage keeps the zone a page stated its publication time in, next to the UTC time."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone

import pytest

from streams.pipeline.stages.clean import clean_page

BODY = "".join(f"<p>{'قال وزير الخارجية إن المحادثات مستمرة في جنيف بين الأطراف كلها حتى نهاية الأسبوع. ' * 2}"
               f"{i}</p>" for i in range(3))


def _page(head: str = "", body_extra: str = "") -> str:
    return (f"<html><head><title>محادثات جنيف</title>{head}</head><body><article><h1>محادثات جنيف</h1>"
            f"{body_extra}{BODY}</article></body></html>")


@pytest.mark.parametrize("stamp, utc_time, offset", [
    ("2024-03-03T01:30:00+04:00", datetime(2024, 3, 2, 21, 30, tzinfo=timezone.utc), 240),
    ("Sun, 03 Mar 2024 01:30:00 GST", datetime(2024, 3, 2, 21, 30, tzinfo=timezone.utc), 240),
    ("2024-03-03 01:30:00 EET", datetime(2024, 3, 2, 23, 30, tzinfo=timezone.utc), 120),
])
def test_meta_stamp_with_offset_or_named_zone(stamp, utc_time, offset):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        article = clean_page(_page(f'<meta property="article:published_time" content="{stamp}">'),
                             url="https://example.ae/news/1", source="t")
    assert (article.published_at, article.published_source, article.published_utc_offset) == (utc_time, "metadata", offset)
    assert article.published_local().date().isoformat() == "2024-03-03"  # the day the page said


def test_jsonld_date_published_wins_over_date_modified():
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", "dateModified": "2024-03-05T10:00:00+03:00",'
          ' "datePublished": "2024-03-03T10:00:00+03:00"}</script>')
    article = clean_page(_page(ld), url="https://example.com/a", source="t")
    assert article.published_at == datetime(2024, 3, 3, 7, 0, tzinfo=timezone.utc)
    assert article.published_utc_offset == 180


def test_a_dateline_with_a_zone_keeps_it_and_one_without_keeps_none():
    stated = clean_page(_page(body_extra="<p>الأحد، 04 آب/اغسطس 2013 02:21 (GMT+0400)</p>"), url=None, source="t")
    assert (stated.published_at, stated.published_utc_offset) == (datetime(2013, 8, 3, 22, 21, tzinfo=timezone.utc), 240)
    assert stated.published_local().date().isoformat() == "2013-08-04"
    plain = clean_page(_page(body_extra="<p>الأحد 14 جويلية 2023</p>"), url=None, source="t")
    assert (plain.published_at, plain.published_utc_offset) == (datetime(2023, 7, 14, tzinfo=timezone.utc), None)


def test_impossible_offsets_and_unparsable_urls_do_not_crash_the_stage():
    page = _page('<meta property="article:published_time" content="2024-03-03T10:00:00+99:00">')
    article = clean_page(page, url="https://example.com/a", source="t")
    assert article.published_utc_offset is None
    assert clean_page(_page(), url="http://[::1", source="t").site is None


def test_a_copyright_year_is_not_a_publication_day():
    fetched = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    page = _page().replace("</body>", "<footer><p>Copyright © 2025 Example News. All rights reserved.</p></footer></body>")
    article = clean_page(page, url="https://example.com/news/talks", source="t", fetched_at=fetched)
    assert (article.published_at, article.published_source) == (fetched, "fetched")
