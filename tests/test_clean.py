"""The clean stage on the bundled corpus: the article and only the article."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import orjson
import pytest

from streams.inputs.paths import iter_documents
from streams.pipeline.offline import raw_page
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.clean import CleanLimits, canonicalize_url, clean_page
from streams.pipeline.stages.entities import extract_mentions
from streams.pipeline.steps import clean_step
from tests.conftest import CORPUS, ROOT

EXPECTED = json.loads((ROOT / "samples" / "expected.json").read_text(encoding="utf-8"))

LIMITS = CleanLimits()
CHROME = EXPECTED["chrome"] + ["التعليقات", "الأكثر قراءة", "جميع الحقوق محفوظة", "اقرأ أيضا", "فيسبوك",
                                        "58 خبر", "ترامب ونتنياهو وراء كل هذا", "Most read"]


LISTINGS = {"07-tag-archive-lavrov.html"}


@pytest.fixture(scope="module")
def articles():
    return {doc.source.rsplit("/", 1)[-1]: clean_step(raw_page(doc), LIMITS)
            for doc in iter_documents([CORPUS], max_bytes=LIMITS.max_page_bytes)
            if doc.source.rsplit("/", 1)[-1] not in LISTINGS}


def test_tag_archive_is_rejected_as_a_listing_and_articles_are_not(articles):
    [doc] = [d for d in iter_documents([CORPUS], max_bytes=LIMITS.max_page_bytes) if d.source.endswith("07-tag-archive-lavrov.html")]
    with pytest.raises(Rejected) as info:
        clean_step(raw_page(doc), LIMITS)
    assert info.value.reason == "listing page"
    assert len(articles) == len(list(CORPUS.iterdir())) - len(LISTINGS)


def test_no_chrome_string_survives(articles):
    for name, article in articles.items():
        for chrome in CHROME:
            assert chrome not in article.text, (name, chrome)


@pytest.mark.parametrize("name", sorted(EXPECTED["articles"]))
def test_title_once_and_every_body_paragraph_in_order(articles, name):
    article, title, body = articles[name], EXPECTED["articles"][name]["title"], EXPECTED["articles"][name]["body"]
    lines = article.text.split("\n")
    assert article.title == title
    assert lines[0] == article.title and lines.count(article.title) == 1
    positions = [lines.index(p) for p in body]
    assert positions == sorted(positions)


@pytest.mark.parametrize("name, date, source", [
    ("01-rt-lavrov-west-signals.html", "2016-11-24T12:32:00+00:00", "metadata"),  # 15:32+03:00
    ("02-alwatan-lavrov-west-signals.html", "2016-11-24T15:32:00+00:00", "dateline"),  # outranks the URL path day
    ("03-sawt-lavrov-west-signals.html", "2016-11-24T00:00:00+00:00", "dateline"),  # Levantine month only
    ("04-rt-de-mistura-friends.html", "2016-10-17T12:10:00+00:00", "dateline"),
    ("06-rt-lavrov-collapse-cp1256.html", "2016-10-03T00:00:00+00:00", "dateline"),
    ("08-worldwire-lavrov-kerry-en.html", "2016-09-09T18:05:00+00:00", "metadata"),
])
def test_publication_time_never_the_crawl_time(articles, name, date, source):
    assert (articles[name].published_at.isoformat(), articles[name].published_source) == (date, source)


def test_metadata_language_site_charset_and_canonical_url(articles):
    rt = articles["01-rt-lavrov-west-signals.html"]
    assert (rt.lang, rt.site, rt.canonical_url) == ("ar", "arabic.rt.com", "https://arabic.rt.com/news/852123-lavrov-west-signals/")
    tracked = articles["02-alwatan-lavrov-west-signals.html"]
    assert "utm_" not in tracked.canonical_url and tracked.site == "alwatan-news.example"
    legacy = articles["06-rt-lavrov-collapse-cp1256.html"]
    assert legacy.charset == "cp1256 (meta)" and "سيرغي لافروف" in legacy.text
    assert articles["08-worldwire-lavrov-kerry-en.html"].lang == "en"


def test_chrome_actors_never_become_mentions(articles, dictionary):
    chrome_only = {"donald-trump", "benjamin-netanyahu", "ali-khamenei", "volodymyr-zelensky", "recep-tayyip-erdogan"}
    for name, article in articles.items():
        found = {m.actor_id for m in extract_mentions(article.text, dictionary)}
        assert not found & chrome_only, name
        assert "sergey-lavrov" in found or "staffan-de-mistura" in found, name


def test_wire_copies_share_a_fingerprint(articles):
    assert articles["01-rt-lavrov-west-signals.html"].fingerprint == articles["02-alwatan-lavrov-west-signals.html"].fingerprint


def test_tracking_parameters_do_not_change_the_canonical_url():
    assert canonicalize_url("https://www.Example.org/a?utm_source=x&id=3#top") == canonicalize_url("https://www.example.org/a?id=3")


@pytest.mark.parametrize("page, reason", [
    (b"", "empty"), (b"   \n", "empty"), (b"\x1f\x8b\x08\x00abc", "binary"), ("plain text, no markup", "not html"),
    (b"<html><head><title>t</title></head></html>", "no article text"), (b"<p>" + b"x" * 100, "no article text"),
])
def test_rejections_carry_a_reason(page, reason):
    with pytest.raises(Rejected) as info:
        clean_page(page, url=None, source="t", limits=LIMITS)
    assert info.value.reason == reason


def test_oversized_is_a_setting():
    page = b"<html><body><p>" + "كلمة ".encode() * 100 + b"</p></body></html>"
    with pytest.raises(Rejected) as info:
        clean_page(page, url=None, source="t", limits=CleanLimits(max_page_bytes=100))
    assert info.value.reason == "oversized"


def test_a_url_path_date_ranks_below_the_page_and_above_the_crawl_time():
    body = "".join(f"<p>{'قال سيرغي لافروف إن المحادثات كانت مفيدة ' * 3}{i}</p>" for i in range(3))
    page = f"<html><body><article><h1>عنوان</h1>{body}</article></body></html>"
    url = "https://news.example/2016/11/24/lavrov/"
    fetched = datetime(2026, 1, 1, tzinfo=timezone.utc)
    by_url = clean_page(page, url=url, source="t", fetched_at=fetched, limits=LIMITS)
    assert (by_url.published_at.isoformat(), by_url.published_source) == ("2016-11-24T00:00:00+00:00", "url")
    timed = page.replace("<h1>عنوان</h1>", '<h1>عنوان</h1><time datetime="2016-11-24T15:32:00+03:00">الخميس</time>')
    by_time = clean_page(timed, url=url, source="t", fetched_at=fetched, limits=LIMITS)
    assert (by_time.published_at.isoformat(), by_time.published_source) == ("2016-11-24T12:32:00+00:00", "metadata")
    undated = clean_page(page, url="https://news.example/lavrov", source="t", fetched_at=fetched, limits=LIMITS)
    assert (undated.published_at, undated.published_source) == (fetched, "fetched")


def test_limits_truncated_gzip_and_deep_nesting_end_with_clear_outcomes():
    import gzip

    good = (CORPUS / "01-rt-lavrov-west-signals.html").read_bytes()
    kept = clean_page(good[: len(good) * 2 // 3], url=None, source="t", limits=LIMITS)
    assert kept.text.split("\n")[1] == EXPECTED["articles"]["01-rt-lavrov-west-signals.html"]["body"][0]
    with pytest.raises(Rejected) as info:
        clean_page(good[: len(good) // 3], url=None, source="t", limits=LIMITS)
    assert info.value.reason == "no article text" and "truncated" in info.value.detail
    assert clean_page(gzip.compress(good), url=None, source="t", limits=LIMITS).title == kept.title
    with pytest.raises(Rejected) as info:
        clean_page(gzip.compress(b"<p>" * 3_000_000), url=None, source="t", limits=CleanLimits(max_page_bytes=1_000_000))
    assert info.value.reason == "oversized"
    nested = b"<html><body>" + b"<div>" * 5000 + "سيرغي لافروف قال ".encode() * 50 + b"</div>" * 5000 + b"</body></html>"
    with pytest.raises(Rejected) as info:
        clean_page(nested, url=None, source="t", limits=LIMITS)
    assert info.value.reason == "too deep"


@pytest.mark.parametrize("line, credit", [
    ("ستيفان دي ميستورا / Omar Sanadiki / Reuters", True), ("خلال المحادثات في الكرملين / Sputnik", True),
    ("المصدر: وكالات", True), ('المصدر: "نوفوستي"', True), ("Photo: AFP", True),
    ("2a etapa: 8 de abril – Curitiba / Alternativa", False),
    ("وقال لافروف إن المحادثات كانت مفيدة وإن موسكو / Moscow مستعدة", False),
])
def test_credit_lines(line, credit):
    from streams.pipeline.stages.clean import _is_credit
    assert _is_credit(line) is credit


def test_a_page_of_links_only_is_a_navigation_page():
    from tests.conftest import BAD

    with pytest.raises(Rejected) as info:
        clean_page((BAD / "navigation-only.html").read_bytes(), url=None, source="t", limits=LIMITS)
    assert info.value.reason == "navigation page"


def test_a_page_dateline_is_read_from_visible_text_across_tags_and_never_from_scripts():
    body = "".join(f"<p>{'قال سيرغي لافروف إن المحادثات كانت مفيدة ' * 3}{i}</p>" for i in range(3))
    fetched = datetime(2026, 1, 1, tzinfo=timezone.utc)
    script = '<script>var build = "1 يناير 2020";</script>'
    page = (f"<html><head>{script}</head><body><div class='meta'><span>24</span> <b>نوفمبر</b> 2016</div>"
            f"<article><h1>عنوان</h1>{body}</article></body></html>")
    dated = clean_page(page, url="https://news.example/lavrov", source="t", fetched_at=fetched, limits=LIMITS)
    assert (dated.published_at.isoformat(), dated.published_source) == ("2016-11-24T00:00:00+00:00", "dateline")
    only_script = page.replace("<span>24</span> <b>نوفمبر</b> 2016", "")
    undated = clean_page(only_script, url="https://news.example/lavrov", source="t", fetched_at=fetched, limits=LIMITS)
    assert undated.published_source == "fetched"


def test_a_json_file_with_markup_inside_is_not_an_article():
    """A folder's manifest.json (pages' ground truth, HTML snippets in strings) came out as an article titled '['."""
    body = " ".join(["الرئيس الروسي فلاديمير بوتين يستقبل وزير الخارجية في موسكو"] * 20)
    manifest = orjson.dumps([{"file": "001.html", "title": "<h1>عنوان</h1>", "first": f"<p>{body}</p>"}])
    for page in (manifest, manifest.decode(), b"\n  " + manifest):
        with pytest.raises(Rejected) as info:
            clean_page(page, url=None, source="manifest.json", limits=LIMITS)
        assert (info.value.reason, info.value.detail) == ("not html", "a JSON document")
    # A page that merely starts with a brace is still a page.
    page = "{<html><body><article><h1>T</h1><p>" + body + "</p><p>" + body + "</p></article></body></html>"
    assert clean_page(page, url=None, source="t", limits=LIMITS).text
