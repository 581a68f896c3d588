"""Page chrome that reaches an article's text, removed by general rules (no per-site selectors).

Two passes. Before extraction, on the parsed page: blocks that offer a link to skip themselves ("تخطى قصص مقترحة
وواصل القراءة", "Skip … and continue reading") and regions labelled as recommendations, promos, consent, tickers
or share bars (aria-label, aria-labelledby, data-e2e, role and class/id words). After extraction, on the lines:
consent/cookie notices, comment policies (they close the article), byline list items, an agency credit closing the
last paragraph ("--(بترا)"), and recommendation headings ("قصص مقترحة", "Most read") with the short item titles
under them. Known headings and markup signals generalize; strings of one site go in its learned profile
(streams.pipeline.stages.siteprofile). Hand-written: trafilatura reads class names, not ARIA labels or skip links.
"""

from __future__ import annotations

import re

import lxml.etree
import lxml.html

# Words in aria-label / aria-labelledby / data-e2e / class / id that name a region which is never the article.
# Lists of other stories are links: in class/id names (which also name the article's own wrappers, e.g.
# "more-on-…-related-articles-text") they count only over link text; ARIA labels and data-e2e are meant.
_LIST_WORDS = (r"most-?read|most-?popular|mostpopular|mostread|recommend(?:ed|ations?)?|"
               r"related-?(?:posts?|articles?|stories|news|content)|read-?(?:also|more|next)|more-?on-?this-?story|"
               r"promos?|podcast-?promo|trending|outbrain|taboola")
_NOTICE_WORDS = (r"cookies?|consent|gdpr|newsletters?|tickers?|share-?(?:bar|buttons?|tools|links)|social-?share|"
                 r"print-?bar|comment-?policy|advertisement|app-?promo")
_CHROME_WORDS = re.compile(rf"(?:^|[\s_\-:])(?:{_LIST_WORDS}|{_NOTICE_WORDS})(?:$|[\s_\-:])", re.I)
_NOTICE_CLASS = re.compile(rf"(?:^|[\s_\-:])(?:{_NOTICE_WORDS})(?:$|[\s_\-:])", re.I)
_LABEL_ATTRS = ("aria-label", "aria-labelledby", "data-e2e", "data-component")
_NAME_ATTRS = ("class", "id")
_MIN_LINK_SHARE = 0.5
_MAX_CHROME_BLOCK_CHARS = 3000  # a wrapper holding more text than this may hold the article: never removed
_SKIP_LINK = re.compile(r"^\s*(?:تخط[ىي]|تجاوز|skip)\b", re.I)
_SKIP_TO_PAGE = re.compile(r"\b(?:content|main|navigation|nav|menu|search|المحتوى|القائمة)\b", re.I)
_REGION_ARABIC_LABELS = re.compile(r"المزيد حول هذه القصة|قصص مقترحة|يستحق الانتباه|الأكثر قراءة|اقرأ أيضا|إعلان")


def _text_len(node: lxml.html.HtmlElement) -> int:
    return len(" ".join(node.text_content().split()))


_REGION_TAGS = ("section", "aside", "div", "ul", "nav", "form", "dialog")


def _region_candidates(tree: lxml.html.HtmlElement):
    """Blocks inside <body> with attributes, in document order (lxml's iter: half the time of the XPath it
    replaced, which walked every node with a predicate)."""
    for body in tree.iter("body"):
        for node in body.iter(_REGION_TAGS):
            if node.attrib:
                yield node


def _link_chars(node: lxml.html.HtmlElement) -> int:
    return sum(len(" ".join(a.text_content().split())) for a in node.iter("a"))


