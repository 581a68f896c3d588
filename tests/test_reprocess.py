"""Reprocess, the actors table and candidate mentions on the embedded engine (chDB in a temp directory)."""

from datetime import datetime, timezone

import pytest

from schemas.records import Article, StoryArticle, StoryAssignment
from streams.pipeline.dictionary import ActorDictionary
from streams.ops.catalog import add_actor, promotion_entry, sync_actors
from streams.ops.reprocess import reprocess
from streams.warehouse.rows import batch_rows
from streams.pipeline.steps import entities_step
from streams.warehouse.client import Warehouse

OLD = """
version: "1"
actors:
  - id: sergey-lavrov
    name: Sergey Lavrov
    type: person
    country: RU
    aliases: {ar: ["سيرغي لافروف"]}
    short: {ar: ["لافروف"]}
  - id: syria
    name: Syria
    type: location
    aliases: {ar: ["سوريا"]}
"""
# The new version drops Lavrov's surname alone (a curator decided it was too loose) and adds Ayrault.
NEW = OLD.replace('short: {ar: ["لافروف"]}', "short: {}").replace('version: "1"', 'version: "2"') + """
  - id: jean-marc-ayrault
    name: Jean-Marc Ayrault
    type: person
    country: FR
    aliases: {ar: ["جان مارك أيرولت"]}
    short: {ar: ["أيرولت"]}
"""
# Seed sentences (000): Ayrault is named after a title, then by surname; Lavrov in full, then by surname.
TEXT = ("لافروف: إشارات الغرب تثبط عزيمة المعارضة\n"
        "حذر وزير الخارجية الروسي سيرغي لافروف من أن سلسلة الإشارات التي بعث بها الغرب إلى المعارضة السورية.\n"
        "وجاءت تصريحات لافروف في معرض إجابته عن سؤال حول التصريحات الأخيرة لوزير الخارجية الفرنسي جان مارك "
        "أيرولت، الذي دعا إلى فرض عقوبات على دمشق.\nوأوضح لافروف في معرض تعليقه على دعوة أيرولت، أن سوريا")

WEEK1 = datetime(2016, 11, 24, 12, tzinfo=timezone.utc)  # week of Monday 2016-11-21
WEEK2 = datetime(2016, 12, 1, 12, tzinfo=timezone.utc)  # week of Monday 2016-11-28
LATER = datetime(2017, 1, 10, 12, tzinfo=timezone.utc)  # outside the reprocessed range


def article(article_id: str, published: datetime) -> Article:
    return Article(article_id=article_id, source=f"src-{article_id}", url=None, canonical_url=None, site="example.org",
                   title=TEXT.split("\n")[0], text=TEXT, lang="ar", published_at=published,
                   published_source="metadata", fetched_at=None, charset="utf-8", fingerprint="f" + article_id)


def stored(dictionary: ActorDictionary, article_id: str, published: datetime) -> StoryArticle:
    found = entities_step(article(article_id, published), dictionary)
    return StoryArticle(article=found.article, mentions=found.mentions, candidates=found.candidates,
                        entities=found.entities, model_version=found.model_version,
                        dictionary_version=found.dictionary_version,
                        story=StoryAssignment(story_id=article_id, duplicate_of=None))


@pytest.fixture()
def setup(tmp_path):
    path = tmp_path / "actors.yaml"
    path.write_text(OLD, encoding="utf-8")
    old = ActorDictionary.load(path)
    warehouse = Warehouse(f"chdb://{tmp_path / 'chdb'}")
    warehouse.migrate()
    for table, rows in batch_rows([stored(old, "a1", WEEK1), stored(old, "a2", WEEK2),
                                   stored(old, "a3", LATER)]).items():
        warehouse.insert_rows(table, rows)
    yield warehouse, path, old
    warehouse.close()


def weekly(warehouse):
    return warehouse.query("SELECT actor_id, toString(week), mentions, articles FROM mentions_per_actor_week "
                           "ORDER BY actor_id, week")[1]


