"""A fast pass that keeps a small share of the page's paragraph text (a guide cut after its intro) triggers the
full pass; a fast pass that keeps the article does not."""

from __future__ import annotations

from types import SimpleNamespace

from streams.pipeline.stages import clean
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
