"""Clean stage: page bytes + URL -> Article (title, text, language, date, author, site, canonical URL).

Pure: same input, same article. trafilatura does the extraction; this module decides what counts
as an article, rejects the rest with a reason, and removes what trafilatura leaks on news templates.

Captions and credit lines are dropped. Image captions (<figcaption>, wp-caption) go with the images,
which trafilatura leaves out; this module drops the caption and credit lines that reach the text as
plain lines: a line repeating the headline, a short line opening with "المصدر:", "Source:", "Photo:"
and the like, and an Arabic caption ending in a Latin-script photo credit ("ستيفان دي ميستورا / Omar
Sanadiki / Reuters"). They repeat the headline or name photographers and agencies, so keeping them would
count an actor twice and credit outlets as mentions. The site stays on `site`, the byline on `author`.
(Pruning caption elements before extraction changed nothing on either benchmark set and cost 0.7 ms a page.)

Publication time, best first: the page's metadata (meta tags, JSON-LD datePublished), a <time datetime> (not an
"updated" one), the date printed with the headline, an Arabic or English dateline in the article then on the page
(both month systems), the date in the URL path, an "updated" <time>, and only then the crawl time (flagged
'fetched'). A stamp written in UTC takes the zone the page's <time> elements state.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import cast
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html
import orjson
import py3langid
import trafilatura
from htmldate import find_date
from htmldate.extractors import extract_url_date
from htmldate.utils import Extractor
from trafilatura.metadata import examine_meta, extract_meta_json, extract_title, extract_url
from trafilatura.settings import Document
from trafilatura.settings import Extractor as ExtractionOptions
from trafilatura.utils import load_html

from schemas.records import Article, PublishedSource, RawRef
from streams.pipeline.arabic import fingerprint_text
from streams.pipeline.identity import canonicalize_url
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.charset import decode_html
from streams.pipeline.stages.chrome import drop_chrome_lines, prune_chrome
from streams.pipeline.stages.dates import find_dateline, find_month_first, find_stamp, parse_stamp
from streams.pipeline.stages.headline import choose_headline, jsonld_objects, page_titles
from streams.pipeline.stages.siteprofile import SiteProfile


@dataclass(frozen=True)
class CleanLimits:
    max_page_bytes: int = 5_000_000
    min_text_chars: int = 200
    max_text_chars: int = 200_000


_HTML_TAG = re.compile(r"<\s*(?:html|head|body|article|main|div|p|h1|title|meta|section|span|table)\b", re.I)
# Headings that close an article on many templates and that trafilatura keeps as a last line.
_TRAILING_CHROME = {"التعليقات", "تعليقات", "اقرأ أيضا", "اقرأ أيضاً", "اقرأ المزيد", "مواضيع ذات صلة",
                    "أخبار ذات صلة", "أخبار متعلقة", "ذات صلة", "الأكثر قراءة", "شارك", "شارك الخبر", "شارك هذا",
                    "اترك تعليقا", "اترك تعليقاً", "أضف تعليق", "أضف تعليقك", "الوسوم", "وسوم",
                    "comments", "read more", "related", "related articles", "share", "leave a reply", "tags"}
_CREDIT_LINE = re.compile(
    r"^\s*(?:المصدر|مصدر الصورة|الصورة|صورة|تصوير|حقوق الصورة|source|photo|image|credit|photo credit)\s*[:：|]", re.I)
# "ستيفان دي ميستورا / Omar Sanadiki / Reuters": an Arabic caption ending in a Latin-script agency or photographer.
_PHOTO_CREDIT = re.compile(r"[\u0600-\u06ff][^/]*(?:\s/\s*[A-Za-z][\w.&'-]*(?:\s+[A-Za-z][\w.&'-]*){0,3}){1,3}\s*$")
_MAX_CREDIT_CHARS = 100
# Characters that change no word a reader sees: bidi marks, embeddings and isolates, zero-width (non-)joiners and
# spaces, the BOM. A headline with them and its copy in the body without them are one line.
_INVISIBLE_MARKS = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_GZIP_MAGIC = b"\x1f\x8b"
_COMMENTS_HEADING = re.compile(
    r"^\W*(?:\d+\s*)?(?:التعليقات|تعليقات|تعليقات القراء|أضف تعليق[اًك]*|اترك تعليقا?ً?|comments?|\d* ?responses?|"
    r"leave a (?:reply|comment)|join the discussion|discussion)\W*(?:\(\d+\))?\W*$", re.I)
_MIN_TEXT_BEFORE_COMMENTS = 200
_BYLINE_PREFIX = re.compile(r"^(?:بواسطة|بقلم|كتب|كتبه|by)\s*:?\s+", re.I)
_MAX_DATE_LINE_CHARS = 80
_AUTHOR_NODES = lxml.etree.XPath(
    "//body//*[@rel='author' or @itemprop='author' or contains(@class, 'author') or contains(@class, 'byline')]")
_DATE_PARAMS = {"extensive_search": False, "original_date": True, "deferred_url_extractor": True,
                "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_EXTENSIVE_DATE_PARAMS = {**_DATE_PARAMS, "extensive_search": True}
_MAX_AUTHOR_CHARS = 60
_ARTICLE_LINE_CHARS = 120  # mean line length from which a text reads as paragraphs
_NAVIGATION_SHARE = 0.8
_LISTED_SHARE = 0.5  # a body mostly made of listed blocks' paragraphs is the listing itself
_DOMINANT_RATIO = 2.0  # a block twice as long as the next is the page's article, the others are teasers
_LANGID_CHARS = 400  # a page's language shows in its first paragraphs; the whole text costs milliseconds a page
# libxml2 keeps at most this many nested elements and drops what lies deeper.
_PARSER_DEPTH = 255
_URL_DATE = Extractor(extensive=False, max=datetime(2100, 1, 1), min=datetime(1990, 1, 1), original=True,
                      format="%Y-%m-%d")


def article_id_for(canonical_url: str | None, fingerprint: str) -> str:
    """Stable id: the canonical URL identifies an article; without one, its content does."""
    return hashlib.sha256((canonical_url or f"content:{fingerprint}").encode()).hexdigest()[:16]


def _site(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # "http://[::1": no site rather than a crash
        return None
    return host.removeprefix("www.") or None


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _is_credit(line: str) -> bool:
    return len(line) <= _MAX_CREDIT_CHARS and bool(_CREDIT_LINE.match(line) or _PHOTO_CREDIT.search(line))


def _is_date_line(line: str) -> bool:
    return len(line) <= _MAX_DATE_LINE_CHARS and find_dateline(line) is not None


def _body_lines(text: str, title: str, profile: SiteProfile | None = None) -> tuple[list[str], list[str]]:
    """(body paragraphs, date lines): the title once (it heads `text`, so never in the body), no credits,
    no line that is only a date or byline, no closing chrome, none of the site's learned chrome lines."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if profile is not None:
        lines = profile.drop_chrome(lines)
    shown = _INVISIBLE_MARKS.sub("", title)  # the title as read: bidi and zero-width marks in one copy only
    lines = [line for line in lines if line != title and _INVISIBLE_MARKS.sub("", line) != shown
             and not _is_credit(line)]
    dates = [line for line in lines if _is_date_line(line)]
    lines = [line for line in lines if line not in dates]
    # A comments heading ends the article: what follows is readers' text, whatever the widget's classes say.
    cut = next((i for i, line in enumerate(lines) if _COMMENTS_HEADING.match(line)), None)
    if cut is not None and sum(map(len, lines[:cut])) >= _MIN_TEXT_BEFORE_COMMENTS:
        lines = lines[:cut]
    lines = drop_chrome_lines(lines, _MIN_TEXT_BEFORE_COMMENTS)
    while lines and lines[-1].strip(" :.-").lower() in _TRAILING_CHROME:
        lines.pop()
    return lines, dates


