"""Issue 14, 'deterministic records': nothing in a sort or dedup key may change when the same page comes back.
An undated page's published_at is its fetch time; the same bytes fetched again later (a re-fetch, a re-ingest)
keep the stored date however old the article is, not only inside the stories window."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schemas.records import Article, Mention, RawRef, StoryArticle, StoryAssignment
from streams.pipeline.stages.stories import StoryIndex
from streams.pipeline.steps import story_step
from streams.warehouse.client import Warehouse
from streams.warehouse.rows import batch_rows, write_rows

FIRST = datetime(2026, 9, 1, 10, tzinfo=timezone.utc)


@pytest.fixture
def warehouse(tmp_path):
    w = Warehouse(f"chdb://{tmp_path / 'chdb'}")
    w.migrate()
    yield w
    w.close()


def delivery(fetched: datetime, offset: int, text: str = "لافروف قال اليوم " * 4) -> StoryArticle:
    article = Article(article_id="a-undated", source=f"f.jsonl:{offset}", url="https://x.example/n?NewsID=7",
                      canonical_url="https://x.example/n?NewsID=7", site="x.example", title="t", text=text, lang="ar",
                      published_at=fetched, published_source="fetched", fetched_at=fetched, charset="utf-8",
                      fingerprint=f"fp-{len(text)}", raw=RawRef(topic="raw", partition=0, offset=offset,
                                                               page_id=f"page-{len(text)}"))
    mentions = [Mention(actor_id="sergey-lavrov", name="Lavrov", type="person", surface="لافروف", start=0, end=6)]
    return StoryArticle(article=article, mentions=mentions, dictionary_version="v1",
                        story=StoryAssignment(story_id="a-undated", duplicate_of=None))


def test_a_page_fetched_again_past_the_story_window_keeps_its_stored_date(warehouse):
    later = FIRST + timedelta(days=45)  # the stories index forgot the article 15 days ago
    index = StoryIndex(window=timedelta(days=30), clock=lambda: later)
    again = delivery(later, offset=9)
    assert story_step(again, index).article.published_at == later, "past the window the stage cannot know"
    write_rows(warehouse, batch_rows([delivery(FIRST, offset=1)]))
    write_rows(warehouse, batch_rows([again]))
    _, mentions = warehouse.query("SELECT published_at FROM mentions FINAL WHERE article_id = 'a-undated'")
    assert len(mentions) == 1, "the mention is stored once, not once per fetch"
    _, article = warehouse.query("SELECT published_at FROM articles FINAL WHERE article_id = 'a-undated'")
    assert article[0][0].replace(tzinfo=timezone.utc) == FIRST
    for table in ("entities", "stories"):
        _, rows = warehouse.query(f"SELECT DISTINCT published_at FROM {table} FINAL WHERE article_id = 'a-undated'")
        assert [r[0].replace(tzinfo=timezone.utc) for r in rows] in ([], [FIRST]), table


def test_another_text_under_the_same_url_is_not_given_the_old_date(warehouse):
    write_rows(warehouse, batch_rows([delivery(FIRST, offset=1)]))
    changed = delivery(FIRST + timedelta(days=45), offset=2, text="نص آخر تماما عن لافروف " * 4)
    rows = batch_rows([changed])
    write_rows(warehouse, rows)
    assert rows["articles"][0]["published_at"] == FIRST + timedelta(days=45)


def test_what_happened_to_url_finds_a_page_by_every_url_it_came_under(warehouse):
    """The same bytes delivered as a utm variant and then as the plain URL are one page (one id, one outcome); the
    ledger row holds the newest delivery's URL, and the page must still be found by the first one."""
    from streams.warehouse.cookbook import queries

    tagged = "https://x.example/n?NewsID=7&utm_source=fb"
    first = delivery(FIRST, offset=1)
    first = first.model_copy(update={"article": first.article.model_copy(update={"url": tagged})})
    write_rows(warehouse, batch_rows([first]))
    write_rows(warehouse, batch_rows([delivery(FIRST, offset=2)]))  # same page id, the plain URL
    _, ledger = warehouse.query("SELECT page_id, url FROM ledger FINAL")
    assert ledger == [("page-" + str(len(first.article.text)), "https://x.example/n?NewsID=7")]
    sql = queries()["what_happened_to_url"].sql
    for url in (tagged, "https://x.example/n?NewsID=7", "%utm_source=fb%"):
        _, found = warehouse.query(sql, parameters={"url": url})
        assert len(found) == 1 and found[0][1] == "article", url
    _, none = warehouse.query(sql, parameters={"url": "https://x.example/n?NewsID=8"})
    assert none == []
