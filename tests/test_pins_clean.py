"""Pins for the clean stage (streams/pipeline/stages/clean.py): each test was written against a mutant that survived
mutation testing (benchmarks/RESULTS.md) and asserts what the stage returns or rejects for a crafted page."""

from __future__ import annotations

import gzip
import hashlib
import time
from datetime import UTC, datetime, timedelta

import lxml.html
import pytest

from streams.pipeline.stages import Rejected
from streams.pipeline.stages.clean import (
    _DATE_PARAMS,
    _author,
    _body_lines,
    _depth,
    _error_page,
    _find_date,
    _is_article,
    _metadata,
    _paragraph_chars,
    _parse_iso,
    _publication_time,
    _site,
    _stamped_publication,
    _time_element,
    _truncated,
    _unwrap_layout_tables,
    _visible_text,
    article_id_for,
    clean_page,
    listed_articles,
)

PARAGRAPH = ("The council met on Tuesday to discuss the new budget for the coming year, and members argued at "
             "length about the cost of repairing the old bridge across the river before the winter floods. ")
BODY = "".join(f"<p>{PARAGRAPH}Paragraph {i}.</p>" for i in range(4))
ARTICLE = f"<html><head><title>Council debates bridge</title></head><body><article><h1>Council debates bridge</h1>" \
          f"{BODY}</article></body></html>"