def _author(from_metadata: str | None, tree: lxml.html.HtmlElement) -> str | None:
    """Meta tags and JSON-LD first, then the first short byline element, without its 'by' prefix.

    By hand rather than trafilatura's extract_author, which copies and prunes the whole tree (a third of an
    extraction's time on the public benchmark). A byline that holds a date is a dateline, not an author.
    """
    if from_metadata:
        return _BYLINE_PREFIX.sub("", from_metadata.strip()).strip() or None
    for node in _AUTHOR_NODES(tree)[:5]:
        text = " ".join(node.text_content().split())
        if not text or len(text) > _MAX_AUTHOR_CHARS or find_dateline(text) is not None:
            continue
        return _BYLINE_PREFIX.sub("", text).strip() or None
    return None


def _unwrap_layout_tables(tree: lxml.html.HtmlElement) -> None:
    """Tables holding headings, forms or other tables lay out a page (old portals): make them blocks,
    so the article inside is not dropped or flattened as a data table."""
    for table in tree.xpath("//table[.//table or .//form or .//h1 or .//h2 or .//h3]"):
        for node in table.xpath("descendant-or-self::*[self::table or self::tbody or self::thead or self::tfoot"
                                " or self::tr or self::td or self::th]"):
            node.tag = "div"


def _depth(tree: lxml.html.HtmlElement, limit: int = _PARSER_DEPTH) -> int:
    """Nesting depth, without recursion, stopping at `limit`."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest >= limit:
                return deepest
        stack.extend((child, depth + 1) for child in node)
    return deepest


def count_listed_articles(tree: lxml.html.HtmlElement | str, min_chars: int) -> int:
    """How many articles a tag or archive page lists: outermost <article> blocks (comments aside), each with a
    heading and a body of its own (paragraphs of at least `min_chars`), none dominating the others.

    An article page with teaser or comment blocks beside it has one block far longer than the rest: 0.
    """
    return listed_articles(tree, min_chars)[0]


def listed_articles(tree: lxml.html.HtmlElement | str, min_chars: int) -> tuple[int, frozenset[str]]:
    """(count_listed_articles, the paragraph texts of those blocks), so that an article page whose own body lies
    outside them (a guide with sections as <article>, teasers beside an article) is told from a listing."""
    if isinstance(tree, str):
        try:
            tree = lxml.html.fromstring(tree)
        except (lxml.etree.ParserError, ValueError):
            return 0, frozenset()
    sizes: list[int] = []
    headed, paragraphs = 0, set[str]()
    for node in tree.iter("article"):
        if "comment" in f"{node.get('class', '')} {node.get('id', '')}".lower():
            continue
        if any(parent.tag == "article" for parent in node.iterancestors()):
            continue
        texts = [" ".join(p.text_content().split()) for p in node.iter("p")]
        if (size := sum(map(len, texts))) >= min_chars:
            sizes.append(size)
            # a listed article's heading links to its own page; an article's section headings do not
            if node.xpath(".//*[self::h1 or self::h2 or self::h3][.//a[@href]]"):
                headed += 1
                paragraphs.update(t for t in texts if t)
    sizes.sort(reverse=True)
    if headed < 2 or sizes[0] >= _DOMINANT_RATIO * sizes[1]:
        return 0, frozenset()
    return headed, frozenset(paragraphs)


# --- the lead paragraph ---------------------------------------------------------------------------
# A lead in its own block between the headline and the article's text (a bold first paragraph in a div of its own,
# which trafilatura leaves out with the headline area). Not a dek or standfirst (a subtitle that the article's text
# does not continue: the public set's truth leaves those out) and never a caption, byline or list.
_LEAD_MIN_CHARS, _LEAD_MAX_CHARS = 80, 800
_LEAD_BLOCK_TAGS = {"p", "div", "section"}
_BLOCK_CHILDREN = {"p", "div", "section", "article", "ul", "ol", "table", "figure", "h1", "h2", "h3", "h4", "h5",
                   "h6", "blockquote", "header", "footer", "aside", "nav", "form", "dl", "pre"}
_NOT_LEAD_PLACES = {"figure", "figcaption", "header", "footer", "nav", "aside", "form", "a", "li", "blockquote",
                    "table"}
_DEK_NAMES = re.compile(r"summary|standfirst|dek\b|sub-?title|sub-?head|excerpt|description|strapline|kicker|"
                        r"teaser|caption|credit|byline|author|meta|date|time|tag|breadcrumb", re.I)
_SENTENCE_END = (".", "!", "?", "؟", "۔", ".\"", ".”", ".»", ".)")
_MIN_LINE_CHARS = 40  # shorter blocks between headline and lead are labels, bylines, dates
_LEAD_MAX_DEPTH = 2  # the lead sits at most this many wrappers below the container it shares with the text


def _leaf_blocks(node: lxml.html.HtmlElement):
    return node.tag in _LEAD_BLOCK_TAGS and not any(
        isinstance(child.tag, str) and child.tag in _BLOCK_CHILDREN for child in node)


def _lead_paragraph(tree: lxml.html.HtmlElement, lines: list[str], title: str) -> str | None:
    """The text of a lead block the extraction left out: the nearest text block before the element holding the
    body's first line, after the page's <h1>, when it reads as a paragraph (a sentence of 80-800 characters, few
    links) and is neither a dek, a caption nor a byline by its place or its names."""
    if not lines or not title:
        return None
    probe = lines[0][:30]
    if len(probe) < 20:
        return None
    h1 = next(tree.iter("h1"), None)
    if h1 is None:
        return None
    found = tree.xpath("//body//text()[contains(., $s)]", s=probe)
    if not found:
        return None
    first = found[0].getparent()
    if found[0].is_tail:  # text after an inline element: the block is that element's parent
        first = first.getparent()
    if first is None:
        return None
    # Every block between the headline and the text lies inside their closest shared container, which must be
    # the article's (not the page's body): only that subtree is walked.
    above_h1 = set(h1.iterancestors())
    scope = next((node for node in first.iterancestors() if node in above_h1), None)
    if scope is None or scope.tag in ("body", "html"):
        return None
    candidate, seen_h1 = None, False
    for node in scope.iter():
        if node is first:
            break
        if node is h1:
            seen_h1 = True
            continue
        if not seen_h1 or not isinstance(node.tag, str) or not _leaf_blocks(node):
            continue
        text = " ".join(node.text_content().split())
        if len(text) >= _MIN_LINE_CHARS and h1 not in node.iterancestors():
            candidate = node
    if not seen_h1 or candidate is None or first in candidate.iterdescendants() or candidate in first.iterancestors():
        return None
    # headline, lead and text in one article container, the lead a block of its own near the text's
    above_lead = list(candidate.iterancestors())
    shared = next((node for node in first.iterancestors() if node in above_lead), None)
    if shared is None or shared.tag in ("body", "html") or h1 not in shared.iterdescendants():
        return None
    if above_lead.index(shared) > _LEAD_MAX_DEPTH:
        return None
    text = " ".join(candidate.text_content().split())
    if not (_LEAD_MIN_CHARS <= len(text) <= _LEAD_MAX_CHARS) or not text.endswith(_SENTENCE_END):
        return None
    if text == title or any(text in line or line in text for line in lines[:3]):
        return None
    if sum(len(a.text_content()) for a in candidate.iter("a")) > 0.2 * len(text):
        return None
    for node in (candidate, *candidate.iterancestors()):
        if node.tag in _NOT_LEAD_PLACES or _DEK_NAMES.search(f"{node.get('class', '')} {node.get('id', '')}"):
            return None
        if node.tag == "body":
            break
    return text


_LISTED_HEADING_LINKS = lxml.etree.XPath(
    "(.//*[self::h1 or self::h2 or self::h3]//a[@href])[1]/@href")


def _declares_article(tree: lxml.html.HtmlElement, objects: list[dict]) -> bool:
    """The page states its own publication as an article's (article:published_time, or datePublished of a JSON-LD
    Article or BlogPosting): tag and archive pages do not."""
    if tree.xpath("//meta[@property='article:published_time' or @name='article:published_time'][@content]"):
        return True
    return any(isinstance(o.get("datePublished"), str) and _is_article(o) and "WebPage" not in str(o.get("@type"))
               for o in objects)


def _listed_links_away(tree: lxml.html.HtmlElement, url: str | None) -> bool:
    """Most listed blocks' headings link to another host (a guide's venues, a "best of" list's products), where a tag
    or archive page links to its own articles."""
    host = (_site(url) or "") if url else ""
    hosts = [_site(urljoin(url or "", link)) or "" for node in tree.iter("article")
             if not any(parent.tag == "article" for parent in node.iterancestors())
             for link in _LISTED_HEADING_LINKS(node)]
    return bool(host and hosts) and sum(h != host for h in hosts) > len(hosts) / 2


def _mostly_listed(lines: list[str], paragraphs: frozenset[str]) -> bool:
    """Most of the extracted body comes from the listed blocks' paragraphs."""
    covered = sum(len(line) for line in lines if " ".join(line.split()) in paragraphs)
    return covered >= _LISTED_SHARE * sum(map(len, lines))


