"""A fast pass that keeps a small share of the page's paragraph text (a guide cut after its intro) triggers the
full pass; a fast pass that keeps the article does not."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from streams.pipeline.stages import Rejected, clean
from streams.pipeline.stages.clean import clean_page

INTRO = "This guide explains how to choose a used car without paying for problems you could have spotted first."
SECTIONS = [f"Step {i}: check the service history, the tyres and the brakes before you agree on any price at all."
            for i in range(12)]
HTML = ("<html><head><title>How to buy a used car</title></head><body><article><h1>How to buy a used car</h1>"
        f"<p>{INTRO}</p><p>{INTRO}</p>" + "".join(f"<h2>Part {i}</h2><p>{s}</p>" for i, s in enumerate(SECTIONS))
        + "</article></body></html>")


def _fast_keeps_intro_only(monkeypatch):
    real, calls = clean.trafilatura.bare_extraction, []

    def fake(tree, options):
        calls.append(options)
        if options is clean._FAST:
            return SimpleNamespace(text=f"{INTRO}\n{INTRO}")
        return real(tree, options=options)

    monkeypatch.setattr(clean.trafilatura, "bare_extraction", fake)
    return calls


def test_a_page_cut_after_its_intro_gets_the_full_pass(monkeypatch):
    calls = _fast_keeps_intro_only(monkeypatch)
    article = clean_page(HTML, url="https://example.com/guide", source="t")
    assert all(s in article.text for s in SECTIONS)
    assert calls[0] is clean._FAST and clean._FULL in calls


def test_a_fast_pass_that_keeps_the_article_is_not_repeated(monkeypatch):
    real, calls = clean.trafilatura.bare_extraction, []
    monkeypatch.setattr(clean.trafilatura, "bare_extraction",
                        lambda tree, options: calls.append(options) or real(tree, options=options))
    article = clean_page(HTML, url="https://example.com/guide", source="t")
    assert all(s in article.text for s in SECTIONS) and calls == [clean._FAST]


def test_the_walk_over_the_pages_text_nodes_is_skipped_when_the_kept_text_is_a_large_share(monkeypatch):
    def walk(tree):
        raise AssertionError("the page's text nodes were walked although the bound decides")

    monkeypatch.setattr(clean, "_own_chars", walk)
    article = clean_page(HTML, url="https://example.com/guide", source="t")
    assert all(s in article.text for s in SECTIONS)


def test_the_small_share_test_agrees_with_the_full_measure():
    from trafilatura.utils import load_html

    for html in (HTML, HTML.replace("<article>", "<nav>" + "<a href='/x'>menu item</a>" * 300 + "</nav><article>"),
                 HTML.replace("</article>", "</article><div>" + "<span>comment text here</span>" * 400 + "</div>")):
        tree = load_html(html)
        page = clean._PageText(tree)
        for kept in (0, 100, 300, 500, 800, 1200, 2000, 5000):
            assert page.small_share(kept) == (kept < clean._MIN_KEPT_SHARE * clean._visible_chars(tree)), kept


def test_no_recall_pass_when_the_full_pass_keeps_the_fast_pass_text(monkeypatch):
    """A page whose other text is comments or teasers: the full pass agrees with the fast one, recall is not run."""
    calls = []
    comments = "".join(f"<div class='c'><span>Reader {i} says this car guide was useful and well written</span></div>"
                       for i in range(80))
    html = HTML.replace("</article>", f"</article><div id='talk'>{comments}</div>")
    text = "\n".join([INTRO, *SECTIONS])

    def fake(tree, options):
        calls.append(options)
        return SimpleNamespace(text=text)

    monkeypatch.setattr(clean.trafilatura, "bare_extraction", fake)
    article = clean_page(html, url="https://example.com/guide", source="t")
    assert article.text.split("\n")[1:] == [INTRO, *SECTIONS] and calls == [clean._FAST, clean._FULL]


VENUES = [(f"Venue {i}", f"Venue {i} serves a small menu of seasonal dishes from the chef's hometown, with a wine list "
           f"and a counter for walk-ins; number {i} on this year's list. Come for the tasting menu, stay for the "
           f"desserts and the view over the river.") for i in range(14)]
GUIDE_INTRO = ("The awards are back in town, and in a big way. Below are the honorees you can book tonight, from the "
               "newly starred to the established names and a host of casual places.")


def _guide_in_a_footer_named_block(meta: str = '<meta property="article:published_time" '
                                                'content="2025-11-19T14:34:54+00:00">') -> str:
    # 4340-like (a WordPress guide): the intro in the article's div, then the list of venues, each an <article> with a
    # linked <h3>, inside <div class="page1-footer">, a class trafilatura drops as boilerplate on every pass
    venues = "".join(f'<article class="venue1"><h3><a href="https://booking.example.com/venues/{i}">{name}</a></h3>'
                     f'<p class="venue1-location">Bib Gourmand | East Village</p><div class="venue1-excerpt">'
                     f'<p>{text}</p></div></article>' for i, (name, text) in enumerate(VENUES))
    cards = "".join(f'<article class="teaser2"><h3><a href="https://booking.example.com/venues/{i}">{name}</a></h3>'
                    f'<ul><li>Bib Gourmand</li></ul><p><a href="#venue-{i}">View in list</a></p></article>'
                    for i, (name, _text) in enumerate(VENUES))
    return (f"<html><head><title>The guide to this year's winners</title>{meta}</head><body>"
            "<header><nav><a href='/'>Home</a></nav></header><section id='content'>"
            "<header class='hero1'><h1>The guide to this year's winners</h1><p>By Staff</p></header>"
            f"<div class='page1'><div class='page1-lead'><p>{GUIDE_INTRO}</p><p>{GUIDE_INTRO}</p></div>"
            f"<div class='map1'>{cards}</div>"
            f"<div class='page1-footer'><div class='venues1'>{venues}</div></div></div></section>"
            "<footer class='footer2'><p>© 2025 Example Inc.</p></footer></body></html>")


def test_a_guide_whose_list_sits_in_a_footer_named_block_is_not_cut_after_its_intro():
    article = clean_page(_guide_in_a_footer_named_block(), url="https://blog.example.com/2025/11/guide/", source="t")
    assert GUIDE_INTRO in article.text
    assert all(text in article.text for _name, text in VENUES)
    assert "© 2025" not in article.text


def test_a_tag_page_of_the_same_blocks_is_still_a_listing():
    # the venues' headings link to the site's own pages and the page states no publication of its own: a listing
    html = _guide_in_a_footer_named_block(meta="").replace("https://booking.example.com/venues/", "/2025/11/story-")
    with pytest.raises(Rejected) as info:
        clean_page(html, url="https://blog.example.com/tag/awards/", source="t")
    assert info.value.reason == "listing page"


def test_a_real_footer_is_still_left_out():
    footer = "<div class='site-footer'>" + "".join(
        f"<p>{'Our newsroom follows the editorial code of the press council and corrects errors promptly. ' * 2}{i}</p>"
        for i in range(2)) + "</div>"
    html = HTML.replace("</body>", f"{footer}</body>")
    article = clean_page(html, url="https://example.com/guide", source="t")
    assert "editorial code" not in article.text and all(s in article.text for s in SECTIONS)


def test_a_guide_read_from_a_file_is_judged_by_its_canonical_host():
    html = _guide_in_a_footer_named_block().replace(
        "<head>", '<head><link rel="canonical" href="https://blog.example.com/2025/11/guide/">')
    article = clean_page(html, url=None, source="guide.html")
    assert all(text in article.text for _name, text in VENUES)
