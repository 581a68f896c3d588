"""Discovery: persons the dictionary does not know yet, found after a title ("وزير الخارجية الفرنسي جان مارك
أيرولت", "نظيره الفلسطيني رياض المالكي", "President Emmanuel Macron").

They become candidate mentions (actor id `candidate:<normalized name>`) kept apart from actor mentions, so a
curator can promote them without inflating the weekly counts. Precision over recall: an Arabic name needs two
words, none of them a stopword or a word that commonly follows a title; a span that holds a known actor is skipped.
Titles and name rules are hand-written: no library tags Arabic news names after titles at this speed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache

import stopwordsiso

from schemas.records import Mention
from streams.pipeline.arabic import normalize, normalize_with_map
from streams.pipeline.offsets import original_index
from streams.pipeline.scanner import PatternScanner, encoded

CANDIDATE_PREFIX = "candidate:"

# Titles, written as they normalize (أ→ا, ة→ه, ى/ئ→ي). A title may carry a clitic (لوزير، للرئيس، والمبعوث).
_AR_TITLES = [
    "الرييس", "الرييسه", "رييس الوزراء", "رييسه الوزراء", "رييس الحكومه", "رييسه الحكومه", "رييس الجمهوريه",
    "رييس البرلمان", "رييس مجلس النواب", "رييس مجلس الشعب", "رييس مجلس الامه", "رييس مجلس الشوري",
    "رييس الاركان", "رييس هييه الاركان", "رييس المخابرات", "رييس جهاز المخابرات", "رييس الوفد",
    "المبعوث", "المبعوثه", "نظيره", "نظيرته", "نظيرها", "نظيرهم", "الامين العام", "الامينه العامه",
    "الملك", "الملكه", "الامير", "الاميره", "ولي العهد", "العاهل", "الشيخ", "الشيخه", "السفير", "السفيره",
    "الجنرال", "السيناتور", "المستشار", "المستشاره", "زعيم", "زعيمه",
    "قايد", "قايده", "مدير", "مديره", "المدير العام", "المنسق", "المنسقه", "المفوض", "المفوضه",
]
_AR_MINISTRIES = [
    "الخارجيه", "الدفاع", "الداخليه", "الماليه", "الاقتصاد", "العدل", "الطاقه", "النفط", "الاعلام", "الصحه",
    "التجاره", "الخزانه", "الامن", "الامن الداخلي", "الامن القومي", "الشوون الخارجيه", "الحرب", "الزراعه",
    "التعليم", "التربيه", "النقل", "الاتصالات", "الصناعه", "السياحه", "الثقافه", "الاوقاف", "الاسكان",
    "الخارجيه والمغتربين", "الدوله", "الدوله لشوون",
]
_AR_TITLES += [f"{w} {m}" for w in ("وزير", "وزيره") for m in _AR_MINISTRIES] + ["وزير", "وزيره"]
_AR_CLITICS = ("", "و", "ف", "ب", "ل", "ك", "وب", "ول", "فب", "فل", "وك")

# Words after a title that are never the start of a name: the stopword list, plus verbs of saying and other
# words Arabic news puts right after a title (checked without their clitics).
_AR_NOT_NAMES_EXTRA = """
قال قالت اعلن اعلنت اكد اكدت اوضح اوضحت اشار اشارت اضاف اضافت ذكر ذكرت صرح صرحت لفت لفتت شدد شددت دعا دعت
حذر حذرت راي رات اعتبر اعتبرت تناول تناولت بحث بحثت ناقش ناقشت التقي التقت استقبل استقبلت زار زارت وصل وصلت
غادر غادرت توجه توجهت عقد عقدت ابلغ ابلغت كشف كشفت نفي نفت طالب طالبت هنا هنات رحب رحبت ابدي ابدت اعرب اعربت
يقول تقول يري تري يوكد توكد يعتبر تعتبر يبحث تبحث يلتقي تلتقي يزور تزور يستقبل تستقبل
قايلا مضيفا مشيرا موكدا مشددا معتبرا لافتا داعيا محذرا معربا موضحا ايضا امس غدا اليوم الليله حاليا سابقا لاحقا
يوم صباح مساء ظهر الاثنين الثلاثاء الاربعاء الخميس الجمعه السبت الاحد خلال عقب اثناء بعد قبل منذ عبر بين
كلمه بيان تصريح تصريحات مقابله موتمر اجتماع لقاء اتصال رساله زياره جوله مباحثات محادثات هاتفي هاتفيا
حكومه دوله بلاده بلادها نفسه نفسها شخصيا بدوره بدورها من جهته من جهتها كذلك الذي التي الذين
"""


# Headline verbs in the present tense ("الرئيس الفرنسي يدين الهجوم"); the feminine ت- forms are derived.
_AR_HEADLINE_VERBS = """
يدين يصل يلتقي يبحث يستقبل يوكد يعلن يحذر يدعو يتهم يهدد يرفض يطالب يقول يزور يوقع يغادر يتصل يهاتف يشيد
ينفي يكشف يعين يقيل يلقي يشارك يترأس يجري يتلقي يبعث يوجه يصف يرحب يامر يصدر يمدد يلغي يتوعد ينتقد يري يويد
يستبعد يتوقع يعرب يبدي يشدد يعود يبدا يختتم يفتتح يصادق يناقش يبلغ يستعرض يتعهد يقرر يوافق يعزي يهنئ يهني
"""


@lru_cache(maxsize=1)
def _not_names() -> frozenset[str]:
    verbs = set(_AR_HEADLINE_VERBS.split())
    words = {normalize(w) for w in stopwordsiso.stopwords("ar")} | set(_AR_NOT_NAMES_EXTRA.split())
    words |= verbs | {"ت" + v[1:] for v in verbs}
    return frozenset(words - {"بن", "ابو", "عبد", normalize("معاذ")})  # name particles and a name in the list


_AR_PARTICLES = frozenset({"بن", "ابن", "ابو", "ابي", "عبد", "ال", "بنت", "دي", "دو", "فون", "فان", "لا"})
_NOT_FIRST_NAMES = _AR_PARTICLES - {"عبد", "ابو"}
_AR_FIXED_MODIFIERS = frozenset({
    "السابق", "السابقه", "الاسبق", "المنتخب", "المنتخبه", "الحالي", "الحاليه", "الجديد", "الجديده", "الخاص",
    "الخاصه", "العام", "العامه", "المستقيل", "المستقيله", "المكلف", "المكلفه", "المقال", "الراحل", "الراحله",
    "الاممي", "الامميه", "الرياسي", "الامريكي", "الاميركي", "المساعد", "الاول", "الاعلي", "المشترك",
})
_EN_TITLES = re.compile(
    r"\b(?:President|Prime Minister|(?:Foreign|Defen[cs]e|Interior|Finance|Energy) Minister|Minister"
    r"|Secretary of State|Secretary[- ]General|Chancellor|King|Queen|Crown Prince|Prince|Sheikh|Emir|Ambassador"
    r"|Senator|General|envoy|Envoy|counterpart|spokesman|spokeswoman|Speaker)[ \t]+")
_EN_NAME = re.compile(r"(?:[A-Z][a-z'\-]+|al-[A-Z][a-z]+|el-[A-Z][a-z]+)"
                      r"(?:[ ](?:[A-Z][a-z'\-]+|al-[A-Z][a-z]+|bin|de|von|van|da)){0,3}")
_EN_NOT_NAMES = frozenset(
    "The A An On In At For And But Of To By With From This That Said Says Has Had Was Is Will Would Told Met "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August "
    "September October November December Office Ministry Council Assembly House Senate Palace".split())
_EN_PARTICLES = frozenset({"bin", "de", "von", "van", "da"})

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=1)
def _title_scanner() -> PatternScanner[None]:
    """Every title behind every proclitic (لوزير، للرييس، والمبعوث), one pass per article (PatternScanner)."""
    forms: set[str] = set()
    for title in _AR_TITLES:
        forms |= {c + title for c in _AR_CLITICS}
        if title.startswith("ال"):
            forms |= {c + "لل" + title[2:] for c in ("", "و", "ف")}
    return PatternScanner(sorted(forms), [None] * len(forms), dfa=True)  # 1,304 forms: a DFA builds at once


def _strip_clitic(word: str) -> list[str]:
    """The word and what it may be behind a proclitic (وقال -> قال)."""
    forms = [word]
    if word[0] in "وفبلك":
        for c in _AR_CLITICS[1:]:
            if word.startswith(c) and len(word) - len(c) >= 2:
                forms.append(word[len(c):])
    return forms


def _title_ends(norm: str) -> list[int]:
    """End offsets of the longest whole-word title at each place a title starts."""
    best: dict[int, int] = {}
    size = len(norm)
    for _, start, end in _title_scanner().hits(norm)[0]:
        if (start > 0 and norm[start - 1].isalnum()) or (end < size and norm[end].isalnum()):
            continue
        if best.get(start, 0) < end:
            best[start] = end
    ends, last = [], -1
    for start in sorted(best):
        if start >= last:  # "وزير الخارجية" wins over the "وزير" inside it
            ends.append(best[start])
            last = best[start]
    return ends


@lru_cache(maxsize=1 << 14)
def _ends_a_name(word: str) -> bool:
    """A word that no name after a title goes on over: a stopword or a word of saying, behind its clitic or not."""
    return word not in _AR_PARTICLES and any(f in _not_names() for f in _strip_clitic(word))


@lru_cache(maxsize=1 << 14)
def _is_modifier(word: str) -> bool:
    """A word between title and name: a nisba adjective (الروسي، الفلسطينية) or a fixed one (السابق)."""
    return word in _AR_FIXED_MODIFIERS or (word.startswith("ال") and len(word) >= 5 and word.endswith(("ي", "يه")))


_TOKENS_AFTER_TITLE = 12


def _read(tokens: list[tuple[str, int, int]], following: Iterator[re.Match], k: int) -> bool:
    """Whether token k is there, reading tokens from `following` until it is (at most _TOKENS_AFTER_TITLE)."""
    while len(tokens) <= k:
        if len(tokens) == _TOKENS_AFTER_TITLE or (m := next(following, None)) is None:
            return False
        tokens.append((m.group(), *m.span()))
    return True


def _arabic_candidates(norm: str) -> list[tuple[int, int]]:
    """Spans (in the normalized text) of Arabic names that follow a title."""
    spans: list[tuple[int, int]] = []
    for title_end in _title_ends(norm):
        # The (up to) 12 tokens after the title, read as far as needed: the name ends within a few.
        tokens: list[tuple[str, int, int]] = []
        following = _TOKEN.finditer(norm, title_end)
        # Modifiers: adjectives, one "الي/لدي <place>" (المبعوث الاممي الي سوريا), an appositive comma.
        k, places = 0, 0
        while _read(tokens, following, k):
            word = tokens[k][0]
            if _is_modifier(word):
                k += 1
            elif word in ("الي", "لدي") and places == 0 and _read(tokens, following, k + 1) \
                    and tokens[k + 1][0].isalpha():
                k, places = k + 2, 1
            else:
                break
        if _read(tokens, following, k) and tokens[k][0] in (",", "-"):
            k += 1
        name: list[tuple[str, int, int]] = []
        bounded = False  # the name ends at punctuation, a function word or the text's end, not mid-phrase
        while True:
            if not _read(tokens, following, k):
                bounded = len(tokens) < _TOKENS_AFTER_TITLE  # the text ended
                break
            word = tokens[k][0]
            if not word.isalpha():
                bounded = not word.isalnum()
                break
            if _ends_a_name(word):
                bounded = True
                break
            if not name and (word.startswith(("ال", "لل")) or word in _NOT_FIRST_NAMES):
                break  # a name starts with a given name, not an article or a particle
            if len(name) == 4:
                break
            name.append(tokens[k])
            k += 1
        while name and name[-1][0] in _AR_PARTICLES:
            name.pop()
        if bounded and len(name) >= 2 and not any(w[0].isascii() for w in name):
            spans.append((name[0][1], name[-1][2]))
    return spans


# Every title's first word, or its start: an unanchored alternation of literals, which re scans for in C.
_EN_TITLE_START = re.compile("President|Prime|Foreign|Defen|Interior|Finance|Energy|Minister|Secretary|Chancellor"
                             "|King|Queen|Crown|Prince|Sheikh|Emir|Ambassador|Senator|General|envoy|Envoy"
                             "|counterpart|spokes|Speaker")


def _has_ascii_letter(text: str, norm: str | None = None) -> bool:
    """Whether `text` has a letter A-Z or a-z: its bytes change under bytes.upper/lower (which change ASCII letters
    only; UTF-8's multi-byte characters and cp1256's other characters are bytes >= 0x80). Three passes in C over the
    bytes: an ASCII encoding with errors ignored and a regex search cost ~3x more on an Arabic article. `norm`:
    normalize(text), when the caller has it: its one-byte encoding, made for the title pass already, is half the
    bytes (normalizing makes no Latin letter disappear)."""
    data = encoded(norm) if norm is not None else None
    if data is None:
        data = text.encode("utf-8", "surrogatepass")
    return data.upper() != data.lower()


def _english_titles(text: str, norm: str | None = None) -> list[re.Match]:
    """_EN_TITLES.finditer(text), tried only where one of its words starts (its \\b fails inside a Latin word) and
    not at all in a text without a Latin letter (most Arabic pages): the engine spent most of its time trying the
    alternation at every position. `norm`: normalize(text), when the caller has it (_has_ascii_letter)."""
    out: list[re.Match] = []
    if not _has_ascii_letter(text, norm):
        return out
    at = 0
    while word := _EN_TITLE_START.search(text, at):
        m = _EN_TITLES.match(text, word.start())
        if m:
            out.append(m)
            at = m.end()
        else:
            at = word.start() + 1
    return out


def _english_candidates(text: str, norm: str | None = None) -> list[tuple[int, int]]:
    """Spans (in the original text, where case tells names apart) of names after an English title."""
    spans = []
    for title in _english_titles(text, norm):
        m = _EN_NAME.match(text, title.end())
        if not m:
            continue
        words = m.group().split()
        while words and (words[-1] in _EN_PARTICLES or words[-1] in _EN_NOT_NAMES):
            words.pop()
        if not words or words[0] in _EN_NOT_NAMES or words[0] in _EN_PARTICLES:
            continue
        cut = next((n for n, w in enumerate(words) if w in _EN_NOT_NAMES), len(words))
        words = words[:cut]
        if words:
            end = m.start() + len(" ".join(words))
            if text[m.start():end] == " ".join(words):
                spans.append((m.start(), end))
    return spans


def candidate_id(name: str) -> str:
    return CANDIDATE_PREFIX + " ".join(normalize(name).split())


def _surname_spans(norm: str, surname: str, after: int) -> list[tuple[int, int]]:
    """Later standalone uses of a candidate's surname (أيرولت after جان مارك أيرولت), clitics allowed."""
    return name_spans(norm, (surname,), after)