# A <time> that is the last edit, not the publication: said by its text, its class or itemprop, or the class of the
# block holding it, or the words just before it ("Updated <time>…</time>").
_UPDATED_TIME = re.compile(r"^\W*(?:last\s+)?(?:updated|modified|edited|تحديث|تم التحديث|آخر تحديث)\b", re.I)
_UPDATED_NAMES = re.compile(r"updat|modif|edited", re.I)
_PUBLISHED_NAMES = re.compile(r"publish|posted|entry-date|created", re.I)
_UPDATED_BEFORE = re.compile(r"(?:updated|modified|edited|تحديث)\W{0,3}(?:on|at|في)?\W{0,3}$", re.I)


def _updated_names(node: lxml.html.HtmlElement) -> bool:
    names = f"{node.get('class', '')} {node.get('id', '')} {node.get('itemprop', '')}"
    # hAtom marks the publication "published updated" (WordPress: <time class="entry-date published updated">)
    return bool(_UPDATED_NAMES.search(names)) and not _PUBLISHED_NAMES.search(names)


def _updated_time(node: lxml.html.HtmlElement) -> bool:
    """Whether a <time> element is an "updated" stamp (NPR-like "Updated November 11", class "last-updated")."""
    if _UPDATED_TIME.match(node.text_content()) or any(
            _updated_names(holder) for holder in (node, *list(node.iterancestors())[:2])):
        return True
    before = node.getprevious()
    text_before = (before.tail if before is not None else node.getparent().text if node.getparent() is not None
                   else None) or ""
    if before is None and node.getparent() is not None and not text_before.strip():
        parent = node.getparent()
        text_before = (parent.getprevious().tail if parent.getprevious() is not None else "") or ""
    return bool(_UPDATED_BEFORE.search(text_before[-40:]))


