"""Identity that cannot collide: canonical URLs keep identity-carrying parameters, pages get stable ids,
and the same raw page processed twice gives the same rows."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from schemas.records import RawPage, RawRef
from streams.pipeline.dictionary import ActorDictionary
from streams.pipeline.identity import canonicalize_url, page_id_for
from streams.inputs.paths import RawDocument
from streams.pipeline.offline import raw_page
from streams.warehouse.rows import batch_rows
from streams.pipeline.stages.clean import CleanLimits, article_id_for, clean_page
from streams.pipeline.stages.stories import StoryIndex
from streams.pipeline.steps import clean_step, entities_step, story_step
from tests.synthetic import synthetic_pages


@pytest.mark.parametrize("param", ["NewsID", "nid", "ArticleID", "newsId", "id", "p"])
def test_identity_carrying_parameters_keep_articles_apart(param):
    urls = [f"http://www.Example.com/details.aspx?{param}={n}" for n in (555, 556, 557)]
    canonical = [canonicalize_url(u) for u in urls]
    assert len(set(canonical)) == 3
    assert len({article_id_for(c, "same text") for c in canonical}) == 3


def test_tracking_parameters_and_fragments_collapse():
    base = canonicalize_url("https://example.com/news/a.aspx?NewsID=555")
    for variant in ["https://EXAMPLE.com:443/news/a.aspx?NewsID=555#comments",
                    "https://example.com/news/a.aspx?utm_source=tw&NewsID=555&utm_medium=social",
                    "https://example.com/news/a.aspx?fbclid=IwAR0abc&NewsID=555",
                    "https://example.com/news/a.aspx?NewsID=555&gclid=x&mc_cid=1&_ga=2.1"]:
        assert canonicalize_url(variant) == base, variant
    assert base == "https://example.com/news/a.aspx?NewsID=555"


def test_other_parameters_are_kept_and_sorted():
    assert canonicalize_url("http://x.org/a?b=2&a=1&a=0&utm_campaign=z") == "http://x.org/a?a=0&a=1&b=2"
    assert canonicalize_url("http://x.org/%D8%B3%D9%88%D8%B1%D9%8A%D8%A7") == canonicalize_url("http://x.org/سوريا")
    assert canonicalize_url("not a url") == "not a url"
    assert canonicalize_url(None) is None


def test_the_feeder_and_the_raw_key_use_the_same_canonical_url():
    from streams.inputs.feeder import backfill, run
    from streams.pipeline.stages import clean

    assert run.canonicalize_url is backfill.canonicalize_url is clean.canonicalize_url is canonicalize_url


def test_page_ids_are_stable_and_change_with_the_page():
    a = page_id_for("https://x.org/a?id=1&utm_source=t", "feed", b"<html>one</html>")
    assert a == page_id_for("https://x.org/a?id=1", "other source", b"<html>one</html>")
    assert a != page_id_for("https://x.org/a?id=2", "feed", b"<html>one</html>")
    assert a != page_id_for("https://x.org/a?id=1", "feed", b"<html>two</html>")
    assert page_id_for(None, "a.html", "x") != page_id_for(None, "b.html", "x")


def test_a_page_entering_gets_its_id_and_fetch_time_once():
    entered = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
    doc = RawDocument("pages.jsonl:1", "https://x.org/a", "<html>x</html>", None)
    page = raw_page(doc, entered_at=entered)
    assert page.fetched_at == entered and page.page_id == page_id_for(doc.url, doc.source, doc.body)
    fetched = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert raw_page(RawDocument("s", None, b"x", fetched), entered_at=entered).fetched_at == fetched


UNDATED = ("<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
           + "<p>" + "قال وزير الخارجية الروسي سيرغي لافروف إن المحادثات مستمرة بين الأطراف. " * 6 + "</p>"
           + "</article></body></html>")


def run_once(page: RawPage, ref: RawRef, dictionary: ActorDictionary) -> dict:
    item = story_step(entities_step(clean_step(page, CleanLimits(), ref), dictionary), StoryIndex())
    return batch_rows([item])


def test_the_same_raw_page_processed_twice_gives_identical_article_and_mention_rows():
    """An undated page falls back to the fetch time recorded at ingest, never the processing time: the mentions
    sort key (published_at) is the same on re-delivery. Only processed_at (the version column) may differ."""
    dictionary = ActorDictionary.load()
    doc = RawDocument("a.jsonl:1", "https://example.org/news?id=7", UNDATED.format(t="لافروف يتحدث"), None)
    page = raw_page(doc, entered_at=datetime(2026, 3, 2, 8, tzinfo=timezone.utc))
    ref = RawRef(topic="newsstream.raw-html", partition=1, offset=3, page_id=page.page_id)
    first, second = run_once(page, ref, dictionary), run_once(page, ref, dictionary)
    assert first["articles"][0]["published_source"] == "fetched"
    assert first["articles"][0]["published_at"] == datetime(2026, 3, 2, 8, tzinfo=timezone.utc)
    assert first["mentions"], "the page names an actor"
    for table in ("articles", "mentions", "stories", "ledger"):
        strip = [[{k: v for k, v in row.items() if k != "processed_at"} for row in run[table]] for run in (first, second)]
        assert repr(strip[0]) == repr(strip[1]), table
    assert first["ledger"][0]["page_id"] == page.page_id


def test_a_page_without_a_fetch_time_falls_back_to_its_raw_message_time_not_now():
    dictionary = ActorDictionary.load()
    page = RawPage(source="third-party", url="https://example.org/x?id=1", html=UNDATED.format(t="لافروف"))
    stamp = datetime(2024, 6, 1, 12, tzinfo=timezone.utc)
    rows = run_once(page, RawRef(topic="t", partition=0, offset=0, timestamp=stamp), dictionary)
    assert rows["articles"][0]["published_at"] == stamp


def test_synthetic_pages_keep_their_ids_across_runs():
    pages = synthetic_pages(5)
    ids = [page_id_for(p["url"], "x", p["html"]) for p in pages]
    assert ids == [page_id_for(p["url"], "x", p["html"]) for p in synthetic_pages(5)] and len(set(ids)) == 5
