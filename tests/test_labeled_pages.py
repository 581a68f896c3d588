"""The labeled Arabic set (samples/labeled, built by samples/make_labeled.py): the article and only the article."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from streams.pipeline.stages.clean import CleanLimits, clean_page
from tests.conftest import ROOT

LABELED = ROOT / "samples" / "labeled"
NAMES = sorted(p.stem for p in LABELED.glob("*.html"))
FETCHED = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def cleaned():
    out = {}
    for name in NAMES:
        label = json.loads((LABELED / f"{name}.json").read_text(encoding="utf-8"))
        article = clean_page((LABELED / f"{name}.html").read_bytes(), url=label["url"], source=name,
                             fetched_at=FETCHED, limits=CleanLimits())
        out[name] = (label, article)
    return out


def test_the_set_covers_several_templates():
    templates = {json.loads((LABELED / f"{n}.json").read_text(encoding="utf-8"))["template"] for n in NAMES}
    assert len(templates) >= 4 and len(NAMES) >= 20


@pytest.mark.parametrize("name", NAMES)
def test_title_once_then_exactly_the_body(cleaned, name):
    label, article = cleaned[name]
    assert article.title == label["title"]
    assert article.text.split("\n") == [label["title"], *label["body"]]


@pytest.mark.parametrize("name", NAMES)
def test_no_chrome_survives(cleaned, name):
    label, article = cleaned[name]
    assert [c for c in label["chrome"] if c in article.text] == []
    lines = article.text.split("\n")
    assert [c for c in label["chrome_lines"] if c in lines] == []


@pytest.mark.parametrize("name", NAMES)
def test_publication_time_and_where_it_came_from(cleaned, name):
    label, article = cleaned[name]
    assert article.published_at.isoformat() == label["published_at"]
    assert article.published_source == label["published_source"] != "fetched"


@pytest.mark.parametrize("name", NAMES)
def test_author_when_the_page_names_one(cleaned, name):
    label, article = cleaned[name]
    if label["template"] != "rt":  # RT's byline is a bare name under the text, which trafilatura does not read
        assert article.author == label["author"]
    else:
        assert article.author in (label["author"], None)