def _time_stamp(node: lxml.html.HtmlElement) -> tuple[datetime, int | None] | None:
    value = node.get("datetime", "").strip()
    if (found := _parse_iso(value)) is None:
        return None
    try:
        offset = _offset_minutes(datetime.fromisoformat(value))
    except ValueError:
        offset = None
    return found, offset


def _time_element(tree: lxml.html.HtmlElement, updated: bool = False) -> tuple[datetime, int | None] | None:
    """The first <time datetime> inside the article (or the page) that reads as a full timestamp, with its
    stated offset in minutes (None when it states none); "updated" stamps only when `updated` is true."""
    for scope in ("//article//time[@datetime]", "//time[@datetime]"):
        for node in tree.xpath(scope):
            if _updated_time(node) != updated:
                continue
            if (found := _time_stamp(node)) is not None:
                return found
    return None


def _time_offsets(tree: lxml.html.HtmlElement) -> dict[datetime, int | None]:
    """Every <time datetime> stamp on the page: UTC instant -> the offset it was stated in."""
    found: dict[datetime, int | None] = {}
    for node in tree.iter("time"):
        if node.get("datetime") and (stamp := _time_stamp(node)) is not None:
            found.setdefault(*stamp)
    return found


_AROUND_HEADLINE_CHARS = (80, 160)  # the date a page prints with its headline: this much text before and after
_HEADLINE_LINE_CHARS = 80  # bylines, date lines and labels are shorter than this; running text is not


_FIRST_H1 = re.compile(r"<h1\b[^>]*>.*?</h1\s*>", re.I | re.S)
_AROUND_HEADLINE_HTML = 6000  # characters of markup read on each side of the <h1>


def _short_pieces(html: str, reverse: bool, want: int) -> str:
    """The page's texts in `html` (tags, scripts and styles aside), from its start (or its end when `reverse`), up to
    the first piece of running text or `want` characters."""
    pieces = [" ".join(unescape(piece).split()) for piece in _TAG.split(_INVISIBLE.sub(" ", html))]
    kept: list[str] = []
    for piece in reversed(pieces) if reverse else pieces:
        if not piece:
            continue
        if len(piece) > _HEADLINE_LINE_CHARS:  # running text: the article (or a teaser) starts here
            break
        kept.append(piece)
        if sum(map(len, kept)) >= want:
            break
    return " ".join(reversed(kept) if reverse else kept)


def _around_headline(html: str) -> tuple[str, str]:
    """The short texts just before and just after the page's first <h1>, up to running text (a date line "OCTOBER 13,
    2025" above the headline, a byline "Dec 12, 2025 · 4 min read" under it), read from the markup as served (chrome
    pruning may remove the byline block); ('', '') without an <h1>."""
    if (h1 := _FIRST_H1.search(html)) is None:
        return "", ""
    want_before, want_after = _AROUND_HEADLINE_CHARS
    return (_short_pieces(html[max(0, h1.start() - _AROUND_HEADLINE_HTML):h1.start()], True, want_before),
            _short_pieces(html[h1.end():h1.end() + _AROUND_HEADLINE_HTML], False, want_after))


