"""Arabic datelines and bylines, in both month systems, and time stamps with named zones.

Hand-written because date libraries parse a date string, not the first dateline inside
running Arabic text, and none knows "نوفمبر/تشرين الثاني" (both month names at once) or the
Maghrebi month names (جانفي، جوان، أوت).
"""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta, timezone

from dateutil import parser as dateutil_parser

from streams.pipeline.arabic import normalize

# Normalized forms (see streams.pipeline.arabic): alef forms folded, ta marbuta -> ha, ya folded.
_MONTHS = {
    "يناير": 1, "فبراير": 2, "مارس": 3, "ابريل": 4, "مايو": 5, "يونيو": 6, "يونيه": 6,
    "يوليو": 7, "يوليه": 7, "اغسطس": 8, "سبتمبر": 9, "اكتوبر": 10, "نوفمبر": 11, "ديسمبر": 12,
    "كانون الثاني": 1, "شباط": 2, "اذار": 3, "نيسان": 4, "ايار": 5, "حزيران": 6,
    "تموز": 7, "اب": 8, "ايلول": 9, "تشرين الاول": 10, "تشرين الثاني": 11, "كانون الاول": 12,
    # Maghrebi (Algeria, Tunisia; Morocco writes ماي, يونيو, يوليوز, غشت, شتنبر, نونبر, دجنبر)
    "جانفي": 1, "فيفري": 2, "افريل": 4, "ماي": 5, "جوان": 6, "جويليه": 7, "اوت": 8,
    "يوليوز": 7, "غشت": 8, "شتنبر": 9, "نونبر": 11, "دجنبر": 12,
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
}
# Zone abbreviations news sites print, as offsets in hours. AST is Arabia Standard Time on these sites
# (not Atlantic); IST is left out (India or Israel). dateutil warns on, and will reject, names it lacks.
ZONE_HOURS = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
    "MSK": 3, "AST": 3, "ADT": 4, "TRT": 3, "EAT": 3, "GST": 4, "IRST": 3.5, "IRDT": 4.5, "AFT": 4.5,
    "PKT": 5, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}
TZINFOS = {name: int(hours * 3600) for name, hours in ZONE_HOURS.items()}
_MONTH = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_ZONE_NAMES = "|".join(sorted((z for z in ZONE_HOURS if len(z) > 1), key=len, reverse=True))
_DATELINE = re.compile(
    rf"(?<!\d)(\d{{1,2}})\s+({_MONTH})(?:\s*[/\\-]\s*(?:{_MONTH}))?\s*,?\s+(\d{{4}})"
    rf"(?:\s*[-–|,]?\s*(?:الساعه\s*)?(\d{{1,2}}):(\d{{2}})(?::\d{{2}})?"
    rf"(?:\s*(ص|صباحا|م|مساء|am|pm|a\.m\.|p\.m\.)(?!\w))?"
    rf"(?:\s*\(?\s*(?:(?:gmt|utc)\s*([+-])\s*(\d{{1,2}}):?(\d{{2}})?|({_ZONE_NAMES.lower()})(?!\w))\s*\)?)?)?"
)
# An "updated" stamp: the words just before a dateline that make it the last edit, not the publication.
_UPDATED = re.compile(r"(?:تحديث|محدث|تعديل|updated?|modified|last edited)\W{0,3}(?:\w+\W{1,3}){0,2}$")
_UPDATE_WINDOW = 40


def find_stamp(text: str, *, not_after: datetime | None = None) -> tuple[datetime, int | None] | None:
    """First plausible 'day month year [hh:mm [am/pm] [zone]]' in `text`, preferring a publication stamp to an
    "updated" one: (UTC time, the stated zone's minutes east of UTC or None when no zone is named)."""
    text = normalize(text)
    updated = None
    for m in _DATELINE.finditer(text):
        found = _stamp(m, not_after)
        if found is None:
            continue
        if _UPDATED.search(text[max(0, m.start() - _UPDATE_WINDOW):m.start()]):
            updated = updated or found
            continue
        return found
    return updated


