"""Fast pins for the warehouse rows built from final records (streams/warehouse/rows.py), without a warehouse.

Each row is compared whole: a renamed column, a value taken from the wrong field or a lost default shows here in
milliseconds (test_warehouse checks the same rows against the real DDL on chDB, in seconds).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from schemas.records import Article, DeadLetter, Entity, Mention, RawRef, StoryArticle, StoryAssignment
from streams.ops import reprocess
from streams.pipeline.identity import offset_page_id
from streams.warehouse.rows import REPLACED, batch_rows, dead_letter_rows, page_id, story_rows, write_rows

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PUBLISHED = datetime(2024, 4, 30, 8, 0, tzinfo=UTC)
FETCHED = datetime(2024, 4, 30, 9, 0, tzinfo=UTC)
ENTERED = datetime(2024, 4, 30, 9, 1, tzinfo=UTC)
TEXT = "Title line\n" + "x" * 70 + "Sergei Lavrov met\nAntonio Guterres" + "y" * 70


def raw(page: str | None = "page-1", replace: bool = False) -> RawRef:
    return RawRef(topic="newsstream.raw-html", partition=2, offset=17, timestamp=ENTERED, page_id=page,
                  replace=replace)


def article(ref: RawRef | None, site: str | None = "news.test", lang: str | None = "en") -> Article:
    return Article(article_id="art-1", source="feed-a", url="https://news.test/a", canonical_url="https://news.test/a",
                   site=site, title="Title line", text=TEXT, lang=lang, author="A. Writer", published_at=PUBLISHED,
                   published_source="dateline", published_utc_offset=180, fetched_at=FETCHED, charset="utf-8",
                   fingerprint="fp", raw=ref)


LAVROV = Mention(actor_id="sergei-lavrov", name="Sergei Lavrov", type="person", surface="Sergei Lavrov",
                 start=81, end=94)
GUTERRES = Mention(actor_id="cand-guterres", name="Antonio Guterres", type="person", surface="Antonio Guterres",
                   start=99, end=115)


def item(ref: RawRef | None = None, **article_kwargs) -> StoryArticle:
    return StoryArticle(
        article=article(ref if ref is not None else raw(), **article_kwargs), mentions=[LAVROV],
        dictionary_version="dict-7", minhash=[1, 2, 3], story=StoryAssignment(story_id="story-9", duplicate_of="art-0"),
        candidates=[GUTERRES],
        entities=[Entity(type="person", surface="Lavrov", start=88, end=94, key="lavrov", actor_id="sergei-lavrov")],
        model_version="ner-3")


def test_an_article_becomes_exactly_these_rows():
    rows = story_rows(item(), AT)
    assert set(rows) == {"articles", "mentions", "candidate_mentions", "entities", "ledger", "stories"}
    assert rows["articles"] == [{
        "article_id": "art-1", "story_id": "story-9", "duplicate_of": "art-0", "url": "https://news.test/a",
        "canonical_url": "https://news.test/a", "site": "news.test", "title": "Title line", "text": TEXT, "lang": "en",
        "author": "A. Writer", "published_at": PUBLISHED, "published_source": "dateline", "published_utc_offset": 180,
        "fetched_at": FETCHED, "charset": "utf-8", "fingerprint": "fp", "source": "feed-a", "mention_count": 1,
        "dictionary_version": "dict-7", "raw_topic": "newsstream.raw-html", "raw_partition": 2, "raw_offset": 17,
        "page_id": "page-1", "processed_at": AT, "minhash": [1, 2, 3], "minhash_scheme": "sha1-affine32-w3-126",
    }]  # a record without a scheme is from before schemes: the old one
    with_scheme = item().model_copy(update={"minhash_scheme": "oph1-w3-126"})
    assert story_rows(with_scheme, AT)["articles"][0]["minhash_scheme"] == "oph1-w3-126"
    assert rows["mentions"] == [{
        "actor_id": "sergei-lavrov", "actor_name": "Sergei Lavrov", "actor_type": "person", "article_id": "art-1",
        "story_id": "story-9", "site": "news.test", "published_at": PUBLISHED, "surface": "Sergei Lavrov",
        "char_start": 81, "char_end": 94, "dictionary_version": "dict-7", "processed_at": AT,
    }]
    assert rows["candidate_mentions"] == [{
        "candidate_id": "cand-guterres", "name": "Antonio Guterres", "article_id": "art-1", "story_id": "story-9",
        "site": "news.test", "published_at": PUBLISHED, "surface": "Antonio Guterres", "char_start": 99,
        "char_end": 115, "context": TEXT[39:175].replace("\n", " "), "dictionary_version": "dict-7",
        "processed_at": AT,
    }]
    assert "\n" not in rows["candidate_mentions"][0]["context"]
    assert rows["entities"] == [{
        "key": "lavrov", "type": "person", "surface": "Lavrov", "actor_id": "sergei-lavrov", "article_id": "art-1",
        "story_id": "story-9", "site": "news.test", "published_at": PUBLISHED, "char_start": 88, "char_end": 94,
        "model_version": "ner-3", "dictionary_version": "dict-7", "processed_at": AT,
    }]
    assert rows["ledger"] == [{
        "page_id": "page-1", "raw_topic": "newsstream.raw-html", "raw_partition": 2, "raw_offset": 17,
        "source": "feed-a", "url": "https://news.test/a", "outcome": "article", "article_id": "art-1", "reason": None,
        "processed_at": AT, "raw_at": ENTERED,
    }]
    assert rows["stories"] == [{
        "story_id": "story-9", "article_id": "art-1", "duplicate_of": "art-0", "site": "news.test",
        "published_at": PUBLISHED, "processed_at": AT,
    }]


def test_context_is_clipped_at_the_start_of_the_text():
    early = GUTERRES.model_copy(update={"start": 5, "end": 10})
    record = item().model_copy(update={"candidates": [early]})
    assert story_rows(record, AT)["candidate_mentions"][0]["context"] == TEXT[0:70].replace("\n", " ")


def test_missing_site_language_and_model_become_empty_strings_and_no_raw_means_no_ledger():
    record = StoryArticle(article=article(None, site=None, lang=None), mentions=[], dictionary_version="d",
                          story=StoryAssignment(story_id="s", duplicate_of=None))
    rows = story_rows(record, AT)
    a = rows["articles"][0]
    assert (a["site"], a["lang"], a["raw_topic"], a["raw_partition"], a["raw_offset"], a["page_id"]) == \
        ("", "", "", -1, -1, "")
    assert a["mention_count"] == 0 and rows["stories"][0]["site"] == ""
    assert "ledger" not in rows or rows["ledger"] == []
    entity = item(site=None).model_copy(update={"model_version": None})
    e = story_rows(entity, AT)["entities"][0]
    assert (e["site"], e["model_version"]) == ("", "")
    assert story_rows(item(site=None), AT)["candidate_mentions"][0]["site"] == ""


def test_a_raw_message_from_before_page_ids_is_known_by_its_offset():
    assert page_id(None) == ""
    assert page_id(raw("pid")) == "pid"
    assert page_id(raw(None)) == offset_page_id("newsstream.raw-html", 2, 17)


def test_a_dead_letter_becomes_exactly_these_rows():
    letter = DeadLetter(stage="clean", reason="empty", error="no text", source="feed-b", url="https://x.test/b",
                        raw=raw("page-2"), payload="<html>", at=AT)
    assert dead_letter_rows(letter) == {
        "ledger": [{"page_id": "page-2", "raw_topic": "newsstream.raw-html", "raw_partition": 2, "raw_offset": 17,
                    "source": "feed-b", "url": "https://x.test/b", "outcome": "dead_letter", "article_id": None,
                    "reason": "empty", "processed_at": AT, "raw_at": ENTERED}],
        "dead_letters": [{"at": AT, "stage": "clean", "reason": "empty", "error": "no text", "source": "feed-b",
                          "url": "https://x.test/b", "raw_topic": "newsstream.raw-html", "raw_partition": 2,
                          "raw_offset": 17, "page_id": "page-2", "payload": "<html>"}],
    }


def test_a_dead_letter_without_origin_has_no_ledger_row():
    letter = DeadLetter(stage="sink", reason="schema", at=AT)
    assert dead_letter_rows(letter) == {"dead_letters": [{
        "at": AT, "stage": "sink", "reason": "schema", "error": None, "source": "", "url": None, "raw_topic": "",
        "raw_partition": -1, "raw_offset": -1, "page_id": "", "payload": None}]}


def test_a_batch_is_grouped_per_table_with_the_ledger_last_and_replacements_listed():
    letter = DeadLetter(stage="clean", reason="empty", raw=raw("page-2"), at=AT)
    replaced = item(raw("page-3", replace=True))
    rows = batch_rows([letter, item(), replaced])
    assert list(rows)[-1] == "ledger"
    assert [r["page_id"] for r in rows["ledger"]] == ["page-2", "page-1", "page-3"]
    assert len(rows["articles"]) == 2 and len(rows["dead_letters"]) == 1 and len(rows["mentions"]) == 2
    assert rows[REPLACED] == [{"article_id": "art-1"}]
    processed = {r["processed_at"] for r in rows["articles"]}
    assert len(processed) == 1 and abs((processed.pop() - datetime.now(UTC)).total_seconds()) < 60
    assert REPLACED not in batch_rows([item()])


class FakeWarehouse:
    def __init__(self, old_days):
        self.old_days = old_days
        self.calls: list = []
        self.client = self

    def query(self, sql, parameters=None):
        self.calls.append(("query", sql, parameters))
        return [], [(d,) for d in self.old_days]

    def command(self, sql, parameters=None):
        self.calls.append(("command", sql, parameters))

    def insert_rows(self, table, rows):
        self.calls.append(("insert", table, len(rows)))


def test_writing_rows_inserts_each_table_once_and_nothing_else_without_replacements(monkeypatch):
    monkeypatch.setattr(reprocess, "rebuild_aggregates", lambda *a: pytest.fail("nothing was replaced"))
    warehouse = FakeWarehouse([])
    rows = batch_rows([item()])
    write_rows(warehouse, rows)
    assert [c[1] for c in warehouse.calls if c[0] == "insert"] == list(rows)
    assert not [c for c in warehouse.calls if c[0] == "command"], "nothing is deleted when nothing is replaced"


def test_a_replaced_article_loses_its_old_mentions_first_and_its_days_are_rebuilt(monkeypatch):
    rebuilt = []
    monkeypatch.setattr(reprocess, "rebuild_aggregates", lambda warehouse, days: rebuilt.append(set(days)))
    warehouse = FakeWarehouse([date(2024, 4, 1)])
    rows = batch_rows([item(raw("page-3", replace=True))])
    write_rows(warehouse, rows)
    kinds = [c[0] for c in warehouse.calls]
    assert kinds[:4] == ["query", "command", "command", "command"]
    assert {c[1].split()[2] for c in warehouse.calls if c[0] == "command"} == {"mentions", "candidate_mentions",
                                                                             "entities"}
    assert all(c[2] == {"ids": ["art-1"]} for c in warehouse.calls[:4])
    inserted = [c[1] for c in warehouse.calls if c[0] == "insert"]
    assert REPLACED not in inserted and inserted == [t for t in rows if t != REPLACED]
    assert rebuilt == [{date(2024, 4, 1), PUBLISHED.date()}]
    assert REPLACED in rows, "the caller's rows are not changed"
