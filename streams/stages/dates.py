"""Arabic datelines and bylines, in both month systems.

Hand-written because date libraries parse a date string, not the first dateline inside
running Arabic text, and none knows "نوفمبر/تشرين الثاني" (both month names at once).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from streams.arabic import normalize

# Normalized forms (see streams.arabic): alef forms folded, ta marbuta -> ha, ya folded.
_MONTHS = {
    "يناير": 1, "فبراير": 2, "مارس": 3, "ابريل": 4, "مايو": 5, "يونيو": 6, "يونيه": 6,
    "يوليو": 7, "يوليه": 7, "اغسطس": 8, "سبتمبر": 9, "اكتوبر": 10, "نوفمبر": 11, "ديسمبر": 12,
    "كانون الثاني": 1, "شباط": 2, "اذار": 3, "نيسان": 4, "ايار": 5, "حزيران": 6,
    "تموز": 7, "اب": 8, "ايلول": 9, "تشرين الاول": 10, "تشرين الثاني": 11, "كانون الاول": 12,
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
}
_MONTH = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_DATELINE = re.compile(
    rf"(?<!\d)(\d{{1,2}})\s+({_MONTH})(?:\s*[/\\-]\s*(?:{_MONTH}))?\s*,?\s+(\d{{4}})"
    rf"(?:\s*[-–|,]?\s*(?:الساعه\s*)?(\d{{1,2}}):(\d{{2}}))?"
)


def find_dateline(text: str, *, not_after: datetime | None = None) -> datetime | None:
    """First plausible 'day month year [hh:mm]' in `text`, as UTC (the page's zone is rarely stated)."""
    for m in _DATELINE.finditer(normalize(text)):
        day, month, year = int(m.group(1)), _MONTHS[m.group(2)], int(m.group(3))
        hour, minute = (int(m.group(4)), int(m.group(5))) if m.group(4) else (0, 0)
        try:
            found = datetime(year, month, day, hour if hour < 24 else 0, minute if minute < 60 else 0, tzinfo=timezone.utc)
        except ValueError:
            continue
        if 1990 <= year and (not_after is None or found <= not_after):
            return found
    return None
