"""Real Arabic news pages nobody here designed (../shared/realpages, read from there, never copied): the visible
headline exactly, the first and last body sentence kept, no chrome string in the text, the date the page states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.pipeline.stages.clean import clean_page

REALPAGES = Path(__file__).resolve().parents[2] / "shared" / "realpages"
MANIFEST = json.loads((REALPAGES / "manifest.json").read_text(encoding="utf-8")) if (REALPAGES / "manifest.json").is_file() else []
pytestmark = pytest.mark.skipif(not MANIFEST, reason=f"the shared real pages are not on this machine ({REALPAGES})")


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def cleaned():
    return {e["file"]: clean_page((REALPAGES / e["file"]).read_bytes(), url=e["url"], source=e["file"]) for e in MANIFEST}


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_headline_exact(cleaned, entry):
    assert cleaned[entry["file"]].title == entry["title"]


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_first_and_last_sentence_kept(cleaned, entry):
    body = _squash(cleaned[entry["file"]].text.split("\n", 1)[1])
    assert _squash(entry["body_first"]) in body and body.endswith(_squash(entry["body_last"]))


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_no_chrome_string_in_the_text(cleaned, entry):
    text = cleaned[entry["file"]].text
    flat, lines = _squash(text), {_squash(line) for line in text.split("\n")}
    leaks = [c for c in map(_squash, entry["chrome_samples"] + entry["in_body_chrome"])
             if ((c in lines) if len(c.split()) <= 2 else (c in flat))]  # a one-word label counts as a line
    assert leaks == []


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_the_date_the_page_states(cleaned, entry):
    article = cleaned[entry["file"]]
    assert article.published_local().date().isoformat() == entry["published"]
    assert article.published_source != "fetched"
