"""Article URLs from a source document: RSS/Atom (feedparser), sitemaps, sitemap indexes, news sitemaps."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass

import feedparser
from lxml import etree

SITEMAP_MAX_BYTES = 50 * 1024 * 1024  # the sitemap protocol's limit for one file, uncompressed


@dataclass(frozen=True)
class Discovered:
    urls: list[str]            # article pages, newest first where the source says
    sitemaps: list[str]        # child sitemaps of a sitemap index, to fetch next


def from_feed(body: bytes, base_url: str) -> Discovered:
    parsed = feedparser.parse(body, response_headers={"content-location": base_url})
    entries = sorted(parsed.entries, key=lambda e: tuple(e.get("published_parsed") or e.get("updated_parsed")
                                                         or ()), reverse=True)
    return Discovered([e.link for e in entries if e.get("link")], [])


def gunzipped(body: bytes, max_bytes: int = SITEMAP_MAX_BYTES) -> bytes:
    """`.xml.gz` sitemaps arrive as gzip files, not Content-Encoding, so the HTTP client leaves them packed."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as packed:
        data = packed.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"gzipped sitemap over {max_bytes} bytes unpacked")
    return data


def from_sitemap(body: bytes) -> Discovered:
    """A urlset gives pages (news sitemaps too: newest publication first); a sitemapindex gives sitemaps,
    most recently modified first."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
    root = etree.fromstring(gunzipped(body), parser)
    if root is None:
        return Discovered([], [])
    tag = etree.QName(root).localname
    locs = []
    for child in root:
        if not isinstance(child.tag, str):
            continue
        loc = next((e.text.strip() for e in child if isinstance(e.tag, str) and etree.QName(e).localname == "loc"
                    and e.text), None)
        if not loc:
            continue
        published = next((e.text for e in child.iter() if isinstance(e.tag, str)
                          and etree.QName(e).localname in ("publication_date", "lastmod") and e.text), "")
        locs.append((published, loc))
    # Newest first, sitemaps of an index too: archives often list theirs oldest first, and only a few are read.
    locs.sort(key=lambda pl: pl[0], reverse=True)
    if tag == "sitemapindex":
        return Discovered([], [loc for _, loc in locs])
    return Discovered([loc for _, loc in locs], [])
