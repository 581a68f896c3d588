"""`newsstream report`: mentions per actor per week as one self-contained HTML file, for people without Grafana.

The chart is an SVG drawn by matplotlib and inlined, so the file opens anywhere with nothing to fetch.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

METRICS = ("stories", "mentions", "articles")
Query = Callable[[str, dict[str, str]], tuple[list[str], list[tuple]]]

WEEKLY_SQL = """
SELECT week, actor_id, actor_name, mentions, articles, stories
FROM mentions_per_actor_week
WHERE week >= toStartOfWeek(toDate({since:String}), 1) AND week <= toDate({until:String})
ORDER BY week, actor_id
"""
TOTALS_SQL = """
SELECT
    (SELECT count() FROM articles FINAL
     WHERE toDate(published_at) BETWEEN toDate({since:String}) AND toDate({until:String})),
    (SELECT uniqExact(story_id) FROM articles FINAL
     WHERE toDate(published_at) BETWEEN toDate({since:String}) AND toDate({until:String})),
    (SELECT count() FROM dead_letters FINAL)
"""


def select_actors(rows: list[tuple], metric: str, top: int, wanted: list[str]) -> list[str]:
    """The actors to draw: those asked for, else the `top` ones by the metric's total over the range."""
    if wanted:
        return wanted
    column = {"mentions": 3, "articles": 4, "stories": 5}[metric]
    totals: dict[str, int] = {}
    for row in rows:
        totals[row[1]] = totals.get(row[1], 0) + int(row[column])
    return [a for a, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def all_weeks(rows: list[tuple]) -> list[date]:
    """Every Monday from the first week with data to the last: a week without mentions is a zero, not a gap."""
    from datetime import timedelta

    present = sorted({r[0] for r in rows})
    if not present:
        return []
    weeks, week = [], present[0]
    while week <= present[-1]:
        weeks.append(week)
        week += timedelta(weeks=1)
    return weeks


def chart_svg(rows: list[tuple], actors: list[str], names: dict[str, str], metric: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    column = {"mentions": 3, "articles": 4, "stories": 5}[metric]
    weeks = all_weeks(rows)
    series = {a: {w: 0 for w in weeks} for a in actors}
    for row in rows:
        if row[1] in series:
            series[row[1]][row[0]] = int(row[column])
    fig, ax = plt.subplots(figsize=(11, 5), dpi=100)
    for actor in actors:
        values = [series[actor][w] for w in weeks]
        # matplotlib plots dates through its unit converters; its stubs admit only arrays of numbers here
        ax.plot(weeks, values, marker="o", markevery=[i for i, v in enumerate(values) if v], linewidth=1.8,  # type: ignore[arg-type]
                label=names.get(actor, actor))
    ax.set_ylabel(f"{metric} per week")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.autofmt_xdate()
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg")
    plt.close(fig)
    svg = out.getvalue()
    return svg[svg.index("<svg"):]


def render_report(query: Query, *, since: date, until: date, metric: str = "mentions", top: int = 8,
                  actors: list[str] | None = None) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}")
    params = {"since": since.isoformat(), "until": until.isoformat()}
    _, rows = query(WEEKLY_SQL, params)
    rows = [(r[0] if isinstance(r[0], date) else date.fromisoformat(str(r[0])[:10]), *r[1:]) for r in rows]
    names = {r[1]: r[2] for r in rows}
    chosen = select_actors(rows, metric, top, actors or [])
    _, totals = query(TOTALS_SQL, params)
    articles, stories, dead = totals[0]
    weeks = sorted({r[0] for r in rows})
    by_key = {(r[0], r[1]): r for r in rows}
    head = "".join(f"<th>{html.escape(names.get(a, a))}</th>" for a in chosen)
    body = []
    for week in weeks:
        cells = []
        for actor in chosen:
            r = by_key.get((week, actor))
            cells.append(f"<td title='mentions / articles / stories'>{r[3]} / {r[4]} / {r[5]}</td>"
                         if r else "<td>·</td>")
        body.append(f"<tr><th>{week.isoformat()}</th>{''.join(cells)}</tr>")
    chart = chart_svg(rows, chosen, names, metric) if rows and chosen else "<p>No mentions in this range.</p>"
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    heading = f"{metric.capitalize()} per actor per week"  # the title says what the chart counts
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{heading}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; }}
thead th {{ background: #f4f4f4; }}
.summary {{ color: #555; }}
</style></head><body>
<h1>{heading}</h1>
<p class="summary">{since.isoformat()} to {until.isoformat()} · {articles} articles in {stories} stories ·
{dead} dead letters in the warehouse · chart: {metric} per ISO week (Monday) · generated {generated}</p>
{chart}
<h2>Weekly figures (mentions / articles / stories)</h2>
<table><thead><tr><th>week</th>{head}</tr></thead><tbody>
{''.join(body)}
</tbody></table>
</body></html>
"""


def write_report(path: Path, query: Query, **options) -> Path:
    path.write_text(render_report(query, **options), encoding="utf-8")
    return path


RANGE_SQL = "SELECT min(week), max(week), count() FROM mentions_per_actor_week"
MENTIONED_SQL = "SELECT DISTINCT actor_id FROM mentions_per_actor_week"


def never_mentioned(query: Query, actors: list[str]) -> list[str]:
    """The asked-for actor ids the warehouse has no mention of, at any time: typos, not empty lines to draw."""
    if not actors:
        return []
    _, rows = query(MENTIONED_SQL, {})
    known = {r[0] for r in rows}
    return [a for a in actors if a not in known]


def data_range(query: Query) -> tuple[date | None, date | None]:
    """First and last week (Mondays) with mentions; (None, None) when there are none."""
    _, rows = query(RANGE_SQL, {})
    first, last, count = rows[0]
    if not count:
        return None, None

    def as_date(value) -> date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        return date.fromisoformat(str(value)[:10])

    from datetime import timedelta

    return as_date(first), as_date(last) + timedelta(days=6)
