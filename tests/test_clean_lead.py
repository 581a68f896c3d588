"""A lead paragraph in its own block between the headline and the text is part of the article; a dek, a caption, a
promo outside the article's container are not."""

from __future__ import annotations

import pytest

from trafilatura.utils import load_html

from streams.pipeline.stages import clean
from streams.pipeline.stages.clean import clean_page
from tests.test_chrome import PARAS

HEADLINE = "محادثات جنيف تستأنف الأسبوع المقبل"
LEAD = ("أعلنت وزارة الخارجية اليوم الأحد أن جولة جديدة من المحادثات بين الأطراف ستعقد في جنيف الأسبوع المقبل "
        "بحضور ممثلين عن الأمم المتحدة.")
BODY = "".join(f"<p>{p}</p>" for p in PARAS)


def _clean(inner: str):
    html = (f"<html><head><title>{HEADLINE}</title></head><body><nav><a href='/'>الرئيسية</a></nav>{inner}"
            "<footer>حقوق النشر محفوظة</footer></body></html>")
    return clean_page(html, url="https://news.example/a/1", source="t")


@pytest.mark.parametrize("lead_block", [
    f"<div class='lead'><p>{LEAD}</p></div>",
    f"<div class='news-brief'><b>{LEAD}</b></div>",
    f"<div class='subject'>{LEAD}</div>",
])
def test_a_lead_in_its_own_block_before_the_text_opens_the_body(lead_block):
    article = _clean(f"<div class='news'><h1>{HEADLINE}</h1>{lead_block}<div class='news-text'>{BODY}</div></div>")
    assert article.text.split("\n")[1:] == [LEAD, *PARAS]


def _lead_of(inner: str) -> str | None:
    """What the lead rule adds before the body's paragraphs (the extraction's own choice aside)."""
    tree = load_html(f"<html><head><title>{HEADLINE}</title></head><body>{inner}</body></html>")
    return clean._lead_paragraph(tree, PARAS, HEADLINE)


def test_the_rule_finds_the_lead_block():
    assert _lead_of(f"<div class='news'><h1>{HEADLINE}</h1><div class='lead'><p>{LEAD}</p></div>"
                    f"<div class='news-text'>{BODY}</div></div>") == LEAD


@pytest.mark.parametrize("block", [
    f"<div class='standfirst'><p>{LEAD}</p></div>",  # a dek: the public set's truth leaves it out
    f"<figure><img src='a.jpg'><figcaption>{LEAD}</figcaption></figure>",
    f"<div class='lead'><p>{LEAD[:-1]}</p></div>",  # not a sentence: a subtitle
    f"<div class='lead'><p><a href='/x'>{LEAD}</a></p></div>",  # a link: a teaser
])
def test_deks_captions_subtitles_and_teasers_are_not_leads(block):
    assert _lead_of(f"<div class='news'><h1>{HEADLINE}</h1>{block}<div class='news-text'>{BODY}</div></div>") is None


def test_a_block_outside_the_container_of_headline_and_text_is_not_a_lead():
    assert _lead_of(f"<div class='top'><h1>{HEADLINE}</h1></div><div class='promo'><div class='in'><p>{LEAD}</p>"
                    f"</div></div><div class='page'><div class='news-text'>{BODY}</div></div>") is None


def test_a_block_before_the_headline_is_not_a_lead():
    assert _lead_of(f"<div class='news'><div class='x'><p>{LEAD}</p></div><h1>{HEADLINE}</h1>"
                    f"<div class='news-text'>{BODY}</div></div>") is None


def test_a_lead_the_extraction_kept_is_not_added_twice():
    article = _clean(f"<article><h1>{HEADLINE}</h1><p>{LEAD}</p>{BODY}</article>")
    assert article.text.split("\n")[1:] == [LEAD, *PARAS]
