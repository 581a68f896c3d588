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


SENTENCE = "The council approved the new budget for the city schools after a long debate. "
ENGLISH_BODY = "".join(f"<p>{SENTENCE * 2}{i}</p>" for i in range(3))


def _english_page(head: str = "", body_extra: str = "") -> str:
    return (f"<html><head><title>Council budget</title>{head}</head><body><article><h1>Council budget</h1>"
            f"{body_extra}{ENGLISH_BODY}</article></body></html>")


def test_a_stamp_stated_in_utc_takes_the_zone_the_pages_own_time_elements_state():
    # WordPress writes article:published_time in UTC; the page's <time> elements say the site's zone (-05:00), and
    # the day the page shows is the 18th, not the UTC day (the 19th)
    page = _english_page('<meta property="article:published_time" content="2025-12-19T02:41:41+00:00">',
                         '<p>Posted on <time datetime="2025-12-18T21:41:41-05:00">December 18, 2025</time></p>')
    article = clean_page(page, url="https://example.com/a", source="t")
    assert article.published_at == datetime(2025, 12, 19, 2, 41, 41, tzinfo=timezone.utc)  # the instant unchanged
    assert (article.published_source, article.published_utc_offset) == ("metadata", -300)
    assert article.published_local().date().isoformat() == "2025-12-18"


def test_a_utc_stamp_keeps_utc_when_the_pages_time_elements_disagree_or_say_utc():
    meta = '<meta property="article:published_time" content="2025-12-19T02:41:41+00:00">'
    mixed = _english_page(meta, '<time datetime="2025-12-18T20:00:00-05:00">x</time>'
                                '<time datetime="2025-12-17T18:00:00-08:00">y</time>')
    assert clean_page(mixed, url=None, source="t").published_utc_offset == 0
    utc = _english_page(meta, '<time datetime="2025-12-19T02:41:41+00:00">x</time>')
    assert clean_page(utc, url=None, source="t").published_utc_offset == 0


def test_an_updated_time_element_is_not_the_publication():
    # NPR-like: the only <time> is the update ("Updated November 11"); the publication day is in the URL path
    updated = ('<div class="dateblock dateblock-updated"><time datetime="2022-11-11T20:23:00-05:00">'
               '<span>Updated November 11, 2022</span> <span>Originally published November 9, 2022</span></time></div>')
    article = clean_page(_english_page(body_extra=updated), url="https://example.org/sections/2022/11/09/113/story",
                         source="t", fetched_at=datetime(2023, 1, 1, tzinfo=timezone.utc))
    assert article.published_local().date().isoformat() == "2022-11-09"
    assert article.published_source != "fetched"


def test_an_updated_time_element_is_used_only_when_nothing_else_dates_the_page():
    updated = '<p>Updated <time datetime="2022-11-11T20:23:00-05:00">November 11, 2022</time></p>'
    fetched = datetime(2023, 1, 1, tzinfo=timezone.utc)
    article = clean_page(_english_page(body_extra=updated), url=None, source="t", fetched_at=fetched)
    assert article.published_local().date().isoformat() == "2022-11-11"
    published = ('<p>Published <time datetime="2022-11-09T11:01:00-05:00">November 9, 2022</time></p>'
                 '<p class="last-updated"><time datetime="2022-11-11T20:23:00-05:00">November 11, 2022</time></p>')
    first_updated = updated + published
    article = clean_page(_english_page(body_extra=first_updated), url=None, source="t", fetched_at=fetched)
    assert article.published_local().date().isoformat() == "2022-11-09"


@pytest.mark.parametrize("before, after, day", [
    ("", '<div class="meta"><svg><use href="#cal"></use></svg> Dec 12, 2025 </div><div>4 min read</div>', "2025-12-12"),
    ('<div class="date-article">OCTOBER 13, 2025</div>', "", "2025-10-13"),
    ("", "<p>November 2, 2022</p><p>|</p><p>This newsletter is sponsored by</p>", "2022-11-02"),
    ("", "<p>By Jane Doe · 3 March 2024</p>", "2024-03-03"),
])
def test_the_date_printed_with_the_headline_beats_dates_inside_the_text(before, after, day):
    # no metadata and no <time>: the byline date under the <h1> (or the date line above it) is the publication day,
    # not an event date the text names first ("16-19 March 2026") nor the crawl time
    body = "<p>The summit runs on 16-19 March 2026 in San Jose, with talks and workshops for all. " * 3 + "</p>"
    page = (f"<html><head><title>Events</title></head><body><main>{before}<h1>Biggest tech events</h1>{after}"
            f"{body}{ENGLISH_BODY}</main></body></html>")
    fetched = datetime(2026, 6, 1, tzinfo=timezone.utc)
    article = clean_page(page, url="https://example.com/en/news/tech-events", source="t", fetched_at=fetched)
    assert article.published_local().date().isoformat() == day and article.published_source != "fetched"


def test_an_updated_date_with_the_headline_is_not_the_publication():
    page = _english_page(body_extra="<p>Updated on Dec. 09, 2025</p>")
    page = page.replace("<h1>Council budget</h1>", "<h1>Council budget</h1><p>Updated on Dec. 09, 2025</p>")
    fetched = datetime(2026, 1, 5, tzinfo=timezone.utc)
    article = clean_page(page, url="https://example.com/a", source="t", fetched_at=fetched)
    assert article.published_local().date().isoformat() != "2025-12-09"


def test_a_published_time_that_hatom_also_marks_updated_is_the_publication():
    # WordPress themes write <time class="entry-date published updated">: the publication, with its zone
    page = _english_page(body_extra='<div class="entry-byline"><time class="entry-published updated" '
                                    'datetime="2019-11-20T10:03:33+01:00">November 20, 2019</time></div>')
    article = clean_page(page, url="https://example.com/2019/11/20/story/", source="t")
    assert (article.published_at, article.published_source, article.published_utc_offset) == (
        datetime(2019, 11, 20, 9, 3, 33, tzinfo=timezone.utc), "metadata", 60)


def test_a_zone_shared_by_other_times_only_when_the_url_day_confirms_it():
    # comments' times say -06:00; the UTC stamp (05:00) would be the day before there: without a URL day to confirm
    # it, the stamp keeps UTC; with the URL's day confirming the local day, the zone is taken
    meta = '<meta property="article:published_time" content="2018-08-08T05:00:04+00:00">'
    comments = '<div class="comment-metadata"><time datetime="2018-08-08T15:17:21-06:00">August 8</time></div>'
    page = _english_page(meta, comments)
    assert clean_page(page, url="https://example.com/brand-story/", source="t").published_utc_offset == 0
    assert clean_page(page, url="https://example.com/2018/08/07/brand-story/", source="t").published_utc_offset == -360
    assert clean_page(page, url="https://example.com/2018/08/08/brand-story/", source="t").published_utc_offset == 0
