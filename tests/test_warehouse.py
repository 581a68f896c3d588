"""Warehouse tests on the embedded engine (chDB in a temp directory) through clickhouse-connect."""

from datetime import datetime, timezone

import pytest

from schemas.records import Article, DeadLetter, Mention, RawRef, StoryArticle, StoryAssignment
from streams.warehouse.rows import batch_rows
from streams.warehouse.client import Warehouse, migrations, split_statements


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    w = Warehouse(f"chdb://{tmp_path_factory.mktemp('chdb')}")
    w.migrate()
    yield w
    w.close()


def story(article_id, story_id, published, offset, mentions=(("sergey-lavrov", 0),)):
    art = Article(article_id=article_id, source=f"src-{article_id}", url=None, canonical_url=None, site="example.org",
                  title="t", text="لافروف " * 5, lang="ar", published_at=published, published_source="metadata",
                  fetched_at=None, charset="utf-8", fingerprint="f" + article_id,
                  raw=RawRef(topic="raw", partition=0, offset=offset))
    ms = [Mention(actor_id=a, name=a.title(), type="person", surface="لافروف", start=s, end=s + 6) for a, s in mentions]
    return StoryArticle(article=art, mentions=ms, dictionary_version="v1",
                        story=StoryAssignment(story_id=story_id, duplicate_of=None if story_id == article_id else story_id))


def insert(warehouse, items):
    for table, rows in batch_rows(items).items():
        warehouse.insert_rows(table, rows)


def test_migrations_apply_once_and_are_recorded(warehouse):
    assert warehouse.migrate() == []
    _, rows = warehouse.query("SELECT name FROM schema_migrations ORDER BY version")
    assert [r[0] for r in rows] == [name for _, name, _ in migrations()]


def test_every_statement_in_the_migrations_is_idempotent(warehouse):
    for _, _, sql in migrations():
        for statement in split_statements(sql):
            if warehouse._rename_done(statement):
                continue  # the runner skips a RENAME that already happened (SQL has no RENAME IF)
            warehouse.client.command(statement)


OLD_LEDGER_SCRIPT = """
import sys
from datetime import datetime, timezone
from streams.warehouse.client import Warehouse, migrations, split_statements
w = Warehouse(sys.argv[1])
w.client.command("CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
                 "applied_at DateTime64(3, 'UTC')) ENGINE = ReplacingMergeTree ORDER BY version")
for version, name, sql in migrations():
    if version >= 7:
        break
    for statement in split_statements(sql):
        w.client.command(statement)
    w.client.insert("schema_migrations", [[version, name, datetime.now(timezone.utc)]],
                    column_names=["version", "name", "applied_at"])
w.client.command("INSERT INTO ledger (raw_topic, raw_partition, raw_offset, source, url, outcome, article_id, reason, "
                 "processed_at) VALUES ('newsstream.raw-html', 2, 7, 'a.html', 'https://example.org/a', 'article', "
                 "'abc', NULL, now64(3))")
assert "0007_page_identity.sql" in w.migrate()
rows = w.query("SELECT page_id, raw_partition, raw_offset, outcome FROM ledger FINAL")[1]
assert rows == [("offset:newsstream.raw-html/2/7", 2, 7, "article")], rows
w.client.command("DELETE FROM schema_migrations WHERE version = 7")  # as if interrupted before it was recorded
w.migrate()
assert w.query("SELECT count() FROM ledger FINAL")[1] == [(1,)]
assert "page_id" in w.columns("articles") and "page_id" in w.columns("dead_letters")
print("ok")
"""


def test_the_page_id_migration_keeps_offset_keyed_ledger_rows_findable(tmp_path):
    """0007 re-keys the ledger by page id; rows written before it keep their offset as their id, and the
    migration runs again cleanly when it was interrupted. (Own process: chDB opens one directory per process.)"""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", OLD_LEDGER_SCRIPT, f"chdb://{tmp_path / 'old'}"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_rows_must_match_the_ddl(warehouse):
    with pytest.raises(ValueError, match="do not match its DDL"):
        warehouse.insert_rows("articles", [{"article_id": "x"}])


def test_weekly_view_counts_mentions_articles_and_stories_and_ignores_replays(warehouse):
    week1 = datetime(2016, 11, 24, 12, tzinfo=timezone.utc)  # Thursday: week of Monday 2016-11-21
    week2 = datetime(2016, 11, 28, 9, tzinfo=timezone.utc)
    batch = [
        story("a1", "a1", week1, 1, (("sergey-lavrov", 0), ("sergey-lavrov", 20), ("john-kerry", 40))),
        story("a2", "a1", week1, 2, (("sergey-lavrov", 3),)),  # a wire copy: same story
        story("a3", "a3", week2, 3),
    ]
    insert(warehouse, batch)
    insert(warehouse, batch)  # a replayed batch (at-least-once) must add nothing
    _, rows = warehouse.query(
        "SELECT actor_id, toString(week), mentions, articles, stories FROM mentions_per_actor_week ORDER BY actor_id, week")
    assert rows == [
        ("john-kerry", "2016-11-21", 1, 1, 1),
        ("sergey-lavrov", "2016-11-21", 3, 2, 1),
        ("sergey-lavrov", "2016-11-28", 1, 1, 1),
    ]
    _, [(articles, ledger)] = warehouse.query("SELECT (SELECT count() FROM articles FINAL), (SELECT count() FROM ledger FINAL)")
    assert (articles, ledger) == (3, 3)