def recount(warehouse):
    """The weekly figures straight from the mentions table: what the aggregate must agree with."""
    return warehouse.query(
        "SELECT actor_id, toString(toStartOfWeek(published_at, 1)) AS w, uniqExact(article_id, char_start), "
        "uniqExact(article_id) FROM mentions FINAL GROUP BY actor_id, w ORDER BY actor_id, w")[1]


def test_candidates_land_in_their_own_table_and_never_in_the_weekly_counts(setup):
    warehouse, _, _ = setup
    assert {r[0] for r in weekly(warehouse)} == {"sergey-lavrov", "syria"}
    _, rows = warehouse.query("SELECT candidate_id, name, mentions, articles FROM candidates")
    assert rows == [("candidate:جان مارك ايرولت", "جان مارك ايرولت", 6, 3)]  # full name + surname, 3 articles
    _, [(context,)] = warehouse.query("SELECT any(context) FROM candidate_mentions WHERE surface = 'جان مارك أيرولت'")
    assert "لوزير الخارجية الفرنسي جان مارك" in context


def test_reprocess_replaces_mentions_rebuilds_the_weeks_and_leaves_other_articles(setup, tmp_path):
    warehouse, path, old = setup
    assert ("sergey-lavrov", "2016-11-21", 4, 1) in weekly(warehouse)
    path.write_text(NEW, encoding="utf-8")
    new = ActorDictionary.load(path)
    report = reprocess(warehouse, new, "2016-11-01", "2016-12-31")
    assert (report.articles, report.mentions_before, report.mentions_after) == (2, 10, 8)
    assert report.weeks_rebuilt == ["2016-11-21", "2016-11-28"]
    rows = weekly(warehouse)
    assert rows == recount(warehouse)  # the aggregate agrees with the mentions it summarizes
    assert ("sergey-lavrov", "2016-11-21", 1, 1) in rows  # the surname alone no longer counts
    assert ("jean-marc-ayrault", "2016-11-28", 2, 1) in rows  # the new actor is counted in past weeks
    assert ("sergey-lavrov", "2017-01-09", 4, 1) in rows  # outside the range: as it was
    assert report.aggregates_rebuilt == ["actor_day_agg", "actor_week_agg", "co_mentions_week_agg",
                                         "unlinked_name_week_agg"]
    daily = ("SELECT actor_id, toString(day), mentions, articles FROM mentions_per_actor_day ORDER BY 1, 2",
             "SELECT actor_id, toString(toDate(published_at)) AS d, uniqExact(article_id, char_start), "
             "uniqExact(article_id) FROM mentions FINAL GROUP BY actor_id, d ORDER BY 1, 2")
    assert warehouse.query(daily[0])[1] == warehouse.query(daily[1])[1]
    _, pairs = warehouse.query("SELECT actor_a, actor_b, toString(week), articles FROM co_mentions_per_week "
                               "ORDER BY 3, 1, 2")
    assert pairs == [("jean-marc-ayrault", "sergey-lavrov", "2016-11-21", 1), ("jean-marc-ayrault", "syria", "2016-11-21", 1),
                     ("sergey-lavrov", "syria", "2016-11-21", 1),
                     ("jean-marc-ayrault", "sergey-lavrov", "2016-11-28", 1), ("jean-marc-ayrault", "syria", "2016-11-28", 1),
                     ("sergey-lavrov", "syria", "2016-11-28", 1), ("sergey-lavrov", "syria", "2017-01-09", 1)]
    _, versions = warehouse.query("SELECT article_id, dictionary_version, mention_count FROM articles FINAL "
                                  "ORDER BY article_id")
    assert versions == [("a1", new.version, 4), ("a2", new.version, 4), ("a3", old.version, 5)]
    _, mention_versions = warehouse.query("SELECT DISTINCT article_id, dictionary_version FROM mentions "
                                          "ORDER BY article_id")
    assert mention_versions == [("a1", new.version), ("a2", new.version), ("a3", old.version)]
    # Ayrault is an actor now: his candidate mentions are gone from the reprocessed articles.
    _, rows = warehouse.query("SELECT article_id FROM candidate_mentions FINAL GROUP BY article_id")
    assert rows == [("a3",)]
    # Recognition ran again too: Ayrault's names are linked in the reprocessed articles, not in the other one,
    # and the unlinked-names aggregate agrees with the entities it summarizes.
    _, linked = warehouse.query("SELECT article_id, countIf(actor_id = 'jean-marc-ayrault'), "
                                "countIf(actor_id IS NULL AND key LIKE '%ايرولت%'), any(model_version) "
                                "FROM entities FINAL WHERE surface LIKE '%أيرولت%' GROUP BY article_id ORDER BY 1")
    assert [(r[0], r[1] > 0, r[2] > 0) for r in linked] == [("a1", True, False), ("a2", True, False),
                                                          ("a3", False, True)]
    assert report.entities_after > 0 and report.model_version == linked[0][3]
    unlinked = ("SELECT key, type, toString(week), mentions, articles FROM unlinked_names_per_week ORDER BY 1, 2, 3",
                "SELECT key, type, toString(toStartOfWeek(published_at, 1)) AS w, uniqExact(article_id, char_start), "
                "uniqExact(article_id) FROM entities FINAL WHERE actor_id IS NULL GROUP BY key, type, w ORDER BY 1, 2, 3")
    assert warehouse.query(unlinked[0])[1] == warehouse.query(unlinked[1])[1]
    again = reprocess(warehouse, new, "2016-11-01", "2016-12-31")  # idempotent
    assert (again.mentions_before, again.mentions_after) == (8, 8)
    assert weekly(warehouse) == recount(warehouse)