def _remove(node: lxml.html.HtmlElement) -> None:
    parent = node.getparent()
    if parent is None:
        return
    tail = node.tail
    prev = node.getprevious()  # the block's own neighbour: the parent's last child would move the text to the end
    parent.remove(node)
    if tail and tail.strip():  # keep text that followed the block in its parent
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def prune_chrome(tree: lxml.html.HtmlElement) -> int:
    """Remove chrome regions from a parsed page in place; how many were removed."""
    doomed = []
    for link in tree.xpath("//body//a[starts-with(@href, '#')]"):
        text = " ".join(link.text_content().split())
        if not _SKIP_LINK.match(text) or _SKIP_TO_PAGE.search(text):
            continue
        block = next((a for a in link.iterancestors() if a.tag in ("section", "aside", "nav")
                      or a.get("role") in ("region", "complementary")), None)
        if block is not None and _text_len(block) <= _MAX_CHROME_BLOCK_CHARS:
            doomed.append(block)
    for node in _region_candidates(tree):
        aria = node.get("aria-label", "")
        if not (_CHROME_WORDS.search(" ".join(node.attrib.values())) or (aria and _REGION_ARABIC_LABELS.search(aria))):
            continue  # one search over all attributes: most blocks name nothing of the kind
        labels = " ".join(node.get(a, "") for a in _LABEL_ATTRS)
        names = " ".join(node.get(a, "") for a in _NAME_ATTRS)
        labelled = bool(_CHROME_WORDS.search(labels) or _REGION_ARABIC_LABELS.search(aria))
        if not labelled and not _CHROME_WORDS.search(names):
            continue
        if node.xpath("self::*[.//h1]") or node.find(".//article") is not None:
            continue
        size = _text_len(node)
        if size > _MAX_CHROME_BLOCK_CHARS:
            continue
        if labelled or _NOTICE_CLASS.search(names) or _link_chars(node) >= _MIN_LINK_SHARE * size:
            doomed.append(node)
    doomed.extend(_captions(tree))
    for node in doomed:
        _remove(node)
    return len(doomed)


_MAX_CAPTION_CHARS = 150