def test_dead_letters_land_with_their_ledger_row(warehouse):
    letter = DeadLetter(stage="clean", reason="binary", error="NUL bytes", source="x.bin", url=None,
                        raw=RawRef(topic="raw", partition=1, offset=7), payload="...", at=datetime.now(timezone.utc))
    insert(warehouse, [letter])
    _, rows = warehouse.query("SELECT outcome, reason FROM ledger FINAL WHERE raw_partition = 1 AND raw_offset = 7")
    assert rows == [("dead_letter", "binary")]
    _, rows = warehouse.query("SELECT stage, reason, source FROM dead_letters WHERE source = 'x.bin'")
    assert rows == [("clean", "binary", "x.bin")]


def test_readonly_queries_cannot_write(warehouse):
    with pytest.raises(Exception, match="(?i)readonly"):
        warehouse.query("DROP TABLE articles", readonly=True)


def test_every_migration_has_a_cluster_variant_that_parses(warehouse):
    from streams.warehouse.client import on_cluster

    for _, name, sql in migrations():
        for statement in split_statements(sql):
            variant = on_cluster(statement, "news")
            if statement.upper().startswith(("CREATE", "ALTER", "RENAME")):
                assert "ON CLUSTER 'news'" in variant, f"{name}: {statement[:60]}"
            assert "ENGINE = MergeTree" not in variant and "ENGINE = ReplacingMergeTree" not in variant
            # The embedded engine has no cluster, but it parses the statement: the DDL is valid ClickHouse.
            _, rows = warehouse.query("SELECT formatQuery({q:String})", parameters={"q": variant})
            assert "ON CLUSTER" in rows[0][0] or not statement.upper().startswith(("CREATE", "ALTER", "RENAME"))
    sample = on_cluster("CREATE TABLE IF NOT EXISTS t (a String) ENGINE = ReplacingMergeTree(v) ORDER BY a", "c")
    assert sample == ("CREATE TABLE IF NOT EXISTS t ON CLUSTER 'c' (a String) ENGINE = ReplicatedReplacingMergeTree("
                      "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}', v) ORDER BY a")


def test_a_refused_readonly_statement_does_not_leave_the_embedded_session_readonly(warehouse):
    with pytest.raises(Exception, match="(?i)readonly"):
        warehouse.query("DROP TABLE articles", readonly=True)
    warehouse.client.command("DELETE FROM dead_letters WHERE source = 'no-such-source'")  # a write still works
    assert warehouse.query("SELECT getSetting('readonly')")[1] == [(0,)]


def test_the_author_lands_on_its_article(warehouse):
    item = story("auth1", "auth1", datetime(2016, 11, 24, tzinfo=timezone.utc), 9001)
    item = item.model_copy(update={"article": item.article.model_copy(update={"author": "أوكسانا شفانديوك"})})
    insert(warehouse, [item])
    _, rows = warehouse.query("SELECT author FROM articles FINAL WHERE article_id = 'auth1'")
    assert rows == [("أوكسانا شفانديوك",)]


def test_a_replaced_article_keeps_only_its_new_mentions_and_counts(warehouse):
    """`reprocess --from-archive` after a cleaning change: the new version is not a 'changed copy'; its old
    mentions go, and the weekly aggregate counts the new ones only."""
    from streams.warehouse.rows import write_rows
    from streams.pipeline.stages.stories import StoryIndex, assign_story

    when = datetime(2019, 3, 6, 12, tzinfo=timezone.utc)  # a week no other test writes
    old = story("replace-1", "replace-1", when, 1, (("sergey-lavrov", 0), ("sergey-lavrov", 7), ("sergey-lavrov", 14)))
    write_rows(warehouse, batch_rows([old]))
    index = StoryIndex()
    assert assign_story(old.article, [], index) == old.story
    new_article = old.article.model_copy(update={
        "text": "لافروف " * 2, "fingerprint": "changed",
        "raw": RawRef(topic="raw", partition=0, offset=9, page_id="p1", replace=True)})
    plain = new_article.model_copy(update={"raw": RawRef(topic="raw", partition=0, offset=9, page_id="p1")})
    with pytest.raises(Exception, match="other text"):
        assign_story(plain, [], index)  # an ordinary re-delivery with other text stays a changed copy
    assignment = assign_story(new_article, [], index)
    assert assignment == old.story
    new = old.model_copy(update={"article": new_article, "story": assignment, "mentions": [
        Mention(actor_id="sergey-lavrov", name="Sergey Lavrov", type="person", surface="لافروف", start=0, end=6)]})
    for _ in range(2):  # a retried batch gives the same result
        write_rows(warehouse, batch_rows([new]))
    assert warehouse.query("SELECT char_start FROM mentions FINAL WHERE article_id = 'replace-1'")[1] == [(0,)]
    assert warehouse.query("SELECT text FROM articles FINAL WHERE article_id = 'replace-1'")[1] == [("لافروف " * 2,)]
    weekly = warehouse.query("SELECT mentions, articles FROM mentions_per_actor_week WHERE actor_id = 'sergey-lavrov' "
                             "AND week = '2019-03-04'")[1]
    assert weekly == [(1, 1)]