def find_dateline(text: str, *, not_after: datetime | None = None) -> datetime | None:
    """First plausible dateline in `text`, as UTC (a time without a named zone is taken as UTC)."""
    found = find_stamp(text, not_after=not_after)
    return found[0] if found else None


def _stamp(m: re.Match, not_after: datetime | None) -> tuple[datetime, int | None] | None:
    day, month, year = int(m.group(1)), _MONTHS[m.group(2)], int(m.group(3))
    hour, minute = (int(m.group(4)), int(m.group(5))) if m.group(4) else (0, 0)
    meridian = m.group(6)
    if meridian and hour <= 12:
        pm = meridian in ("م", "مساء", "pm", "p.m.")
        hour = (hour % 12) + (12 if pm else 0)
    offset = None
    if m.group(7):
        offset = (int(m.group(8)) * 60 + int(m.group(9) or 0)) * (1 if m.group(7) == "+" else -1)
    elif m.group(10):
        offset = int(ZONE_HOURS[m.group(10).upper()] * 60)
    if offset is not None and abs(offset) > 14 * 60:
        offset = None
    try:
        local = datetime(year, month, day, hour if hour < 24 else 0, minute if minute < 60 else 0,
                         tzinfo=timezone(timedelta(minutes=offset or 0)))
    except ValueError:
        return None
    found = local.astimezone(UTC)
    if year < 1990 or (not_after is not None and found > not_after):
        return None
    return found, offset


_GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\b")
_YEAR = re.compile(r"(?<!\d)(?:19|20|21)\d\d(?!\d)")
# Two far-apart defaults: a stamp that lacks its day, month or year comes out differently under each.
_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))


def parse_stamp(value: str | None) -> datetime | None:
    """A machine-readable time stamp (meta tag, JSON-LD) with any zone news sites name ("… GST"), without
    dateutil's unknown-zone warning; naive when the stamp names no zone; None when it is not a full date
    (a time alone, a year alone) or its offset is impossible."""
    value = normalize(value.strip()).upper() if value else ""
    if not value or len(value) > 64 or not _YEAR.search(value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        parsed = None
    if parsed is None:
        # "GMT+4" means four hours east; dateutil reads it POSIX-style (west): write it as an offset
        value = _GMT_OFFSET.sub(lambda m: f"{m.group(1)}{int(m.group(2)):02d}:{m.group(3) or '00'}", value)
        with warnings.catch_warnings():
            warnings.simplefilter("error", dateutil_parser.UnknownTimezoneWarning)
            try:
                first, second = (dateutil_parser.parse(value, tzinfos=TZINFOS, default=d) for d in _DEFAULTS)
            except (ValueError, OverflowError, TypeError, dateutil_parser.UnknownTimezoneWarning):
                return None
        if first != second:
            return None
        parsed = first
    try:
        offset = parsed.utcoffset()
    except ValueError:
        return None
    if offset is not None and abs(offset) > timedelta(hours=14):
        return None
    return parsed


_ENGLISH_MONTH = (r"(january|february|march|april|may|june|july|august|september|october|november|december|"
                  r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\b\.?")
_MONTH_FIRST = re.compile(rf"(?<![a-z]){_ENGLISH_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})(?!\d)", re.I)
_ENGLISH_MONTHS = {m[:3]: n for m, n in _MONTHS.items() if m.isascii()}


def find_month_first(text: str, *, not_after: datetime | None = None) -> datetime | None:
    """First English "Month D, YYYY" date in `text` ("Dec. 12, 2025", "OCTOBER 13, 2025") that is not an "updated"
    stamp, as midnight UTC (the day the page shows; find_stamp reads the day-first forms)."""
    for m in _MONTH_FIRST.finditer(text):
        if _UPDATED.search(text[max(0, m.start() - _UPDATE_WINDOW):m.start()].lower()):
            continue
        try:
            found = datetime(int(m.group(3)), _ENGLISH_MONTHS[m.group(1).lower()[:3]], int(m.group(2)), tzinfo=UTC)
        except ValueError:
            continue
        if found.year >= 1990 and (not_after is None or found <= not_after):
            return found
    return None
