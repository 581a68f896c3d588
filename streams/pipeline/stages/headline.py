"""The headline a reader sees, chosen among <h1>, og:title, <title> and JSON-LD `headline` by agreement.

<title> and og:title carry the site's name ("… - اليوم السابع", "المدينة نيوز - …", "… | BBC"), and a page has
several <h1> (the logo, a section name, the headline). A candidate counts when another source agrees with it
(same words, reordered or with the site's name around them); the <h1> the reader sees wins among those that
agree; the site's name (og:site_name, JSON-LD publisher, the host, a learned per-site affix) goes with its
separator. Hand-written: extractors take one source (trafilatura: og:title first) and strip no site names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import lxml.html

from streams.pipeline.arabic import normalize

# Separators between a headline and a site name: spaced dashes, bars, colons, guillemets, bullets.
_SEPARATOR = re.compile(r"\s+[-–—|:»«·•~/]{1,2}\s+|\s*[|｜]\s*|\s+::\s+")
_WORD = re.compile(r"\w+")
_AGREEMENT = 0.6  # word-set overlap from which two candidates name the same headline
_MAX_H1 = 6
_MAX_SITE_SEGMENT_WORDS = 6
_SITE_NAME_SLACK = 12
_NOT_NAMES = {"com", "net", "org", "gov", "edu", "info", "news", "www", "co", "ac"}


@dataclass(frozen=True)
class PageTitles:
    """The title sources of one page and the names its site goes by."""

    h1: tuple[str, ...] = ()
    og_title: str = ""
    title: str = ""
    jsonld_headline: str = ""
    site_names: tuple[str, ...] = ()
    affixes: tuple[str, ...] = field(default=())  # learned per site (streams.pipeline.stages.siteprofile)


def _squash(text: str | None) -> str:
    return " ".join((text or "").split())


def _words(text: str) -> set[str]:
    return set(_WORD.findall(normalize(text)))


def _agree(a: str, b: str) -> bool:
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return False
    return len(wa & wb) / min(len(wa), len(wb)) >= _AGREEMENT and len(wa & wb) / max(len(wa), len(wb)) >= 0.5


def _is_site_name(segment: str, site_names: Iterable[str]) -> bool:
    seg = normalize(segment).strip(" .-|")
    if not seg or len(seg.split()) > _MAX_SITE_SEGMENT_WORDS:
        return False
    flat = seg.replace(" ", "")
    for name in site_names:
        name = normalize(name).strip()
        if not name:
            continue
        compact = name.replace(" ", "")
        # "CNNArabic.com" for "CNNArabic", "BBC News عربي" for "bbc": the name with a few characters around it
        if seg == name or (compact in flat and len(flat) <= len(compact) + _SITE_NAME_SLACK) or (
                len(flat) >= 3 and flat in compact):
            return True
    return False


def strip_site_name(text: str, site_names: Sequence[str], affixes: Sequence[str] = ()) -> str:
    """`text` without a site's name (or a learned affix) and its separator at either end."""
    text = _squash(text)
    for affix in affixes:
        if affix and text.startswith(affix) and len(text) > len(affix) + 3:
            text = text[len(affix):].strip()
        if affix and text.endswith(affix) and len(text) > len(affix) + 3:
            text = text[: -len(affix)].strip()
    for _ in range(2):
        parts = _SEPARATOR.split(text)
        if len(parts) < 2:
            break
        seps = _SEPARATOR.findall(text)
        if _is_site_name(parts[-1], site_names):
            text = text[: len(text) - len(parts[-1]) - len(seps[-1])].strip()
        elif _is_site_name(parts[0], site_names):
            text = text[len(parts[0]) + len(seps[0]):].strip()
        else:
            break
    return text