def test_the_stated_zone_offset_lands_beside_the_utc_time(warehouse):
    item = story("tz1", "tz1", datetime(2013, 8, 3, 22, 21, tzinfo=timezone.utc), 9002)
    item = item.model_copy(update={"article": item.article.model_copy(update={"published_utc_offset": 240})})
    insert(warehouse, [item])
    _, rows = warehouse.query("SELECT published_utc_offset, toDate(published_at + toIntervalMinute("
                              "ifNull(published_utc_offset, 0))) FROM articles FINAL WHERE article_id = 'tz1'")
    assert [(r[0], str(r[1])) for r in rows] == [(240, "2013-08-04")]


def test_site_profiles_are_learned_from_stored_articles_stored_and_loaded(warehouse):
    from streams.warehouse.site_profiles import learn_site_profiles, load_site_profiles

    promo = "تابعونا على قناة تيليجرام لمعرفة آخر الأخبار العاجلة"
    items = []
    for i in range(6):
        item = story(f"sp{i}", f"sp{i}", datetime(2024, 3, i + 1, tzinfo=timezone.utc), 9100 + i)
        title = f"خبر رقم {i} عن المحادثات | بوابة الوطن"
        items.append(item.model_copy(update={"article": item.article.model_copy(update={
            "site": "alwatan.example", "title": title,
            "text": f"{title}\nقال مصدر إن الاجتماع رقم {i} انتهى دون اتفاق.\n{promo}"})}))
    insert(warehouse, items[:4])
    assert [p.site for p in learn_site_profiles(warehouse)] == []  # 4 pages: too few to learn from
    insert(warehouse, items[4:])
    [learned] = [p for p in learn_site_profiles(warehouse) if p.site == "alwatan.example"]
    profile = load_site_profiles(warehouse)["alwatan.example"]
    assert profile == learned and profile.is_chrome(promo) and profile.title_affixes == (" | بوابة الوطن",)


def test_an_insert_names_its_types_instead_of_describing_the_table_each_time(warehouse, monkeypatch):
    """The column names and types are read once per table: a batch is one statement per table, not a DESCRIBE
    and an insert (a round trip through chDB per table per batch)."""
    day = datetime(2001, 12, 1, 12, tzinfo=timezone.utc)  # last in this file: the tests above count whole tables
    insert(warehouse, [story("typed-1", "typed-1", day, 901, (("typed-actor-a", 0),))])  # the columns known from here
    statements = []
    run = warehouse.client._backend._run  # every statement chDB executes for this client
    monkeypatch.setattr(warehouse.client._backend, "_run",
                        lambda sql, *a, **k: statements.append(str(sql).split(" (")[0]) or run(sql, *a, **k))
    batch = batch_rows([story("typed-2", "typed-2", day, 902, (("typed-actor-a", 0), ("typed-actor-b", 10)))])
    for table, rows in batch.items():
        warehouse.insert_rows(table, rows)
    assert statements == [f"INSERT INTO `{table}`" for table, rows in batch.items() if rows]
    monkeypatch.undo()
    _, rows = warehouse.query("SELECT article_id, published_at, processed_at > published_at FROM articles FINAL "
                              "WHERE article_id = 'typed-2'")
    assert rows == [("typed-2", day.replace(tzinfo=None), 1)]
    _, rows = warehouse.query("SELECT actor_id, actor_type, char_start FROM mentions FINAL "
                              "WHERE article_id = 'typed-2' ORDER BY char_start")
    assert rows == [("typed-actor-a", "person", 0), ("typed-actor-b", "person", 10)]


def test_native_output_of_a_failed_chdb_start_is_dropped_and_kept_on_success(capfd, monkeypatch):
    """chDB prints "Code: 76 ... Cannot lock file" to fd 2 before raising: a command's user saw two lines."""
    import os

    from streams.warehouse import client
    from streams.warehouse.client import _native_stderr_kept_on_success

    monkeypatch.setattr(client.threading, "active_count", lambda: 1)  # a command (the suite has threads of its own)

    with pytest.raises(RuntimeError), _native_stderr_kept_on_success():
        os.write(2, b"Code: 76. DB::Exception: Cannot lock file\n")
        raise RuntimeError("EmbeddedServer")
    with _native_stderr_kept_on_success():
        os.write(2, b"a warning of a start that worked\n")
    assert capfd.readouterr().err == "a warning of a start that worked\n"