def tree_of(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(html)


def rejected(page, **kwargs) -> Rejected:
    with pytest.raises(Rejected) as info:
        clean_page(page, url=kwargs.pop("url", None), source="test", **kwargs)
    return info.value


@pytest.fixture
def dubai_clock(monkeypatch):
    """The process's local zone at UTC+4, so code that uses local time instead of UTC shows it."""
    monkeypatch.setenv("TZ", "Asia/Dubai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# --- rejections at the door ----------------------------------------------------------------------------------------

def test_a_single_byte_page_is_not_html_rather_than_empty():
    assert rejected(b"x").reason == "not html"
    empty = rejected(b"  \n")
    assert (empty.reason, empty.detail) == ("empty", "no bytes")


def test_nul_characters_in_decoded_text_are_rejected_as_binary():
    error = rejected("<html>\x00<body>x</body></html>")
    assert (error.reason, error.detail) == ("binary", "NUL characters")


def test_gzip_signature_without_gzip_data_is_binary():
    error = rejected(b"\x1f\x8b" + b"not gzip at all" * 10)
    assert error.reason == "binary"
    assert error.detail.startswith("gzip signature but not gzip data (")


def test_truncated_gzip_is_binary():
    packed = gzip.compress(ARTICLE.encode())
    error = rejected(packed[: len(packed) // 2])
    assert (error.reason, error.detail) == ("binary", "truncated gzip data")


def test_text_pages_say_they_were_already_decoded():
    article = clean_page(ARTICLE, url="https://www.example.com/news/bridge", source="test")
    assert article.charset == "text (already decoded)"
    assert article.title == "Council debates bridge"
    assert article.site == "example.com"


# --- small helpers, by their contract ------------------------------------------------------------------------------

def test_truncation_is_judged_on_the_last_2000_characters():
    assert _truncated("<html><body>short</body></html>") == ""
    assert _truncated("</body" + "x" * 1995) != ""  # the closing tag starts 2001 characters from the end
    assert _truncated("x" * 5000 + "</body></html>") == ""


def test_depth_counts_levels_and_stops_at_the_limit():
    tree = tree_of("<div><p><b>x</b></p></div>")
    assert _depth(tree) == 3
    assert _depth(tree, limit=1) == 1


def test_site_is_the_host_without_www():
    assert _site("https://www.example.com/a") == "example.com"
    assert _site("https://news.www.example.com/a") == "news.www.example.com"
    assert _site("file:///tmp/page.html") is None


def test_iso_dates_become_utc_whatever_the_local_zone(dubai_clock):
    naive = _parse_iso("2024-01-01T12:00:00")
    assert naive == datetime(2024, 1, 1, 12, tzinfo=UTC) and naive.utcoffset() == timedelta(0)
    aware = _parse_iso("2024-01-01T12:00:00+03:00")
    assert aware == datetime(2024, 1, 1, 9, tzinfo=UTC) and aware.utcoffset() == timedelta(0)


def test_visible_text_drops_scripts_and_nbsp_to_single_spaces():
    assert _visible_text("a<script>var x = 1;</script>b&nbsp;c<i>d</i>") == "a b c d "


def test_article_id_is_the_canonical_url_or_the_content():
    assert article_id_for("https://example.com/a", "f") == hashlib.sha256(b"https://example.com/a").hexdigest()[:16]
    assert article_id_for(None, "f") == hashlib.sha256(b"content:f").hexdigest()[:16]


def test_paragraph_chars_leave_links_out():
    tree = tree_of("<html><body><p><a href='/x'>only a link</a></p><p>ten chars! <a href='/y'>link</a></p>"
                   "</body></html>")
    assert _paragraph_chars(tree) == len("ten chars! link") - len("link")


def test_layout_tables_become_divs():
    tree = tree_of("<html><body><table><tr><td><h1>Head</h1><p>text</p></td></tr></table></body></html>")
    _unwrap_layout_tables(tree)
    assert tree.xpath("//table|//tr|//td") == []
    assert [node.tag for node in tree.iter("div")] == ["div", "div", "div"]


@pytest.mark.parametrize("kind", ["NewsArticle", "BlogPosting", "Report", "WebPage", ["Thing", "Article"]])
def test_article_kinds(kind):
    assert _is_article({"@type": kind})


@pytest.mark.parametrize("kind", ["ImageObject", "Person", None, [3, "Organization"]])
def test_not_article_kinds(kind):
    assert not _is_article({"@type": kind})


# --- author ---------------------------------------------------------------------------------------------------------

def test_author_from_metadata_loses_its_by_prefix():
    assert _author("By Jane Doe ", tree_of("<html><body></body></html>")) == "Jane Doe"


def byline_page(*bylines: str) -> lxml.html.HtmlElement:
    return tree_of("<html><body>" + "".join(f"<span class='author'>{b}</span>" for b in bylines) + "</body></html>")


def test_author_skips_long_and_dated_bylines_for_the_next_one():
    assert _author(None, byline_page("x" * 61, "By Jane Doe")) == "Jane Doe"
    assert _author(None, byline_page("12 March 2024", "Jane Doe")) == "Jane Doe"
    assert _author(None, byline_page("y" * 60)) == "y" * 60


def test_author_looks_at_the_first_five_bylines_only():
    assert _author(None, byline_page(*["z" * 61] * 5, "Jane Doe")) is None
    assert _author(None, byline_page(*["z" * 61] * 4, "Jane Doe")) == "Jane Doe"


# --- body lines -----------------------------------------------------------------------------------------------------

def test_a_comments_heading_after_a_short_intro_does_not_cut_the_article():
    later = "A long paragraph that continues the story after the heading, " * 4
    lines, _ = _body_lines(f"Short intro.\nComments\n{later}", "Title")
    assert later.strip() in lines


@pytest.mark.parametrize("heading", ["Tags:", "الوسوم:", "Leave a reply."])
def test_trailing_chrome_with_punctuation_is_dropped(heading):
    lines, _ = _body_lines(f"{PARAGRAPH}\n{heading}", "Title")
    assert lines == [PARAGRAPH.strip()]


# --- error pages, listings ------------------------------------------------------------------------------------------

def test_an_h1_saying_not_found_makes_an_error_page():
    tree = tree_of("<html><head><title>Example News</title></head><body><h1>Page not found</h1></body></html>")
    assert _error_page(tree, "Example News", ["Sorry."]) == "the page says 'Page not found'"


def listed(*blocks: tuple[str, int]) -> str:
    return "<html><body>" + "".join(
        f"<article {attrs}><h2><a href='/a{i}'>Story {i}</a></h2><p>{'w' * size}</p></article>"
        for i, (attrs, size) in enumerate(blocks)) + "</body></html>"


def test_comment_blocks_are_not_listed_articles():
    assert listed_articles(listed(("", 300), ("", 300)), 200)[0] == 2
    for attrs in ("class='Comment-item'", "id='comments'", "class='x' id='COMMENT-1'"):
        assert listed_articles(listed(("", 300), (attrs, 300)), 200)[0] == 0, attrs


def test_a_block_twice_as_long_as_the_next_dominates():
    assert listed_articles(listed(("", 400), ("", 200)), 100)[0] == 0
    assert listed_articles(listed(("", 399), ("", 200)), 100)[0] == 2


# --- metadata -------------------------------------------------------------------------------------------------------

def test_metadata_page_url_falls_back_to_the_given_url_and_author_comes_from_meta():
    tree = tree_of("<html><head><title>A title here</title><meta name='author' content='Jane Doe'></head>"
                   "<body><p>x</p></body></html>")
    title, page_url, _date, author = _metadata(tree, "https://example.com/a", [], with_date=False)
    assert page_url == "https://example.com/a"
    assert author == "Jane Doe"


def test_find_date_reads_the_url():
    tree = tree_of("<html><body><p>no date here</p></body></html>")
    assert _find_date(tree, "https://example.com/2024/03/05/story", _DATE_PARAMS).startswith("2024-03-05")


def meta_page(attr: str, key: str, value: str) -> lxml.html.HtmlElement:
    return tree_of(f"<html><head><meta {attr}='{key}' content='{value}'></head><body></body></html>")


@pytest.mark.parametrize(("attr", "key"), [("property", "article:published_time"), ("name", "pubdate"),
                                           ("itemprop", "datePublished")])
def test_stamped_publication_from_each_meta_attribute(attr, key):
    found = _stamped_publication(meta_page(attr, key, "2024-03-05T10:00:00+03:00"), [])
    assert found == datetime(2024, 3, 5, 7, tzinfo=UTC)


def test_stamped_publication_years_1990_to_2100():
    assert _stamped_publication(meta_page("name", "pubdate", "2100-06-01T10:00:00+00:00"), []) is not None
    assert _stamped_publication(meta_page("name", "pubdate", "2101-06-01T10:00:00+00:00"), []) is None


def test_time_element_keeps_its_offset():
    tree = tree_of("<html><body><article><time datetime='2024-03-05T10:00:00+03:00'>x</time></article></body></html>")
    assert _time_element(tree) == (datetime(2024, 3, 5, 7, tzinfo=UTC), 180)


# --- publication time -----------------------------------------------------------------------------------------------

EMPTY = "<html><body><p>nothing dated</p></body></html>"
FETCHED = datetime(2024, 6, 1, 12, tzinfo=UTC)


def test_htmldate_metadata_date_is_used():
    found = _publication_time(tree_of(EMPTY), "2024-03-05T10:00:00+00:00", None, "t", "b", EMPTY, FETCHED)
    assert found == (datetime(2024, 3, 5, 10, tzinfo=UTC), "metadata", None)


def test_a_page_date_after_the_fetch_is_not_a_dateline():
    html = "<html><body><p>Events on 12 March 2025 at the hall.</p></body></html>"
    when, source, _ = _publication_time(tree_of(html), None, None, "t", "b", html, FETCHED)
    assert (when, source) == (FETCHED, "fetched")


def test_extensive_search_without_fetch_time():
    html = "<html><body><div class='date'>2024-03-05</div><p>text</p></body></html>"
    when, source, _ = _publication_time(tree_of(html), None, None, "t", "b", "<html></html>", None)
    assert (when.date(), source) == (datetime(2024, 3, 5).date(), "dateline")


def test_the_fetch_time_fallback_is_aware():
    html = "<html><body><p>nothing</p></body></html>"
    when, source, _ = _publication_time(tree_of(html), None, None, "t", "b", html, None)
    assert source == "fetched" and when.tzinfo is not None
    assert abs(when - datetime.now(UTC)) < timedelta(minutes=5)


def test_only_the_first_200000_characters_are_searched_for_a_dateline():
    date = "5 March 2024"
    head = "<html><body><p>"
    html = head + "a" * (200_000 - len(head) - len(date) + 1) + date + "</p></body></html>"
    assert html[200_000] == "4"  # the year's last digit lies just past the searched part
    when, source, _ = _publication_time(tree_of("<html><body><p>x</p></body></html>"), None, None, "t", "b", html,
                                        FETCHED)
    assert (when, source) == (FETCHED, "fetched")
    within = html.replace("a" * 10, "", 1)
    assert _publication_time(tree_of("<html><body><p>x</p></body></html>"), None, None, "t", "b", within,
                             FETCHED)[1] == "dateline"
