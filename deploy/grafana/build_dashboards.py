"""Writes deploy/grafana/dashboards/*.json from the panel lists below (tests check the files are current).

Kept as code so every dashboard shares one datasource, style and layout; Grafana reads the JSON files.
Run: python deploy/grafana/build_dashboards.py
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "newsstream-clickhouse"}
IN_RANGE_WEEKS = "week >= toStartOfWeek($__fromTime, 1) AND week <= $__toTime"
LATEST_WEEK = ("(SELECT max(week) FROM newsstream.mentions_per_actor_week WHERE " + IN_RANGE_WEEKS + ")")


def actor_variable(multi: bool = True) -> dict:
    sql = "SELECT DISTINCT actor_id FROM newsstream.mentions_per_actor_week ORDER BY actor_id"
    return {"name": "actor", "label": "Actor", "type": "query", "datasource": DATASOURCE, "query": sql,
            "definition": sql, "multi": multi, "includeAll": False, "refresh": 2, "sort": 1,
            "current": {"selected": True, "text": ["sergey-lavrov"], "value": ["sergey-lavrov"]},
            "options": [], "hide": 0}


def timeseries(title: str, description: str, sql: str, unit: str = "short", draw: str = "line",
               stack: bool = False) -> dict:
    custom = {"drawStyle": draw, "lineWidth": 2, "pointSize": 5, "showPoints": "auto", "spanNulls": False,
              "fillOpacity": 60 if draw == "bars" else 10}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return {"type": "timeseries", "title": title, "description": description,
            "fieldConfig": {"defaults": {"unit": unit, "min": 0, "custom": custom}, "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "right", "showLegend": True,
                                   "calcs": ["sum", "max"]}, "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": [{"datasource": DATASOURCE, "editorType": "sql", "format": 0, "queryType": "timeseries",
                         "rawSql": sql, "refId": "A"}]}


def table(title: str, description: str, sql: str, sort_by: str | None = None) -> dict:
    options = {"showHeader": True}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": True}]
    return {"type": "table", "title": title, "description": description,
            "fieldConfig": {"defaults": {"custom": {"align": "auto"}}, "overrides": []}, "options": options,
            "targets": [{"datasource": DATASOURCE, "editorType": "sql", "format": 1, "queryType": "table",
                         "rawSql": sql, "refId": "A"}]}


def stat(title: str, description: str, sql: str, unit: str = "short") -> dict:
    return {"type": "stat", "title": title, "description": description,
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "none", "textMode": "value_and_name"},
            "targets": [{"datasource": DATASOURCE, "editorType": "sql", "format": 1, "queryType": "table",
                         "rawSql": sql, "refId": "A"}]}


def dashboard(uid: str, title: str, description: str, rows: list[list[tuple[dict, int]]],
              variables: list[dict] = (), time_from: str = "now-1y", refresh: str = "1m") -> dict:
    """`rows`: panels with their heights, laid out left to right in equal widths."""
    panels, y = [], 0
    for row in rows:
        width = 24 // len(row)
        for i, (panel, height) in enumerate(row):
            panels.append({"id": len(panels) + 1, **panel, "datasource": DATASOURCE,
                           "gridPos": {"h": height, "w": width, "x": i * width, "y": y}})
        y += max(h for _, h in row)
    return {"id": None, "uid": uid, "title": title, "description": description, "tags": ["newsstream"],
            "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1, "timezone": "utc",
            "time": {"from": time_from, "to": "now"}, "refresh": refresh, "annotations": {"list": []},
            "links": [], "templating": {"list": list(variables)}, "panels": panels}


def actor_trends() -> dict:
    weekly = timeseries(
        "Mentions per actor per week", "Distinct mentions per ISO week of the selected actors.",
        "SELECT week AS time, actor_name, mentions FROM newsstream.mentions_per_actor_week WHERE "
        f"{IN_RANGE_WEEKS} AND actor_id IN (${{actor:singlequote}}) ORDER BY time")
    stories = timeseries(
        "Stories per actor per day", "Distinct stories a day naming each selected actor: a wire copy on five "
        "sites counts once.",
        "SELECT toDateTime(day) AS time, actor_id, stories FROM newsstream.mentions_per_actor_day WHERE "
        "day >= toDate($__fromTime) AND day <= toDate($__toTime) AND actor_id IN (${actor:singlequote}) "
        "ORDER BY time", draw="bars")
    top = table(
        "Top actors in range", "The 20 most mentioned actors in the time range (all actors, not only the "
        "selected ones).",
        "SELECT actor_name, sum(mentions) AS mentions, sum(articles) AS articles, sum(stories) AS stories FROM "
        f"newsstream.mentions_per_actor_week WHERE {IN_RANGE_WEEKS} GROUP BY actor_name ORDER BY mentions DESC "
        "LIMIT 20", sort_by="mentions")
    return dashboard("newsstream-actor-trends", "Actor trends",
                     "Weekly and daily mentions of dictionary actors (weeks start on Monday).",
                     [[(weekly, 10)], [(stories, 9)], [(top, 10)]], [actor_variable()])


def actors_this_week() -> dict:
    risers = table(
        "Top actors, latest week vs the week before", "Stories and mentions in the latest week of the range "
        "that has data, with the change from the week before.",
        f"WITH {LATEST_WEEK} AS this_week SELECT actor_name, sumIf(stories, week = this_week) AS stories_latest, "
        "sumIf(stories, week = this_week - 7) AS stories_week_before, stories_latest - stories_week_before AS change, "
        "sumIf(mentions, week = this_week) AS mentions_latest FROM newsstream.mentions_per_actor_week "
        "WHERE week IN (this_week, this_week - 7) GROUP BY actor_name HAVING stories_latest > 0 "
        "ORDER BY stories_latest DESC, change DESC LIMIT 25", sort_by="stories_latest")
    pairs = table(
        "Actors named together", "Pairs of actors in the same article, in the time range, strongest first.",
        "SELECT a.name AS actor_a, b.name AS actor_b, sum(c.stories) AS stories, sum(c.articles) AS articles "
        "FROM newsstream.co_mentions_per_week AS c "
        "LEFT JOIN (SELECT actor_id, anyLast(actor_name) AS name FROM newsstream.mentions_per_actor_week "
        "GROUP BY actor_id) AS a ON a.actor_id = c.actor_a "
        "LEFT JOIN (SELECT actor_id, anyLast(actor_name) AS name FROM newsstream.mentions_per_actor_week "
        "GROUP BY actor_id) AS b ON b.actor_id = c.actor_b "
        "WHERE c.week >= toStartOfWeek($__fromTime, 1) AND c.week <= $__toTime "
        "GROUP BY actor_a, actor_b ORDER BY stories DESC, articles DESC LIMIT 50", sort_by="stories")
    new_names = table(
        "New names the dictionary lacks", "Persons, organizations and places no dictionary actor claims, in the "
        "latest week of the range that has any, with the change from the week before (one row per name key: "
        "spelling variants and clitic forms together). Promote one with `newsstream actors promote KEY`.",
        "WITH (SELECT max(week) FROM newsstream.unlinked_names_per_week WHERE " + IN_RANGE_WEEKS + ") AS this_week "
        "SELECT key AS name, type, sumIf(articles, week = this_week) AS articles_latest, "
        "sumIf(articles, week = this_week - 7) AS articles_week_before, "
        "articles_latest - articles_week_before AS change, sumIf(sites, week = this_week) AS sites, "
        "sumIf(mentions, week = this_week) AS mentions_latest FROM newsstream.unlinked_names_per_week "
        "WHERE week IN (this_week, this_week - 7) AND concat('candidate:', key) NOT IN "
        "(SELECT assumeNotNull(promoted_from) FROM newsstream.actors WHERE promoted_from IS NOT NULL) "
        "GROUP BY key, type HAVING articles_latest > 0 ORDER BY change DESC, articles_latest DESC LIMIT 50",
        sort_by="articles_latest")
    return dashboard("newsstream-actors-this-week", "Actors this week",
                     "Who leads the latest week, who rose, who appears together, and new names the dictionary lacks.",
                     [[(risers, 12), (pairs, 12)], [(new_names, 10)]])


def stories_and_sites() -> dict:
    copies = table(
        "Stories with most copies", "Articles grouped into one story (exact and near copies), in the range.",
        "SELECT story_id, any(title) AS title, count() AS copies, uniqExact(site) AS sites, "
        "arrayStringConcat(groupUniqArray(site), ', ') AS site_list, min(published_at) AS first_published "
        "FROM newsstream.articles FINAL WHERE $__timeFilter(published_at) GROUP BY story_id "
        "ORDER BY copies DESC, first_published LIMIT 25", sort_by="copies")
    per_site = timeseries(
        "Articles per site per day", "Distinct articles a day from each site.",
        "SELECT toDateTime(day) AS time, site, articles FROM newsstream.articles_per_site_day "
        "WHERE day >= toDate($__fromTime) AND day <= toDate($__toTime) ORDER BY time", draw="bars", stack=True)
    carriers = table(
        "Sites carrying the selected actors", "Articles and stories per site naming the selected actors; copies "
        "are articles that repeat another site's story.",
        "SELECT site, actor_id, uniqExact(article_id) AS articles, uniqExact(story_id) AS stories, "
        "uniqExactIf(article_id, story_id != article_id) AS copies FROM newsstream.mentions FINAL "
        "WHERE $__timeFilter(published_at) AND actor_id IN (${actor:singlequote}) GROUP BY site, actor_id "
        "ORDER BY articles DESC", sort_by="articles")
    return dashboard("newsstream-stories-sites", "Stories and sites",
                     "Republished stories and the sites that carry the news.",
                     [[(copies, 10)], [(per_site, 9), (carriers, 9)]], [actor_variable()])


def pipeline_health() -> dict:
    outcomes = timeseries(
        "Outcomes per minute", "Raw pages that became articles or dead letters, by minute of arrival in the "
        "warehouse.",
        "SELECT toStartOfMinute(processed_at) AS time, outcome, count() AS pages FROM newsstream.ledger FINAL "
        "WHERE $__timeFilter(processed_at) GROUP BY time, outcome ORDER BY time", draw="bars", stack=True)
    latency = timeseries(
        "Raw topic to warehouse latency", "Seconds from a page landing in the raw topic to its outcome being "
        "queryable, p50 and p95 per minute (target: p95 under 30 s).",
        "SELECT toStartOfMinute(processed_at) AS time, "
        "quantile(0.5)(dateDiff('millisecond', raw_at, processed_at)) / 1000 AS p50, "
        "quantile(0.95)(dateDiff('millisecond', raw_at, processed_at)) / 1000 AS p95 "
        "FROM newsstream.ledger FINAL WHERE raw_at IS NOT NULL AND $__timeFilter(processed_at) "
        "GROUP BY time ORDER BY time", unit="s")
    lag = timeseries(
        "Consumer lag", "Messages not yet consumed per topic (sum over partitions), measured by the sink worker.",
        "SELECT toStartOfMinute(at) AS time, topic, max(lag) AS lag FROM (SELECT at, topic, sum(lag) AS lag "
        "FROM newsstream.consumer_lag WHERE $__timeFilter(at) GROUP BY at, topic) GROUP BY time, topic "
        "ORDER BY time")
    reasons = table(
        "Dead letters by stage and reason", "Documents that did not become articles, in the range.",
        "SELECT stage, reason, count() AS documents, max(at) AS last_seen FROM newsstream.dead_letters FINAL "
        "WHERE $__timeFilter(at) GROUP BY stage, reason ORDER BY documents DESC", sort_by="documents")
    totals = stat(
        "In range", "Articles, dead letters and raw pages in the time range.",
        "SELECT countIf(outcome = 'article') AS articles, countIf(outcome = 'dead_letter') AS dead_letters, "
        "count() AS raw_pages FROM newsstream.ledger FINAL WHERE $__timeFilter(processed_at)")
    return dashboard("newsstream-pipeline-health", "Pipeline health",
                     "Throughput, freshness, lag and dead letters, from the warehouse's ledger.",
                     [[(totals, 5)], [(outcomes, 9), (latency, 9)], [(lag, 9), (reasons, 9)]],
                     time_from="now-6h", refresh="30s")


DASHBOARDS = {"actor-trends": actor_trends, "actors-this-week": actors_this_week,
              "stories-and-sites": stories_and_sites, "pipeline-health": pipeline_health}


def render(name: str) -> str:
    return json.dumps(DASHBOARDS[name](), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    for name in DASHBOARDS:
        path = OUT / f"{name}.json"
        path.write_text(render(name), encoding="utf-8")
        print(path)
