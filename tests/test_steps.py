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
