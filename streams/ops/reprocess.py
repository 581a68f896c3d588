"""History follows the dictionary and the recognizer: re-run extraction over the cleaned text already in ClickHouse.

For the articles published in [since, until): their mentions, candidate mentions and entities are deleted (lightweight
DELETE, so a removed alias's old mentions go too), the new ones inserted, the article rows re-written with the
new count and dictionary version, and every aggregate fed by `mentions` (weekly, daily, co-mentions) rebuilt for
the days and weeks touched (and the unlinked-names aggregate fed by `entities`): those tables hold uniqExact states,
which can merge but never subtract, so their
rows are deleted and re-aggregated from `mentions` with each materialized view's own SELECT (read from
system.tables, not re-declared here).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from schemas.records import Article, ArticleEntities, StoryArticle, StoryAssignment
from streams.pipeline.dictionary import ActorDictionary
from streams.pipeline.steps import MAX_MENTIONS, entities_step
from streams.settings import Settings
from streams.warehouse.client import Warehouse, connect
from streams.warehouse.rows import story_rows

BATCH = 500
_MV_TARGET = re.compile(r"\bTO\s+([\w.`]+)")


@dataclass
class ReprocessReport:
    since: str
    until: str
    dictionary_version: str
    articles: int = 0
    mentions_before: int = 0
    mentions_after: int = 0
    candidates_after: int = 0
    entities_after: int = 0
    model_version: str = ""
    weeks_rebuilt: list[str] = field(default_factory=list)
    aggregates_rebuilt: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def parse_day(value: str | date | datetime) -> datetime:
    """A date or ISO 8601 time, as UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not a date: {value!r} (use YYYY-MM-DD or ISO 8601)") from None
    if not 1900 <= moment.year <= 2299:  # ClickHouse's DateTime64 range: outside it the warehouse cannot compare
        raise ValueError(f"{value!s} is outside the years the warehouse stores (1900-2299)")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _article(row: dict) -> StoryArticle:
    """A stored article row back as the record the sink wrote it from (offsets index the same `text`)."""
    article = Article(
        article_id=row["article_id"], source=row["source"], url=row["url"], canonical_url=row["canonical_url"],
        site=row["site"] or None, title=row["title"], text=row["text"], lang=row["lang"] or None,
        published_at=row["published_at"], published_source=row["published_source"], fetched_at=row["fetched_at"],
        charset=row["charset"], fingerprint=row["fingerprint"], raw=None)
    return StoryArticle(article=article, mentions=[], dictionary_version="",
                        story=StoryAssignment(story_id=row["story_id"], duplicate_of=row["duplicate_of"]))


def reprocess(warehouse: Warehouse, dictionary: ActorDictionary, since, until,
              max_mentions: int = MAX_MENTIONS) -> ReprocessReport:
    start, end = parse_day(since), parse_day(until)
    if end <= start:
        raise ValueError(f"--until ({end.isoformat()}) must be after --since ({start.isoformat()})")
    report = ReprocessReport(start.isoformat(), end.isoformat(), dictionary.version)
    window = {"s": start, "e": end}
    columns, rows = warehouse.query(
        "SELECT * FROM articles FINAL WHERE published_at >= {s:DateTime64(3, 'UTC')} "
        "AND published_at < {e:DateTime64(3, 'UTC')} ORDER BY article_id", parameters=window)
    days: set[date] = set()
    for offset in range(0, len(rows), BATCH):
        stored = [dict(zip(columns, r, strict=False)) for r in rows[offset:offset + BATCH]]
        ids = [r["article_id"] for r in stored]
        _, [(before,)] = warehouse.query(
            "SELECT count() FROM mentions FINAL WHERE has({ids:Array(String)}, article_id)", parameters={"ids": ids})
        report.mentions_before += before
        now = datetime.now(UTC)
        fresh: dict[str, list[dict]] = {"articles": [], "mentions": [], "candidate_mentions": [], "entities": []}
        for row in stored:
            old = _article(row)
            found: ArticleEntities = entities_step(old.article, dictionary, max_mentions)
            item = old.model_copy(update={"mentions": found.mentions, "candidates": found.candidates,
                                          "entities": found.entities, "model_version": found.model_version,
                                          "dictionary_version": dictionary.version})
            report.model_version = found.model_version or ""
            new_rows = story_rows(item, now)
            article_row = new_rows["articles"][0]
            # What the sink wrote about where the article came from stays as it was.
            for key in ("raw_topic", "raw_partition", "raw_offset"):
                article_row[key] = row[key]
            fresh["articles"].append(article_row)
            fresh["mentions"] += new_rows["mentions"]
            fresh["candidate_mentions"] += new_rows["candidate_mentions"]
            fresh["entities"] += new_rows["entities"]
            days.add(row["published_at"].date())
        for table in ("mentions", "candidate_mentions", "entities"):
            warehouse.client.command(f"DELETE FROM {table} WHERE has({{ids:Array(String)}}, article_id)",
                                     parameters={"ids": ids})
        for table, table_rows in fresh.items():
            warehouse.insert_rows(table, table_rows)
        report.articles += len(stored)
        report.mentions_after += len(fresh["mentions"])
        report.candidates_after += len(fresh["candidate_mentions"])
        report.entities_after += len(fresh["entities"])
    if days:
        report.aggregates_rebuilt = rebuild_aggregates(warehouse, days) + rebuild_aggregates(warehouse, days,
                                                                                               "entities")
        report.weeks_rebuilt = sorted({(d - timedelta(days=d.weekday())).isoformat() for d in days})
    return report


