"""Limits applied by the steps: text size and mentions per article."""

from __future__ import annotations

import pytest

from schemas.records import RawPage
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.clean import CleanLimits
from streams.pipeline.steps import clean_step, entities_step
from tests.conftest import CORPUS

PAGE = (CORPUS / "01-rt-lavrov-west-signals.html").read_text("utf-8")


def test_text_over_the_limit_is_rejected_with_its_reason():
    page = RawPage(source="t", html=PAGE)
    article = clean_step(page, CleanLimits())
    with pytest.raises(Rejected) as rejected:
        clean_step(page, CleanLimits(max_text_chars=len(article.text) - 1))
    assert rejected.value.reason == "text too long"


def test_mentions_are_capped_per_article(small_dictionary):
    article = clean_step(RawPage(source="t", html=PAGE), CleanLimits())
    everything = entities_step(article, small_dictionary).mentions
    assert len(everything) > 2
    capped = entities_step(article, small_dictionary, max_mentions=2).mentions
    assert capped == everything[:2]


def test_a_dead_letter_of_a_later_stage_keeps_the_pages_url_and_source():
    """A page dropped in `stories` (e.g. `changed copy`) must be found by `what_happened_to_url`: its record nests
    the article, so the origin is read from there."""
    from streams.pipeline.steps import origin
    article = {"url": "https://x.example/a?NewsID=5", "source": "batch.jsonl:6", "text": "..."}
    assert origin({"article": article, "mentions": []}) == ("batch.jsonl:6", "https://x.example/a?NewsID=5")
    assert origin(article) == ("batch.jsonl:6", "https://x.example/a?NewsID=5")
    assert origin({"source": "f.html", "url": None}) == ("f.html", None)
    assert origin(b"not a dict") == (None, None)


def test_a_page_fetched_again_later_keeps_the_first_versions_date():
    """The same bytes fetched a week later (another fetched_at, e.g. a utm variant of the URL): an undated page's
    published_at is its fetch time, and published_at is in the mentions' sort key, so the second delivery
    added a second copy of every mention (in another week). A known article with the same text keeps the
    stored date."""
    from datetime import datetime, timezone

    from schemas.records import Article, ArticleEntities
    from streams.pipeline.stages.stories import StoryIndex
    from streams.pipeline.steps import story_step

    def delivery(fetched: datetime) -> ArticleEntities:
        article = Article(article_id="a1", source="f.jsonl:1", url="https://x.example/n?NewsID=7", canonical_url=None,
                          site="x.example", title="t", text="body", lang="ar", published_at=fetched,
                          published_source="fetched", fetched_at=fetched, charset="utf-8", fingerprint="fp1")
        return ArticleEntities(article=article, mentions=[], dictionary_version="v")

    index = StoryIndex()
    first = story_step(delivery(datetime(2026, 11, 20, 10, tzinfo=timezone.utc)), index)
    again = story_step(delivery(datetime(2026, 11, 27, 10, tzinfo=timezone.utc)), index)
    assert again.article.published_at == first.article.published_at == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    assert again.story == first.story
