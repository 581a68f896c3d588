"""Stories in the warehouse (chDB in a temp dir): five republished copies are one story; the index rebuilds from it."""

from datetime import datetime, timedelta, timezone

import pytest

from schemas.records import Mention, RawRef, StoryArticle
from streams.pipeline.arabic import fingerprint_text
from streams.warehouse.rows import batch_rows
from streams.pipeline.stages.stories import LEGACY_SCHEME, SCHEME, StoryIndex, assign_story, lead_persons, signature
from streams.runtime.story_index_loader import fill_from_rows, index_query
from streams.warehouse.client import Warehouse
from tests.test_stories import WIRE, OTHER, article, text

DAY = datetime(2016, 11, 24, 12, tzinfo=timezone.utc)
SITES = ["rt.example", "alwatan.example", "sawt.example", "sana.example", "annahar.example"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    w = Warehouse(f"chdb://{tmp_path_factory.mktemp('chdb')}")
    w.migrate()
    yield w
    w.close()


def republished(i: int) -> str:
    """The wire story as site i prints it: its own headline, dateline, credit, one paragraph fewer or not."""
    body = WIRE["body"][:-1] if i % 2 else WIRE["body"]
    return text(WIRE, title=f"{SITES[i]}: " + WIRE["title"], body=[f"موسكو ({SITES[i]}) - " + body[0], *body[1:],
                                                                 "المصدر: وكالات" if i else "المصدر: RT"])


def stream(index, offset, article_id, site, body, published):
    a = article(article_id, fingerprint_text(body), body, published).model_copy(
        update={"site": site, "raw": RawRef(topic="raw", partition=offset % 4, offset=offset)})
    start = body.index("لافروف")
    mentions = [Mention(actor_id="sergey-lavrov", name="Sergey Lavrov", type="person", surface="لافروف",
                        start=start, end=start + 6)]
    sig = signature(body)
    return StoryArticle(article=a, mentions=mentions, dictionary_version="v1", minhash=sig, minhash_scheme=SCHEME,
                        story=assign_story(a, sig, index, lead_persons(mentions)))


def insert(warehouse, items):
    for table, rows in batch_rows(items).items():
        warehouse.insert_rows(table, rows)


def test_a_wire_copy_republished_five_times_is_one_story_in_the_weekly_view(warehouse):
    index = StoryIndex()
    items = [stream(index, i, f"wire-{i}", SITES[i], republished(i), DAY + timedelta(hours=i)) for i in range(5)]
    items.append(stream(index, 9, "other", SITES[0], text(OTHER), DAY))
    assert {i.story.story_id for i in items[:5]} == {"wire-0"} and items[5].story.story_id == "other"
    insert(warehouse, items)
    insert(warehouse, items[2:4])  # a replayed batch changes nothing
    _, rows = warehouse.query("SELECT toString(week), mentions, articles, stories FROM mentions_per_actor_week "
                              "WHERE actor_id = 'sergey-lavrov'")
    assert rows == [("2016-11-21", 6, 6, 2)]
    _, facts = warehouse.query("SELECT story_id, first_seen, last_seen, copies, sites FROM story_facts "
                               "WHERE story_id = 'wire-0'")
    [(story_id, first, last, copies, sites)] = facts
    assert (copies, sites) == (5, sorted(SITES))
    assert (first.replace(tzinfo=timezone.utc), last.replace(tzinfo=timezone.utc)) == (DAY, DAY + timedelta(hours=4))


def test_signatures_in_the_warehouse_rebuild_the_index(warehouse):
    _, rows = warehouse.query(index_query(timedelta(days=30)))
    assert {row[0]: list(row[7]) for row in rows}["wire-3"] == ["sergey-lavrov"]  # its lead persons
    assert {row[0]: row[8] for row in rows}["wire-3"] == SCHEME
    rebuilt = StoryIndex()
    assert fill_from_rows(rebuilt, rows) >= 6
    assert [person for person, _ in rebuilt.entries["wire-3"].buckets] == ["sergey-lavrov"]
    assert rebuilt.entries["wire-3"].assignment.story_id == "wire-0"
    late = republished(2).replace("المصدر: وكالات", "المصدر: سانا")
    result = assign_story(article("wire-late", fingerprint_text(late), late, DAY + timedelta(days=1)),
                          signature(late), rebuilt)
    assert result.story_id == "wire-0"


def test_rows_from_before_the_scheme_column_read_the_old_scheme_and_are_matched_exactly_only(warehouse):
    """Migration 0013's default: a row written without `minhash_scheme` (before the migration, or by a worker not yet
    upgraded) is of the old scheme, so the rebuilt index never compares its signature with this scheme's."""
    old = republished(1)
    item = stream(StoryIndex(), 20, "before-upgrade", SITES[1], old, DAY + timedelta(hours=12))
    rows = batch_rows([item])["articles"]
    del rows[0]["minhash_scheme"]
    columns = list(rows[0])
    warehouse.client.insert("articles", [[r[c] for c in columns] for r in rows], column_names=columns)
    _, found = warehouse.query("SELECT minhash_scheme, length(minhash) FROM articles WHERE article_id = 'before-upgrade'")
    assert found == [(LEGACY_SCHEME, 126)]
    _, rows = warehouse.query(index_query(timedelta(days=30)))
    rebuilt = StoryIndex()
    fill_from_rows(rebuilt, [r for r in rows if r[0] == "before-upgrade"])
    assert rebuilt.entries["before-upgrade"].signature is None
    copy = old.replace("المصدر: وكالات", "المصدر: سانا")
    assert assign_story(article("copy", fingerprint_text(copy), copy, DAY), signature(copy), rebuilt).duplicate_of is None