def test_reprocess_refuses_an_empty_range(setup):
    warehouse, _, old = setup
    with pytest.raises(ValueError, match="must be after"):
        reprocess(warehouse, old, "2016-12-31", "2016-11-01")


def test_actors_table_follows_the_dictionary_and_promoted_candidates_leave_the_curator_view(setup):
    warehouse, path, old = setup
    assert sync_actors(warehouse, old) == 2
    promoted = add_actor(promotion_entry("candidate:جان مارك ايرولت", actor_id=None, name="Jean-Marc Ayrault",
                                         country="FR"), path)
    assert promoted.actors["jean-marc-ayrault"].promoted_from == "candidate:جان مارك ايرولت"
    sync_actors(warehouse, promoted)
    _, rows = warehouse.query("SELECT actor_id, name, type, aliases['ar'], short['ar'], dictionary_version "
                              "FROM actors FINAL ORDER BY actor_id")
    assert rows == [("jean-marc-ayrault", "Jean-Marc Ayrault", "person", ["جان مارك ايرولت"], ["ايرولت"],
                     promoted.version),
                    ("sergey-lavrov", "Sergey Lavrov", "person", ["سيرغي لافروف"], ["لافروف"], promoted.version),
                    ("syria", "Syria", "location", ["سوريا"], [], promoted.version)]
    assert warehouse.query("SELECT count() FROM candidates")[1] == [(0,)]
    path.write_text(OLD, encoding="utf-8")  # a curator removes the actor again
    sync_actors(warehouse, ActorDictionary.load(path))
    assert [r[0] for r in warehouse.query("SELECT actor_id FROM actors FINAL ORDER BY actor_id")[1]] == [
        "sergey-lavrov", "syria"]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_date_outside_the_warehouse_years_is_refused(day):
    """Year 1 reached ClickHouse unpadded and failed there with a traceback (DateTime64 holds 1900-2299)."""
    from streams.ops.reprocess import parse_day

    with pytest.raises(ValueError, match="outside the years"):
        parse_day(day)