def _headline_date(html: str, not_after: datetime | None) -> tuple[datetime, int | None] | None:
    """A date printed with the headline: under it first, then above it (the one nearest the headline there)."""
    before, after = _around_headline(html)
    for text in (after, before[-40:], before):  # under the headline, then above it, nearest first
        if (stamp := find_stamp(text, not_after=not_after)) is not None:
            return stamp
        if (day := find_month_first(text, not_after=not_after)) is not None:
            return day, None
    return None


def _page_zone(stamps: dict[datetime, int | None], at: datetime, url_day: str | None) -> int | None:
    """The zone the page's own <time> stamps state for the instant `at`, else the single non-zero offset they all share
    when the day in the URL path confirms the local day it gives (WordPress writes its meta stamps in UTC, its visible
    times, comments' too, in the site's zone)."""
    if stamps.get(at) is not None:
        return stamps[at]
    offsets = {offset for offset in stamps.values() if offset is not None}
    if len(offsets) != 1 or 0 in offsets or url_day is None:
        return None
    offset = offsets.pop()
    return offset if _local_day((at, offset)) == url_day else None


_INVISIBLE = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")


def _visible_text(html: str) -> str:
    """The page's text without scripts, styles and tags (a tag becomes a space, so "24 <b>نوفمبر</b> 2016"
    reads as a date): a third of the HTML to normalize, and no dates from scripts."""
    return _TAG.sub(" ", _INVISIBLE.sub(" ", html)).replace("&nbsp;", " ")


# Publication stamps in meta tags and JSON-LD, read here (with the zones news sites name) before htmldate:
# never a modification or "updated" stamp.
_PUBLISHED_META = ("article:published_time", "og:article:published_time", "og:published_time", "datePublished",
                   "pubdate", "publishdate", "publish-date", "parsely-pub-date", "sailthru.date", "dcterms.created")
_META_WITH_CONTENT = lxml.etree.XPath("//meta[@content]")


def _stamped_publication(tree: lxml.html.HtmlElement, objects: list[dict]) -> datetime | None:
    """The page's own publication stamp, when it names its zone (offset or a named zone such as GST): meta tags,
    then the JSON-LD of the article itself (not of an image, an author or a related item)."""
    by_key: dict[str, str] = {}
    for node in _META_WITH_CONTENT(tree):
        key = node.get("property") or node.get("name") or node.get("itemprop")
        if key in _PUBLISHED_META and key not in by_key:
            by_key[key] = node.get("content")
    values = [by_key[key] for key in _PUBLISHED_META if key in by_key]
    values.extend(o["datePublished"] for o in objects if isinstance(o.get("datePublished"), str) and _is_article(o))
    for value in values:
        found = parse_stamp(value)
        if found is not None and found.tzinfo is not None and 1990 <= found.year <= 2100:
            return found
    return None


def _is_article(item: dict) -> bool:
    kinds = item.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(isinstance(k, str) and (k.endswith("Article") or k in ("BlogPosting", "Report", "WebPage"))
               for k in kinds)