def choose_headline(titles: PageTitles) -> str:
    """The headline: the first <h1> another source agrees with; else the metadata title most sources agree
    with, without the site's name; else the first non-empty source."""
    names = titles.site_names
    metadata = [strip_site_name(t, names, titles.affixes)
                for t in (titles.jsonld_headline, titles.og_title, titles.title) if _squash(t)]
    raw_metadata = [_squash(t) for t in (titles.jsonld_headline, titles.og_title, titles.title) if _squash(t)]
    for h1 in titles.h1:
        h1 = _squash(h1)
        if not h1 or _is_site_name(h1, names):
            continue
        if any(_agree(h1, m) for m in metadata) or any(h1 in raw for raw in raw_metadata):
            return h1
    if not metadata:
        return next((_squash(h) for h in titles.h1 if _squash(h)), "")
    # A site name no source declared shows as the segment two sources share at opposite ends.
    metadata = [_strip_shared_segment(m, raw_metadata) for m in metadata]
    support = [sum(_agree(m, other) for other in metadata) for m in metadata]
    best = max(support)
    return next(m for m, s in zip(metadata, support, strict=False) if s == best)


def _strip_shared_segment(text: str, others: Sequence[str]) -> str:
    """Drop an end segment of `text` that also ends or starts another source while the rest differs."""
    parts = _SEPARATOR.split(text)
    if len(parts) < 2:
        return text
    for end in (parts[0], parts[-1]):
        hits = sum(1 for o in others if o != text and (o.startswith(end) or o.endswith(end)))
        rest = text.replace(end, "", 1)
        if hits and any(_agree(rest, o) for o in others) and len(_words(end)) <= _MAX_SITE_SEGMENT_WORDS:
            return strip_site_name(text, [end])
    return text


# --- reading the sources from a parsed page ---------------------------------------------------------

def _meta(tree: lxml.html.HtmlElement, *keys: str) -> str:
    for key in keys:
        for node in tree.xpath(f"//meta[@property='{key}' or @name='{key}']"):
            if (content := _squash(node.get("content"))):
                return content
    return ""


def jsonld_objects(tree: lxml.html.HtmlElement) -> list[dict]:
    """Every JSON object in the page's JSON-LD scripts (@graph flattened); broken scripts are skipped."""
    found: list[dict] = []
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except (ValueError, TypeError, RecursionError):  # broken or absurdly nested JSON: skipped
            continue
        queue = [data]  # document order: the page's own objects before nested ones
        while queue and len(found) < 50:
            item = queue.pop(0)
            if isinstance(item, list):
                queue.extend(item)
            elif isinstance(item, dict):
                found.append(item)
                if isinstance(item.get("@graph"), list):
                    queue.extend(item["@graph"])
    return found


def page_titles(tree: lxml.html.HtmlElement, url: str | None, objects: list[dict] | None = None,
                affixes: Sequence[str] = ()) -> PageTitles:
    """The title sources of a parsed page."""
    objects = jsonld_objects(tree) if objects is None else objects
    headline = next((_squash(o["headline"]) for o in objects if isinstance(o.get("headline"), str)), "")
    names = [_meta(tree, "og:site_name"), _meta(tree, "application-name")]
    for o in objects:
        publisher = o.get("publisher")
        if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
            names.append(publisher["name"])
    try:
        host = (urlsplit(url).hostname or "") if url else ""
    except ValueError:  # an unparsable URL ("http://[::1") names no site
        host = ""
    # the registrable label: "cnn" in arabic.cnn.com, "bbc" in bbc.co.uk
    labels = [p for p in reversed(host.split(".")[:-1]) if len(p) >= 3 and p not in _NOT_NAMES]
    names.extend(labels[:1])
    title_node = tree.find(".//title")
    return PageTitles(
        h1=tuple(_squash(h.text_content()) for h in tree.xpath("//body//h1")[:_MAX_H1]),
        og_title=_meta(tree, "og:title", "twitter:title"),
        title=_squash(title_node.text_content()) if title_node is not None else "",
        jsonld_headline=headline,
        site_names=tuple(n for n in names if n),
        affixes=tuple(affixes),
    )
