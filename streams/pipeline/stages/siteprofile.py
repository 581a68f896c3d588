"""Per-site profiles: chrome lines and title affixes that recur on many pages of one site, learned from its
stored articles, so a new site's template stops leaking after a few pages without code.

Pure: `learn_profile` takes a site's recent (title, text) pairs and returns a `SiteProfile`; the clean stage
takes the profile as an input (`clean_page(..., profile=)`) and drops those lines and affixes. Where profiles
are stored and refreshed is the runtime's business (streams.warehouse.client: table `site_profiles`).
Hand-written: a count of repeated lines over a site's pages; no library learns boilerplate from a stream.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from streams.pipeline.arabic import normalize

MIN_PAGES = 5  # below this a site has no profile: one page's paragraph must not look like chrome
MIN_SHARE = 0.5  # a line on at least half of a site's pages is its template's
MAX_CHROME_LINE_CHARS = 200
# "‹" and "›" too: WordPress themes put the site name after "‹" ("Title ‹ Site").
_SEPARATOR = re.compile(r"(\s+[-–—|:»«‹›·•~/]{1,2}\s+|\s*[|｜]\s*)")


@dataclass(frozen=True)
class SiteProfile:
    site: str
    chrome_lines: frozenset[str] = frozenset()  # normalized (streams.pipeline.arabic.normalize, spaces squashed)
    title_affixes: tuple[str, ...] = ()  # exact, with their separator: " - اليوم السابع", "المدينة نيوز - "
    pages: int = 0

    def is_chrome(self, line: str) -> bool:
        return bool(self.chrome_lines) and line_key(line) in self.chrome_lines

    def drop_chrome(self, lines: Sequence[str]) -> list[str]:
        return [line for line in lines if not self.is_chrome(line)]


def line_key(line: str) -> str:
    return " ".join(normalize(line).split())


def _affixes(titles: Sequence[str], min_count: int) -> tuple[str, ...]:
    """A prefix or suffix segment, with its separator, shared by at least `min_count` distinct titles."""
    prefixes: Counter[str] = Counter()
    suffixes: Counter[str] = Counter()
    for title in set(titles):
        parts = _SEPARATOR.split(title)
        if len(parts) < 3:  # [text, separator, text]
            continue
        prefixes[parts[0] + parts[1]] += 1
        suffixes[parts[-2] + parts[-1]] += 1
    found = [affix for counter in (suffixes, prefixes) for affix, n in counter.most_common(3) if n >= min_count]
    return tuple(found)


def learn_profile(site: str, articles: Iterable[tuple[str, str]], *, min_pages: int = MIN_PAGES,
                  min_share: float = MIN_SHARE) -> SiteProfile:
    """A site's profile from its articles' (title, text): lines on at least `min_share` of its pages (and on
    at least `min_pages`), and title affixes shared as widely. Too few pages: an empty profile."""
    titles: list[str] = []
    counts: Counter[str] = Counter()
    pages = 0
    for title, text in articles:
        pages += 1
        titles.append(" ".join(title.split()))
        body = text.split("\n")[1:]  # the title heads the text
        counts.update({line_key(line) for line in body if 0 < len(line.strip()) <= MAX_CHROME_LINE_CHARS})
    if pages < min_pages:
        return SiteProfile(site=site, pages=pages)
    need = max(min_pages, int(min_share * pages + 0.999))
    chrome = frozenset(line for line, n in counts.items() if n >= need and line)
    return SiteProfile(site=site, chrome_lines=chrome, title_affixes=_affixes(titles, need), pages=pages)
