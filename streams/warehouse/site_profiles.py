"""Per-site profiles in the warehouse: learned from each site's stored articles, stored in `site_profiles`,
loaded by the worker and handed to the clean stage (streams.pipeline.stages.siteprofile holds the pure learning).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from streams.pipeline.stages.siteprofile import MIN_PAGES, SiteProfile, learn_profile
from streams.warehouse.client import Warehouse

PAGES_PER_SITE = 200  # the newest pages of a site teach its current template


def site_of(url: str | None) -> str | None:
    """The `site` key the clean stage gives a URL's articles."""
    try:
        host = (urlsplit(url).hostname or "") if url else ""
    except ValueError:  # unparsable URL: no site, no profile
        return None
    return host.removeprefix("www.") or None


def learn_site_profiles(warehouse: Warehouse, *, pages_per_site: int = PAGES_PER_SITE,
                        min_pages: int = MIN_PAGES) -> list[SiteProfile]:
    """Learn every site with at least `min_pages` stored articles from its newest `pages_per_site`, store the
    profiles that found something, and return them."""
    _, sites = warehouse.query(
        "SELECT site FROM articles FINAL WHERE site != '' GROUP BY site HAVING count() >= {min_pages:UInt32}",
        {"min_pages": min_pages})
    learned = []
    for (site,) in sites:
        _, rows = warehouse.query(
            "SELECT title, text FROM articles FINAL WHERE site = {site:String} "
            "ORDER BY published_at DESC LIMIT {n:UInt32}", {"site": site, "n": pages_per_site})
        profile = learn_profile(site, rows, min_pages=min_pages)
        if profile.chrome_lines or profile.title_affixes:
            learned.append(profile)
    now = datetime.now(UTC)
    if learned:
        warehouse.insert_rows("site_profiles", [
            {"site": p.site, "chrome_lines": sorted(p.chrome_lines), "title_affixes": list(p.title_affixes),
             "pages": p.pages, "learned_at": now} for p in learned])
    return learned


def load_site_profiles(warehouse: Warehouse) -> dict[str, SiteProfile]:
    """The stored profiles, by site."""
    _, rows = warehouse.query("SELECT site, chrome_lines, title_affixes, pages FROM site_profiles FINAL")
    return {site: SiteProfile(site=site, chrome_lines=frozenset(lines), title_affixes=tuple(affixes), pages=pages)
            for site, lines, affixes, pages in rows}
