"""Headline by agreement among <h1>, og:title, <title> and JSON-LD, without the site's name."""

from __future__ import annotations

import lxml.html
import pytest

from streams.pipeline.stages.headline import PageTitles, choose_headline, page_titles, strip_site_name

HEADLINE = "وزير الري يشهد توقيع عقد دراسة السحب الآمن للخزانات الجوفية"


@pytest.mark.parametrize("title", [
    f"{HEADLINE} - اليوم السابع",
    f"اليوم السابع - {HEADLINE}",
    f"{HEADLINE} | اليوم السابع",
    f"{HEADLINE} – اليوم السابع",
])
def test_site_name_removed_from_either_end_with_its_separator(title):
    assert strip_site_name(title, ["اليوم السابع"]) == HEADLINE
    assert choose_headline(PageTitles(title=title, og_title=title, site_names=("اليوم السابع",))) == HEADLINE


def test_host_label_names_the_site():
    html = f"<html><head><title>{HEADLINE} - CNNArabic.com</title></head><body><p>x</p></body></html>"
    assert choose_headline(page_titles(lxml.html.fromstring(html), "https://arabic.cnn.com/a/b")) == HEADLINE


def test_a_headline_segment_naming_the_site_is_kept():
    assert strip_site_name("Trump: BBC interview was edited", ["bbc"]) == "Trump: BBC interview was edited"


def test_undeclared_site_name_shared_at_opposite_ends_is_removed():
    titles = PageTitles(og_title=f"المدينة نيوز - {HEADLINE}", title=f"{HEADLINE} - المدينة نيوز")
    assert choose_headline(titles) == HEADLINE


def test_the_visible_h1_wins_over_og_title_wording():
    og = "سامي الخطيب: زملاء المهندس السوري يروون قصة إنقاذه عائلات الحي من تحت الأنقاض - BBC News عربي"
    h1 = "زملاء المهندس السوري سامي الخطيب يروون قصة إنقاذه عائلات الحي من تحت الأنقاض"
    titles = PageTitles(h1=("BBC News عربي", h1), og_title=og, title=og, site_names=("BBC News عربي",))
    assert choose_headline(titles) == h1


def test_a_logo_or_section_h1_is_not_the_headline():
    titles = PageTitles(h1=("اليوم السابع", "أخبار مصر"), og_title=f"{HEADLINE} - اليوم السابع",
                        site_names=("اليوم السابع",))
    assert choose_headline(titles) == HEADLINE


def test_jsonld_headline_and_publisher_are_read():
    html = ('<html><head><title>' + HEADLINE + ' :: Gazette</title><script type="application/ld+json">'
            '{"@graph": [{"@type": "NewsArticle", "headline": "' + HEADLINE + '", "publisher": {"name": "Gazette"}}]}'
            '</script></head><body><h1>Gazette</h1></body></html>')
    titles = page_titles(lxml.html.fromstring(html), None)
    assert titles.jsonld_headline == HEADLINE and "Gazette" in titles.site_names
    assert choose_headline(titles) == HEADLINE


def test_learned_affix_is_removed():
    assert strip_site_name(f"{HEADLINE} ‹ Portal", [], affixes=[" ‹ Portal"]) == HEADLINE