def _captions(tree: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    """Captions and credits: <figcaption>, and a short link-free <div>/<span>/<small> right after an image
    in the same container ("اصابات بفيروس كورونا في امريكا" under the photo), not ending a sentence."""
    found = list(tree.xpath("//body//figcaption"))
    for img in tree.xpath("//body//img"):
        node = img.getnext()
        while node is not None and node.tag in ("div", "br") and not _text_len(node):
            node = node.getnext()  # an empty spacer between the image and its caption
        if node is None or node.tag not in ("div", "span", "small", "em", "cite"):
            continue
        text = " ".join(node.text_content().split())
        if 0 < len(text) <= _MAX_CAPTION_CHARS and node.find(".//a") is None and not text.endswith((".", ":")):
            found.append(node)
    return found


# --- lines ------------------------------------------------------------------------------------------

_COOKIE = re.compile(r"cookies?\b|ملفات (?:تعريف )?الارتباط|الكوكيز|كوكيز", re.I)
_POLICY = re.compile(r"privacy|policy|consent|accept|agree|الخصوصية|سياس|الشروط|موافق|أوافق|نوافق|قبول|تقبل", re.I)
_MAX_NOTICE_CHARS = 600
# "the opinions below do not reflect the site's view", moderation rules: readers' comments follow.
_COMMENT_POLICY = re.compile(
    r"(?:الآراء|الاراء|التعليقات|تعليقات)\s+(?:الواردة|المنشورة|الوارده|المنشوره)?\s*(?:أدناه|ادناه|هنا)?\s*"
    r"(?:لا\s+(?:تعبر|تعبّر|يعبر|تمثل))|"
    r"(?:بالنقاش|مراجعة التعليقات|سياسة التعليقات|بروتوكول نشر التعليقات|شروط التعليق|قواعد التعليق)|"
    r"(?:comments?|opinions?|views)\s+(?:expressed\s+)?(?:below\s+)?(?:do\s+not|don't)\s+(?:necessarily\s+)?"
    r"(?:reflect|represent)|comment(?:ing)?\s+(?:policy|guidelines|rules)", re.I)
_MAX_POLICY_CHARS = 500
_BYLINE_ITEM = re.compile(r"^[-•*]?\s*(?:author|role|reporting|الكاتب|المؤلف|الدور|المراسل)\s*[,،:]\s*\S", re.I)
_MAX_BYLINE_ITEM_CHARS = 100
# A date's label alone on its line ("Updated", "آخر تحديث:"): the date it introduced was a <time> or dateline the
# cleaning took out, and the label is no part of the article.
_DATE_LABEL = re.compile(
    r"^\W*(?:(?:last\s+)?(?:updated|modified|edited)|published|posted|(?:آخر|اخر)\s+تحديث|تم\s+التحديث|تحديث|"
    r"تاريخ\s+(?:النشر|التحديث)|نشر|نُشر|تم\s+النشر)(?:\s+(?:on|at|في|بتاريخ))?\W*$", re.I)
# An agency credit closing the text: "…إيجابية.--(بترا)", "(أ ف ب)", "— (Reuters)".
_TRAILING_CREDIT = re.compile(r"\s*[-–—]{1,3}\s*\(\s*[^()\d\n]{2,25}\s*\)\s*$|^\s*\(\s*[^()\d\n]{2,25}\s*\)\s*$")
# Headings of recommendation blocks, alone on a line, and their "… نهاية" / "End of …" closing markers.
_RECOMMEND_NAMES = (
    r"(?:قصص مقترحة|يستحق الانتباه|موضوعات مقترحة|مقالات مقترحة|أخبار مقترحة|قد يهمك(?: أيضا[ًا]?)?|"
    r"[اإ]قرأ أيضا[ًا]?|الأكثر قراءة|الأكثر مشاهدة|الأكثر تداولا|مواضيع ذات صلة|أخبار ذات صلة|"
    r"recommended(?: stories| for you)?|read (?:also|more|next)|most (?:read|popular|viewed)|you may also like|"
    r"related (?:stories|articles|news|coverage)|more on this story|top stories|worth your attention)")
_RECOMMEND_HEADING = re.compile(rf"^\W*{_RECOMMEND_NAMES}\W*$", re.I)
_END_MARKER = re.compile(rf"^\W*(?:{_RECOMMEND_NAMES}\s+نهاية|end of {_RECOMMEND_NAMES})\W*$", re.I)
_TEASER_MAX_CHARS = 140  # item titles under a recommendation heading: short lines, not paragraphs


def is_consent_notice(line: str) -> bool:
    return len(line) <= _MAX_NOTICE_CHARS and bool(_COOKIE.search(line)) and bool(_POLICY.search(line))


def is_comment_policy(line: str) -> bool:
    return len(line) <= _MAX_POLICY_CHARS and bool(_COMMENT_POLICY.search(line))


def _is_teaser(line: str) -> bool:
    return len(line) <= _TEASER_MAX_CHARS and not line.rstrip().endswith((".", "۔", "!", ":"))


def drop_chrome_lines(lines: list[str], min_body_chars: int = 200) -> list[str]:
    """Body lines without consent notices, byline items, recommendation blocks, a closing comment policy and
    a closing agency credit."""
    out: list[str] = []
    in_block = False  # after a recommendation heading, until a paragraph or its end marker
    for line in lines:
        if is_comment_policy(line) and sum(map(len, out)) >= min_body_chars:
            break  # readers' comments and their rules close the article
        if is_consent_notice(line) or is_comment_policy(line) or (
                len(line) <= _MAX_BYLINE_ITEM_CHARS and (_BYLINE_ITEM.match(line) or _DATE_LABEL.match(line))):
            continue
        if _END_MARKER.match(line):
            in_block = False
            continue
        if _RECOMMEND_HEADING.match(line):
            in_block = True
            continue
        if in_block and _is_teaser(line):
            continue
        in_block = False
        out.append(line)
    while out and _TRAILING_CREDIT.search(out[-1]):
        stripped = _TRAILING_CREDIT.sub("", out[-1]).rstrip()
        if stripped:
            out[-1] = stripped
            break
        out.pop()
    return out