def _offset_minutes(value: datetime) -> int | None:
    offset = value.utcoffset()
    return None if offset is None else int(offset.total_seconds() // 60)


def _year_only(found: datetime) -> bool:
    """htmldate's extensive search ends with a year alone (the copyright line, "© 2026"), given as 1 January at
    midnight: not a publication day (6 of the WCXB dev pages, plain trafilatura too)."""
    return (found.month, found.day, found.hour, found.minute, found.second) == (1, 1, 0, 0, 0)


def _publication_time(tree, doc_date: str | None, url: str | None, title: str, body: str, html: str,
                      fetched_at: datetime | None, stamped: datetime | None = None,
                      ) -> tuple[datetime, PublishedSource, int | None]:
    """(UTC time, where it came from, the zone offset the page stated in minutes or None): see the ranking in
    the module docstring."""
    zones = _time_offsets(tree)
    url_day = extract_url_date(url, _URL_DATE) if url else None
    if stamped is not None:
        offset = _offset_minutes(stamped)
        if offset == 0:  # a stamp written in UTC says nothing of the page's zone: its <time> elements may
            offset = _page_zone(zones, stamped.astimezone(UTC), url_day) or 0
        return stamped.astimezone(UTC), "metadata", offset
    found = _parse_iso(doc_date)
    # htmldate falls back to the URL path before looking at <time> and text: rank that below them.
    from_url = (found is not None and url_day is not None and doc_date is not None
                and doc_date.startswith(f"{url_day}T00:00:00"))
    if found is not None and not from_url and not _is_update(found, tree):
        return found, "metadata", zones.get(found)  # htmldate does not say which zone the page used; a <time> may
    if (element := _time_element(tree)) is not None:
        return element[0], "metadata", element[1]
    stamp = (_headline_date(html, fetched_at) or find_stamp(f"{title}\n{body}", not_after=fetched_at)
             or find_stamp(_visible_text(html[:200_000]), not_after=fetched_at))
    if stamp is not None:
        return stamp[0], "dateline", stamp[1]
    # htmldate's extensive search (visible dates anywhere on the page, never from scripts) before the URL path
    # and the crawl time; the tree is no longer needed for anything else
    updated = _time_element(tree, updated=True)
    lxml.etree.strip_elements(tree, "script", "style", "noscript", with_tail=False)
    if (found := _parse_iso(_find_date(tree, url or "", _EXTENSIVE_DATE_PARAMS))) is not None and (
            url_day is None or not found.isoformat().startswith(f"{url_day}T00:00:00")) and (
            fetched_at is None or found <= fetched_at) and not _year_only(found) and (
            updated is None or not _is_update(found, tree)):
        return found, "dateline", zones.get(found)
    if url_day is not None:
        return datetime.fromisoformat(url_day).replace(tzinfo=UTC), "url", None
    if updated is not None:  # an "updated" stamp only when nothing else dates the page
        return updated[0], "metadata", updated[1]
    return fetched_at or datetime.now(UTC), "fetched", None


def _local_day(stamp: tuple[datetime, int | None]) -> str:
    return (stamp[0] + timedelta(minutes=stamp[1] or 0)).date().isoformat()


def _is_update(found: datetime, tree: lxml.html.HtmlElement) -> bool:
    """Whether htmldate's date (a day, or an instant) is that of the page's "updated" <time> elements and of none of
    its other ones."""
    updated: set[datetime | str] = set()
    other: set[datetime | str] = set()
    for node in tree.iter("time"):
        if node.get("datetime") and (stamp := _time_stamp(node)) is not None:
            (updated if _updated_time(node) else other).update((stamp[0], _local_day(stamp)))
    return bool(updated) and not ({found, found.date().isoformat()} & other) and bool(
        {found, found.date().isoformat()} & updated)


# Balanced extraction without trafilatura's readability/jusText comparison ("fast"): on the public benchmark
# it scored F1 0.966 against 0.964 with it, and the comparison was a third of an extraction's time. Pages the
# fast pass leaves short get a full recall-mode pass. Built once: ExtractionOptions parses its config when built.
_FAST = ExtractionOptions(output_format="python", fast=True, comments=False, tables=True)
_RECALL = ExtractionOptions(output_format="python", recall=True, comments=False, tables=True)
_FULL = ExtractionOptions(output_format="python", comments=False, tables=True)


# The page's own text: text nodes outside links, scripts, navigation, headers, footers and forms.
_VISIBLE_TEXT = lxml.etree.XPath(
    "//body//text()[not(ancestor::a or ancestor::script or ancestor::style or ancestor::noscript or ancestor::nav"
    " or ancestor::header or ancestor::footer or ancestor::form or ancestor::select or ancestor::button)]")
_PARAGRAPHS = lxml.etree.XPath("//body//p")
_MIN_KEPT_SHARE = 0.25  # the fast pass keeping less than this of the page's own text: try the other passes
_RECALL_GAIN = 1.5


def _own_chars(tree: lxml.html.HtmlElement) -> int:
    return sum(len(text.strip()) for text in _VISIBLE_TEXT(tree))


def _paragraph_chars(tree: lxml.html.HtmlElement) -> int:
    return sum(max(0, len(p.text_content().strip()) - sum(len(a.text_content()) for a in p.iter("a")))
               for p in _PARAGRAPHS(tree))


def _visible_chars(tree: lxml.html.HtmlElement) -> int:
    """Characters of the page's own visible text (links and navigation aside), whatever elements hold it, or of
    its paragraphs (links aside) when more: some templates hold the article inside a header or a form."""
    return max(_own_chars(tree), _paragraph_chars(tree))


class _PageText:
    """Whether an extraction kept a small share of _visible_chars, computed only as far as the answer needs: the
    paragraphs' text first (cheap), then an upper bound of the own text (the body's text without scripts and
    styles, in C), and the walk over every text node (the costly part) only when the bound cannot decide."""

    def __init__(self, tree: lxml.html.HtmlElement):
        self._tree = tree
        self._paragraphs: int | None = None
        self._bound: int | None = None
        self._own: int | None = None

    def paragraphs(self) -> int:
        if self._paragraphs is None:
            self._paragraphs = _paragraph_chars(self._tree)
        return self._paragraphs

    def small_share(self, kept: int) -> bool:
        if kept < _MIN_KEPT_SHARE * self.paragraphs():
            return True
        if self._bound is None:
            self._bound = sum(len(body.text_content())
                              - sum(len(code.text or "") for code in body.iter("script", "style"))
                              for body in self._tree.iter("body"))
        if kept >= _MIN_KEPT_SHARE * self._bound:
            return False
        if self._own is None:
            self._own = _own_chars(self._tree)
        return kept < _MIN_KEPT_SHARE * self._own


_FOOTER_NAME = re.compile(r"footer", re.I)
_FOOTER_HELD_SHARE = 0.5  # a "footer" holding this share of the page's paragraph text is not the page's footer


def _unmask_footer_named(tree: lxml.html.HtmlElement, page_paragraph_chars: int) -> bool:
    """Take the word "footer" out of the class and id of the blocks (not <footer> elements) that hold at least half
    of the page's paragraph text (links aside): True when there was one."""
    found = False
    for node in tree.iter("div", "section"):
        names = f"{node.get('class', '')} {node.get('id', '')}"
        if not _FOOTER_NAME.search(names):
            continue
        held = sum(max(0, len(p.text_content().strip()) - sum(len(a.text_content()) for a in p.iter("a")))
                   for p in node.iter("p"))
        if held >= _FOOTER_HELD_SHARE * page_paragraph_chars:
            for attribute in ("class", "id"):
                if node.get(attribute):
                    node.set(attribute, _FOOTER_NAME.sub("", node.get(attribute)))
            found = True
    return found


def _extract(tree, favor_recall: bool = False):
    # Metadata is read by _metadata, on the same tree, with only the parts this stage needs.
    return trafilatura.bare_extraction(tree, options=_RECALL if favor_recall else _FAST)


def _find_date(tree: lxml.html.HtmlElement, url: str, params: dict) -> str | None:
    """htmldate, which raises on some stamps (an offset of 24 hours or more): no date rather than a crash."""
    try:
        return find_date(tree, url=url, **params)
    except (ValueError, OverflowError):
        return None


def _metadata(tree: lxml.html.HtmlElement, url: str | None, objects: list[dict], with_date: bool = True,
              affixes: tuple[str, ...] = ()) -> tuple[str, str | None, str | None, str | None]:
    """(title, canonical URL, date as ISO text, author) from meta tags, JSON-LD, <h1>/<title> and htmldate."""
    meta = examine_meta(tree)
    if not (meta.title and meta.author):  # JSON-LD only fills these two here (htmldate reads its dates)
        try:
            meta = extract_meta_json(tree, meta)
        except Exception:  # trafilatura's JSON-LD reader raises on odd documents; the meta tags still count
            pass
    title = (choose_headline(page_titles(tree, url, objects, affixes))
             or (meta.title or extract_title(tree) or "").strip())
    page_url = meta.url or extract_url(tree, url)
    date = _find_date(tree, page_url or "", _DATE_PARAMS) if with_date else None
    return title, page_url, date, _author(meta.author, tree)


# "Page not found" served with status 200: site chrome and a short apology.
_ERROR_TITLE = re.compile(
    r"\b404\b|\b(?:page|article|content)s?\s+(?:was\s+)?(?:not\s+found|cannot\s+be\s+found|does\s*n[o']t\s+exist)|"
    r"^\W*not\s+found\W*$|\berror\s+40[34]\b|\bpage\s+introuvable\b|\bpage\s+non\s+trouv|"
    r"الصفحة\s+(?:المطلوبة\s+|التي\s+تبحث\s+عنها\s+)?غير\s+موجود|لم\s+يتم\s+العثور\s+على\s+(?:الصفحة|المحتوى|الرابط)|"
    r"(?:الصفحة|الرابط)\s+(?:المطلوب[ةه]?\s+)?غير\s+(?:متوفر|متاح|صحيح)|خطأ\s+404|عذرا\S*\s+(?:هذه\s+)?الصفحة", re.I)
_MAX_ERROR_BODY_CHARS = 1500  # an article about 404 errors is longer than an apology


def _error_page(tree: lxml.html.HtmlElement, title: str, lines: list[str]) -> str | None:
    """Why the page is an error page ("page not found" with status 200), or None."""
    if sum(map(len, lines)) > _MAX_ERROR_BODY_CHARS:
        return None
    node = tree.find(".//title")
    heads = [title, node.text_content() if node is not None else "",
             *(h.text_content() for h in tree.xpath("//body//h1")[:3])]
    for head in heads:
        head = " ".join(head.split())
        if head and len(head) <= 150 and _ERROR_TITLE.search(head):
            return f"the page says {head[:80]!r}"
    return None


def _mostly_links(tree: lxml.html.HtmlElement, lines: list[str]) -> bool:
    """Short lines that are, for the most part, the texts of links: a menu or headline list, not an article."""
    if sum(map(len, lines)) / len(lines) >= _ARTICLE_LINE_CHARS:
        return False  # paragraphs: checking anchors would only cost time
    anchors = {" ".join(a.text_content().split()) for a in tree.iter("a")}
    linked = sum(len(line) for line in lines if " ".join(line.split()) in anchors)
    return linked >= _NAVIGATION_SHARE * sum(map(len, lines))


def _truncated(html: str) -> str:
    tail = html[-2000:].lower()
    return "" if "</body" in tail or "</html" in tail else "; the page ends before </body> (truncated?)"


def _gunzip(page: bytes, max_bytes: int) -> bytes:
    """A page saved or served still gzip-compressed: its content, within the size limit (no zip bombs)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(page, max_bytes + 1)
    except zlib.error as exc:
        raise Rejected("binary", f"gzip signature but not gzip data ({exc})") from None
    if len(out) > max_bytes:
        raise Rejected("oversized", f"gzip content > limit {max_bytes} bytes")
    if not inflater.eof:
        raise Rejected("binary", "truncated gzip data")
    return out


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def clean_page(
    page: bytes | str,
    *,
    url: str | None,
    source: str,
    fetched_at: datetime | None = None,
    content_type: str | None = None,
    raw: RawRef | None = None,
    limits: CleanLimits = CleanLimits(),
    profile: SiteProfile | None = None,
) -> Article:
    """One page to one Article, or `Rejected` with a reason. `profile`: the page's site's learned chrome lines
    and title affixes (streams.pipeline.stages.siteprofile), when the runtime has one."""
    size = len(page if isinstance(page, bytes) else page.encode("utf-8", "surrogatepass"))
    if size == 0 or not (page.strip() if isinstance(page, bytes) else page.strip()):
        raise Rejected("empty", "no bytes")
    if size > limits.max_page_bytes:
        raise Rejected("oversized", f"{size} bytes > limit {limits.max_page_bytes}")
    if isinstance(page, bytes) and page[:2] == _GZIP_MAGIC:
        page = _gunzip(page, limits.max_page_bytes)
    if isinstance(page, bytes):
        html, charset = decode_html(page, content_type)
    else:
        html, charset = page, "text (already decoded)"
        if "\x00" in html[:1024]:
            raise Rejected("binary", "NUL characters")
    if not _HTML_TAG.search(html[:100_000]):
        raise Rejected("not html", "no HTML markup")
    if html.lstrip()[:1] in ("{", "[") and _is_json(html):  # a JSON file (a manifest, an API answer) beside pages
        raise Rejected("not html", "a JSON document")

    tree = load_html(html)
    if tree is None:
        raise Rejected("no article text", "the page does not parse as HTML")
    listed, listed_paragraphs = listed_articles(tree, limits.min_text_chars)

    objects = jsonld_objects(tree)
    stamped = _stamped_publication(tree, objects)
    title, page_url, date, author = _metadata(tree, url, objects, with_date=stamped is None,
                                            affixes=profile.title_affixes if profile else ())
    _unwrap_layout_tables(tree)
    prune_chrome(tree)
    doc = _extract(tree)
    lines, dates = _body_lines(doc.text, title, profile) if doc is not None and doc.text else ([], [])
    kept = sum(map(len, lines))
    page_text = _PageText(tree)
    if kept < limits.min_text_chars or page_text.small_share(kept):
        # The fast pass misses some layouts (<br>-separated text in divs: recall finds them) and cuts long
        # guides with many subheadings after their intro (the full pass, comparing with readability and
        # jusText, keeps them): try both, keeping a retry that finds clearly more.
        short = kept < limits.min_text_chars
        for options in ((_RECALL, _FULL) if short else (_FULL, _RECALL)):
            # without as_dict, a Document (trafilatura annotates the as_dict=True dict too, with no overload)
            retry = cast(Document | None, trafilatura.bare_extraction(tree, options=options))
            if retry is None or not retry.text:
                continue
            retry_lines, retry_dates = _body_lines(retry.text, title, profile)
            if (short and options is _RECALL) or sum(map(len, retry_lines)) >= _RECALL_GAIN * max(kept, 1):
                doc, lines, dates = retry, retry_lines, retry_dates
                kept = sum(map(len, lines))
            if kept >= limits.min_text_chars and not page_text.small_share(kept):
                break
            if options is _FULL and not short and retry.text == doc.text:
                # The comparison with readability and jusText kept the fast pass's very text: the page's other text
                # is not the article's (comments, teasers). The recall pass found nothing more on every such page
                # of the public set and the WCXB dev split (13 of them), at the cost of one more extraction.
                break
    if kept and page_text.small_share(kept) and _unmask_footer_named(tree, page_text.paragraphs()):
        # still a small share: trafilatura drops any block with "footer" in its class or id, and some templates hold
        # the article's list there (a guide's venues in <div class="page1-footer">)
        for options in (_FAST, _FULL):
            retry = cast(Document | None, trafilatura.bare_extraction(tree, options=options))
            if retry is None or not retry.text:
                continue
            retry_lines, retry_dates = _body_lines(retry.text, title, profile)
            if sum(map(len, retry_lines)) >= _RECALL_GAIN * kept:
                doc, lines, dates = retry, retry_lines, retry_dates
                kept = sum(map(len, lines))
            if not page_text.small_share(kept):
                break
    if (lead := _lead_paragraph(tree, lines, title)) is not None:
        lines = [lead, *lines]
    if (why := _error_page(tree, title, lines)) is not None:
        raise Rejected("error page", why)
    if listed >= 2 and (not lines or _mostly_listed(lines, listed_paragraphs)) and not (
            _declares_article(tree, objects) and _listed_links_away(tree, page_url or url)):
        raise Rejected("listing page", f"{listed} articles with their own bodies on one page (tag or archive page)")
    if doc is None or not doc.text:
        if _depth(tree) >= _PARSER_DEPTH:
            raise Rejected("too deep",
                           f"elements nested {_PARSER_DEPTH}+ levels deep: the parser drops what lies deeper")
        raise Rejected("no article text", "the extractor found no main text" + _truncated(html))
    if not title and lines:
        title, lines = lines[0], lines[1:]
    body = "\n".join(lines)
    if len(body) < limits.min_text_chars:
        raise Rejected("no article text",
                       f"{len(body)} characters of body < {limits.min_text_chars}" + _truncated(html))
    if _mostly_links(tree, [title, *lines]):
        raise Rejected("navigation page", "the only text is link text (menus, headline lists)")

    canonical = canonicalize_url(page_url or url)
    fingerprint = hashlib.sha1(fingerprint_text(body).encode()).hexdigest()
    published_at, published_source, published_offset = _publication_time(
        tree, date, canonical or url, title, "\n".join([*dates, body]), html, fetched_at, stamped)
    text = f"{title}\n{body}"
    lang, _score = py3langid.classify(text[:_LANGID_CHARS])
    return Article(
        article_id=article_id_for(canonical, fingerprint),
        source=source,
        url=url,
        canonical_url=canonical,
        site=_site(canonical or url),
        title=title,
        text=text,
        lang=lang,
        author=author,
        published_at=published_at,
        published_source=published_source,
        published_utc_offset=published_offset,
        fetched_at=fetched_at,
        charset=charset,
        fingerprint=fingerprint,
        raw=raw,
    )
