"""Limits applied by the steps: text size and mentions per article."""

from __future__ import annotations

import pytest

from schemas.records import RawPage
from streams.stages import Rejected
from streams.stages.clean import CleanLimits
from streams.steps import clean_step, entities_step
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
    from streams.steps import origin
    article = {"url": "https://x.example/a?NewsID=5", "source": "batch.jsonl:6", "text": "..."}
    assert origin({"article": article, "mentions": []}) == ("batch.jsonl:6", "https://x.example/a?NewsID=5")
    assert origin(article) == ("batch.jsonl:6", "https://x.example/a?NewsID=5")
    assert origin({"source": "f.html", "url": None}) == ("f.html", None)
    assert origin(b"not a dict") == (None, None)