def rebuild_aggregates(warehouse: Warehouse, days: set[date], source: str = "mentions") -> list[str]:
    """For every materialized view fed by `source` (mentions: weekly, daily, co-mentions...; entities: unlinked
    names per week): delete its target's rows for the buckets these days fall in and re-aggregate them from
    `source` with the view's own SELECT. A target's
    bucket is its one Date column (a day or a week start); buckets that hold none of these articles are rebuilt
    to what they were, so deleting a few too many is harmless. Returns the target tables rebuilt."""
    buckets = sorted(days | {d - timedelta(days=d.weekday()) for d in days})
    _, [(views,)] = warehouse.query("SELECT dependencies_table FROM system.tables WHERE database = currentDatabase() "
                                    "AND name = {s:String}", parameters={"s": source})
    rebuilt = []
    for view in sorted(views):
        _, [(select, create)] = warehouse.query(
            "SELECT as_select, create_table_query FROM system.tables WHERE database = currentDatabase() "
            "AND name = {v:String}", parameters={"v": view})
        if (to := _MV_TARGET.search(create)) is None:
            raise LookupError(f"{view}: its CREATE statement names no TO table to rebuild")
        target = to.group(1).split(".")[-1].strip("`")
        _, typed = warehouse.query("SELECT name FROM system.columns WHERE database = currentDatabase() "
                                   "AND table = {t:String} AND type = 'Date'", parameters={"t": target})
        if len(typed) != 1:
            raise LookupError(f"{target}: expected one Date column (its day or week) to rebuild by, found {typed}")
        bucket = typed[0][0]
        columns = ", ".join(f"`{c}`" for c in warehouse.columns(target))
        params = {"b": buckets}
        warehouse.client.command(f"DELETE FROM {target} WHERE has({{b:Array(Date)}}, `{bucket}`)", parameters=params)
        warehouse.client.command(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM ({select}) "
                                 f"WHERE has({{b:Array(Date)}}, `{bucket}`)", parameters=params)
        rebuilt.append(target)
    return rebuilt


def run_reprocess(settings: Settings, since: str, until: str) -> dict:
    """`newsstream reprocess`: through the worker that holds the embedded warehouse (it uses the dictionary it
    has loaded), else directly with the dictionary at settings.actors_path."""
    parse_day(since), parse_day(until)  # a bad date fails here, before any worker is asked

    def here(warehouse: Warehouse) -> dict:
        warehouse.migrate()
        return reprocess(warehouse, ActorDictionary.from_settings(settings), since, until,
                         settings.max_mentions).as_dict()

    with connect(settings) as warehouse:
        return warehouse.maintain("reprocess", {"since": since, "until": until}, here)
