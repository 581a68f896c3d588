"""Pins of the headline rules at their edges: agreement thresholds, site-name matching, shared segments and the
sources read from a page (written against mutmut survivors; each test names the behaviour, not the mutant)."""

from __future__ import annotations

import lxml.html

from streams.pipeline.stages.headline import (
    PageTitles,
    _agree,
    _is_site_name,
    _strip_shared_segment,
    choose_headline,
    jsonld_objects,
    page_titles,
    strip_site_name,
)


def _page(head: str = "", body: str = "<p>x</p>") -> lxml.html.HtmlElement:
    return lxml.html.fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


# --- agreement -------------------------------------------------------------------------------------------

def test_agreement_needs_half_of_the_longer_title():
    assert _agree("alpha beta", "alpha beta gamma delta")  # 2/2 of the shorter, exactly 2/4 of the longer
    assert not _agree("alpha beta", "alpha beta gamma delta epsilon")  # 2/5 of the longer: a different title


# --- site names ----------------------------------------------------------------------------------------------

def test_a_spaced_segment_matches_the_unspaced_site_name():
    assert _is_site_name("BBC News", ["BBCNews"])


def test_a_spaced_site_name_matches_the_unspaced_segment_with_its_domain():
    assert _is_site_name("BBCNews.com", ["BBC News"])


def test_an_empty_site_name_does_not_end_the_search():
    assert _is_site_name("Gazette", ["", "  ", "Gazette"])


def test_a_short_segment_inside_the_name_is_the_site_only_from_three_characters():
    assert _is_site_name("BBC", ["BBC Arabic"])  # 3 characters: the short form of the name
    assert not _is_site_name("BB", ["BBC Arabic"])


def test_an_unrelated_segment_is_not_a_site_name():
    assert not _is_site_name("Sports", ["BBC"])
    assert not _is_site_name("Sports", [])


def test_a_long_text_without_the_affix_is_left_whole():
    text = "Minister opens the new bridge in town"
    assert strip_site_name(text, [], affixes=["XYZ"]) == text


def test_the_last_segment_is_the_one_tested_as_the_site_name():
    assert strip_site_name("Bridge opens - Sports - BBC", ["BBC"]) == "Bridge opens - Sports"


# --- a site name no source declared --------------------------------------------------------------------------

def test_an_undeclared_site_name_of_six_words_is_still_a_site_segment():
    headline = "Minister opens new bridge"
    site = "The Daily Gazette Of North Town"
    titles = PageTitles(jsonld_headline=headline, og_title=f"{site} - {headline}", title=f"{headline} | {site}")
    assert choose_headline(titles) == headline


def test_the_shared_segment_is_looked_for_at_the_last_end_not_the_middle():
    og, title = "Minister opens bridge - Section - Gazette", "Gazette | Minister opens bridge"
    # "Gazette" ends og:title and starts the <title>: it goes, the section between stays
    assert _strip_shared_segment(og, [og, title]) == "Minister opens bridge - Section"


# --- reading the page ----------------------------------------------------------------------------------------

def test_a_broken_json_ld_script_does_not_hide_the_next_one():
    tree = _page('<script type="application/ld+json">{broken</script>'
                 '<script type="application/ld+json">{"headline": "Bridge opens"}</script>')
    assert jsonld_objects(tree) == [{"headline": "Bridge opens"}]


def test_a_json_ld_list_is_flattened():
    tree = _page('<script type="application/ld+json">[{"headline": "A"}, [{"headline": "B"}]]</script>')
    assert jsonld_objects(tree) == [{"headline": "A"}, {"headline": "B"}]


def test_application_name_meta_names_the_site():
    titles = page_titles(_page('<meta name="application-name" content="Gazette">'), None)
    assert titles.site_names == ("Gazette",)
    assert choose_headline(page_titles(
        _page('<meta name="application-name" content="Gazette"><title>Bridge opens - Gazette</title>'), None)
    ) == "Bridge opens"


def test_the_registrable_host_label_names_the_site():
    assert page_titles(_page(), "https://news.example.com/a").site_names == ("example",)
    assert page_titles(_page(), "https://arabic.news.com/a").site_names == ("arabic",)  # "news" is no name
    assert page_titles(_page(), "https://www.bbc.co.uk/a").site_names == ("bbc",)  # three letters are enough


def test_og_title_first_then_twitter_title():
    both = '<meta property="og:title" content="From og"><meta name="twitter:title" content="From twitter">'
    assert page_titles(_page(both), None).og_title == "From og"
    assert page_titles(_page('<meta name="twitter:title" content="From twitter">'), None).og_title == "From twitter"


def test_h1_and_title_are_read_and_a_missing_title_is_empty():
    titles = page_titles(_page(body="<h1>  Bridge\n opens </h1><div><h1>Second</h1></div>"), None)
    assert titles.h1 == ("Bridge opens", "Second")
    assert titles.title == ""