_CONJUNCTIONS, _PREPOSITIONS = "وف", "بلك"
_CLITIC_LETTERS = _CONJUNCTIONS + _PREPOSITIONS


def name_spans(norm: str, names: Iterable[str], after: int = 0) -> list[tuple[int, int]]:
    """Spans of the standalone uses of `names` (non-empty) in `norm` from `after` on, each behind at most one
    conjunction (و ف) and one preposition (ب ل ك): the group spans re's finditer(norm, after) gives for
    (?<!\\w)(?:[وف]?[بلك]?)(name|name|...)(?!\\w) with the longest names first. Without the regex: compiling one
    pattern per article's names cost ~0.5 ms, more than the whole dictionary matching (tests hold it to re)."""
    occurrences: dict[int, list[int]] = {}  # where a name starts -> the lengths of the names that start there
    for name in set(names):
        at = norm.find(name, after)
        while at >= 0:
            occurrences.setdefault(at, []).append(len(name))
            at = norm.find(name, at + 1)
    spans: list[tuple[int, int]] = []
    if not occurrences:
        return spans
    size, end = len(norm), after
    # A match starts at most two clitic letters before a name; re tries the places in order, each after the last.
    # Only a name's own start and the clitic letters right before it can begin a match: a place that begins none
    # changes nothing, so the others (most: the end of the word before) are not tried.
    starts = set(occurrences)
    for at in occurrences:
        if at - 1 >= after and (c := norm[at - 1]) in _CLITIC_LETTERS:
            starts.add(at - 1)
            if c in _PREPOSITIONS and at - 2 >= after and norm[at - 2] in _CONJUNCTIONS:
                starts.add(at - 2)
    for start in sorted(starts):
        if start < end or (start and ((c := norm[start - 1]).isalnum() or c == "_")):  # (?<!\w), inline
            continue
        # Where the name may begin, in re's backtracking order: both clitics taken, the conjunction only, the
        # preposition only, none.
        firsts = (start + 1, start) if start < size and norm[start] in _CONJUNCTIONS else (start,)
        for first in firsts:
            for at in ((first + 1, first) if first < size and norm[first] in _PREPOSITIONS else (first,)):
                ends = [at + n for n in occurrences.get(at, ()) if at + n == size or not _is_word_char(norm[at + n])]
                if ends:  # the longest name wins: the alternatives are tried longest first
                    end = max(ends)
                    spans.append((at, end))
                    break
            else:
                continue
            break
    return spans


