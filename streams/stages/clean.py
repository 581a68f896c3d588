"""Clean stage: page bytes + URL -> Article (title, text, language, date, site, canonical URL).

Pure: same input, same article. trafilatura does the extraction; this module decides
what counts as an article and rejects the rest with a reason.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

import lxml.etree
import lxml.html
import py3langid
import trafilatura
from courlan import normalize_url

from schemas.records import Article, RawRef
from streams.arabic import fingerprint_text
from streams.stages import Rejected
from streams.stages.charset import decode_html
from streams.stages.dates import find_dateline


@dataclass(frozen=True)
class CleanLimits:
    max_page_bytes: int = 5_000_000
    min_text_chars: int = 200
    max_text_chars: int = 200_000


_HTML_TAG = re.compile(r"<\s*(?:html|head|body|article|main|div|p|h1|title|meta|section|span|table)\b", re.I)
# Headings that close an article on many templates and that trafilatura keeps as a last line.
_TRAILING_CHROME = {"التعليقات", "تعليقات", "اقرأ أيضا", "اقرأ أيضاً", "اقرأ المزيد", "مواضيع ذات صلة",
                    "أخبار ذات صلة", "الأكثر قراءة", "شارك", "شارك الخبر", "comments", "read more",
                    "related", "related articles", "share"}


def canonicalize_url(url: str | None) -> str | None:
    """Canonical URL (courlan: lower-cased host, tracking parameters and fragments removed)."""
    if not url:
        return None
    try:
        return normalize_url(url, strict=True)
    except Exception:  # courlan raises on unparsable URLs; the raw one is still a useful key
        return url


def article_id_for(canonical_url: str | None, fingerprint: str) -> str:
    """Stable id: the canonical URL identifies an article; without one, its content does."""
    return hashlib.sha256((canonical_url or f"content:{fingerprint}").encode()).hexdigest()[:16]


def _site(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _body_lines(text: str, title: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0] == title:
        lines = lines[1:]
    while lines and lines[-1].strip(" :.-").lower() in _TRAILING_CHROME:
        lines.pop()
    return lines


def count_listed_articles(html: str, min_chars: int) -> int:
    """How many <article> blocks each hold a body of their own (paragraphs of at least `min_chars`)."""
    try:
        tree = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return 0
    return sum(1 for node in tree.iter("article")
               if sum(len(p.text_content()) for p in node.iter("p")) >= min_chars)


def clean_page(
    page: bytes | str,
    *,
    url: str | None,
    source: str,
    fetched_at: datetime | None = None,
    content_type: str | None = None,
    raw: RawRef | None = None,
    limits: CleanLimits = CleanLimits(),
) -> Article:
    """One page to one Article, or `Rejected` with a reason."""
    size = len(page if isinstance(page, bytes) else page.encode("utf-8", "surrogatepass"))
    if size == 0 or not (page.strip() if isinstance(page, bytes) else page.strip()):
        raise Rejected("empty", "no bytes")
    if size > limits.max_page_bytes:
        raise Rejected("oversized", f"{size} bytes > limit {limits.max_page_bytes}")
    if isinstance(page, bytes):
        html, charset = decode_html(page, content_type)
    else:
        html, charset = page, "text (already decoded)"
        if "\x00" in html[:1024]:
            raise Rejected("binary", "NUL characters")
    if not _HTML_TAG.search(html[:100_000]):
        raise Rejected("not html", "no HTML markup")

    listed = count_listed_articles(html, limits.min_text_chars)
    if listed >= 2:
        raise Rejected("listing page", f"{listed} articles with their own bodies on one page (tag or archive page)")

    doc = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params={"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"},
    )
    if doc is None or not doc.text:
        raise Rejected("no article text", "the extractor found no main text")
    title = (doc.title or "").strip()
    lines = _body_lines(doc.text, title)
    if not title and lines:
        title, lines = lines[0], lines[1:]
    body = "\n".join(lines)
    if len(body) < limits.min_text_chars:
        raise Rejected("no article text", f"{len(body)} characters of body < {limits.min_text_chars}")

    canonical = canonicalize_url(doc.url or url)
    fingerprint = hashlib.sha1(fingerprint_text(body).encode()).hexdigest()

    published_at = _parse_iso(doc.date)
    published_source = "metadata"
    if published_at is None:
        published_at = (find_dateline(f"{title}\n{body}", not_after=fetched_at)
                        or find_dateline(html[:200_000], not_after=fetched_at))
        published_source = "dateline"
    if published_at is None:
        published_at = fetched_at or datetime.now(timezone.utc)
        published_source = "fetched"

    text = f"{title}\n{body}"
    lang, _score = py3langid.classify(text)
    return Article(
        article_id=article_id_for(canonical, fingerprint),
        source=source,
        url=url,
        canonical_url=canonical,
        site=_site(canonical or url),
        title=title,
        text=text,
        lang=lang,
        published_at=published_at,
        published_source=published_source,
        fetched_at=fetched_at,
        charset=charset,
        fingerprint=fingerprint,
        raw=raw,
    )