def _is_word_char(ch: str) -> bool:
    """re's \\w for str patterns."""
    return ch.isalnum() or ch == "_"


def find_candidates(text: str, known: Sequence[Mention],
                    normalized: tuple[str, Sequence[int]] | None = None) -> list[Mention]:
    """Candidate person mentions after titles, then their surnames alone; none overlapping a dictionary mention."""
    norm, index = normalized or normalize_with_map(text)
    index = original_index(text, index)

    def original(start: int, end: int) -> tuple[int, int]:
        return index[start], index[end - 1] + 1

    taken = [(m.start, m.end) for m in known]
    found: dict[tuple[int, int], str] = {}

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in taken)

    for start, end in _arabic_candidates(norm):
        o_start, o_end = original(start, end)
        if not free(o_start, o_end):
            continue
        cid = candidate_id(text[o_start:o_end])
        found[(o_start, o_end)] = cid
        taken.append((o_start, o_end))
        surname = norm[start:end].rsplit(" ", 1)[-1]
        for s_start, s_end in _surname_spans(norm, surname, end):
            o = original(s_start, s_end)
            if free(*o):
                found[o] = cid
                taken.append(o)
    for start, end in _english_candidates(text, norm):
        if free(start, end):
            found[(start, end)] = candidate_id(text[start:end])
            taken.append((start, end))
    return [Mention(actor_id=cid, name=cid.removeprefix(CANDIDATE_PREFIX), type="person", surface=text[s:e],
                    start=s, end=e) for (s, e), cid in sorted(found.items())]
