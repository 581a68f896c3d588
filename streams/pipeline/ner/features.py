"""Token attributes of the Arabic named-entity recognizer: what a word looks like, with no reference to its
neighbours, so that the runtime can turn each distinct word into score vectors once and cache them.

Every feature of a token is "offset:attribute of the word at that offset" (offsets -2..+2), so a token's
emission scores are the sum, over offsets, of a per-word vector: one dictionary lookup per token, the rest
array gathers (see streams/pipeline/ner/model.py). Written by hand because the features must stay cacheable per word,
which generic feature extractors (sklearn-crfsuite's dict features) do not give.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.pipeline.arabic import normalize

TOKEN = re.compile(r"\w+|[^\w\s]")
PAD = "<s>"  # the word before a sequence's start and after its end
OFFSETS = (-2, -1, 0, 1, 2)

# Proclitics, longest first: conjunction, preposition, article (ANERcorp keeps them attached: وبغداد، للرئيس).
_PROCLITICS = ("وبال", "وكال", "فبال", "وال", "بال", "فال", "كال", "ولل", "فلل", "لل", "ال",
               "وب", "ول", "وك", "فب", "فل", "و", "ف", "ب", "ل", "ك")
_ENCLITICS = ("هما", "كما", "ها", "هم", "هن", "كم", "نا", "ه", "ي", "ك")

# Words before names, normalized (أ->ا, ة->ه, ى/ئ->ي): they tell the type of the name that follows.
PERSON_TRIGGERS = frozenset(normalize(w) for w in """
الرئيس الرئيسة رئيس رئيسة وزير وزيرة الوزير الوزيرة السيد السيدة الدكتور الدكتورة المهندس الشيخ الشيخة الملك
الملكة الأمير الأميرة العاهل الجنرال العقيد اللواء العميد المشير الفريق النائب النائبة السفير السفيرة المبعوث
المبعوثة المستشار المستشارة الناطق المتحدث المتحدثة نظيره نظيرته الأمين القاضي المدرب اللاعب الكاتب الشاعر
الفنان الفنانة المخرج البابا الإمام آية الزعيم زعيم قائد القائد السيناتور الحاكم حاكم مساعد مدير المدير رئيسه
المرشح المرشحة الصحفي الصحفية الباحث البروفسور الأستاذ المطرب المطربة الممثل الممثلة نجم النجم
""".split())
ORGANIZATION_TRIGGERS = frozenset(normalize(w) for w in """
شركة الشركة حزب الحزب حركة الحركة منظمة المنظمة وكالة الوكالة جامعة الجامعة مجلس المجلس بنك البنك مصرف صحيفة
الصحيفة اتحاد الاتحاد جمعية الجمعية مؤسسة المؤسسة هيئة الهيئة جبهة الجبهة تنظيم التنظيم نادي النادي فريق قناة
القناة مجموعة المجموعة لجنة اللجنة وزارة الوزارة محكمة المحكمة مركز المركز جماعة الجماعة تحالف التحالف صندوق
""".split())
LOCATION_TRIGGERS = frozenset(normalize(w) for w in """
مدينة المدينة محافظة المحافظة ولاية الولاية منطقة المنطقة بلدة البلدة قرية القرية عاصمة العاصمة دولة جمهورية
مملكة نهر جزيرة جزر إقليم الإقليم مقاطعة المقاطعة شمال جنوب شرق غرب وسط حي مخيم ميناء مطار بحر جبل جبال
""".split())


def normalize_token(token: str) -> str:
    return normalize(token.replace("\u200e", "").replace("\ufeff", ""))


def strip_proclitic(word: str, min_rest: int = 3) -> tuple[str, str]:
    """(proclitic, stem): the longest listed proclitic that leaves at least `min_rest` letters."""
    for p in _PROCLITICS:
        if word.startswith(p) and len(word) - len(p) >= min_rest:
            return p, word[len(p):]
    return "", word


def strip_enclitic(word: str, min_rest: int = 3) -> tuple[str, str]:
    for s in _ENCLITICS:
        if word.endswith(s) and len(word) - len(s) >= min_rest:
            return word[:-len(s)], s
    return word, ""


@dataclass
class Gazetteer:
    """Word-level name lists: words seen inside names of each type, and first/last words of person names."""

    words: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in
                                                                ("PER", "PER1", "PERn", "LOC", "ORG", "MISC")})

    def add_vocabulary(self, seen: dict[str, int], outside: dict[str, int]) -> None:
        """Word frequency in unlabeled-for-this-purpose text: seen at all, often, very often, and common words
        that are almost never part of a name (a rare word in a name's context is likely a name)."""
        self.words["C1"] = {w for w, n in seen.items() if n >= 1 and w[:1].isalpha()}
        self.words["C5"] = {w for w in self.words["C1"] if seen[w] >= 5}
        self.words["C50"] = {w for w in self.words["C5"] if seen[w] >= 50}
        self.words["NN"] = {w for w in self.words["C5"] if outside.get(w, 0) >= 0.9 * seen[w]}

    def add(self, kind: str, tokens: list[str]) -> None:
        tokens = [t for t in tokens if t and t[0].isalpha()]
        if not tokens:
            return
        self.words[kind].update(tokens)
        if kind == "PER":
            self.words["PER1"].add(tokens[0])
            if len(tokens) > 1:
                self.words["PERn"].add(tokens[-1])

    def flags(self, word: str) -> list[str]:
        return [kind for kind, words in self.words.items() if word in words]


_BARE = re.compile(r"^(?:[وف]?[بك]?(?=ال)|[وف]?ل(?=ل)|[وف](?=[^ا]))")


def _bare(word: str) -> str:
    """Without conjunction/preposition but with its article (للشيخ -> الشيخ, وبالرئيس -> الرئيس, وقال -> قال)."""
    rest = _BARE.sub("", word, count=1)
    if rest.startswith("ل") and not rest.startswith("ال") and word.startswith(("لل", "ولل", "فلل")):
        rest = "ا" + rest
    return rest if len(rest) >= 2 else word


def _shape(word: str) -> str:
    if word.isdigit():
        return "d"
    if not word[0].isalnum():
        return "p"
    if word.isascii():
        return "l"
    return "a"


def word_attributes(word: str, gazetteer: Gazetteer) -> tuple[list[str], list[str]]:
    """(attributes of the word itself, the subset used when it is a neighbour). `word` is normalized."""
    if word == PAD:
        return ["w=" + PAD], ["w=" + PAD]
    shape = _shape(word)
    own = ["w=" + word, "sh=" + shape]
    ctx = ["w=" + word, "sh=" + shape]
    if shape != "a":
        return own, ctx
    n = len(word)
    own += ["p2=" + word[:2], "p3=" + word[:3], "s1=" + word[-1], "s2=" + word[-2:], "s3=" + word[-3:],
            "p4=" + word[:4], "s4=" + word[-4:], "len=" + str(min(n, 9))]
    clitic, stem = strip_proclitic(word)
    core, enclitic = strip_enclitic(stem)
    own += ["st=" + stem, "pc=" + clitic, "core=" + core, "ec=" + enclitic]
    ctx += ["st=" + stem]
    bare = _bare(word)
    if bare != word and bare != stem:
        own.append("b=" + bare)
    for form, tag in ((word, ""), (stem, "~"), (bare, "^")):
        if tag == "^" and bare in (word, stem):
            continue
        for kind in gazetteer.flags(form):
            own.append("g" + tag + "=" + kind)
            ctx.append("g" + tag + "=" + kind)
        for kind, triggers in (("P", PERSON_TRIGGERS), ("O", ORGANIZATION_TRIGGERS), ("L", LOCATION_TRIGGERS)):
            if form in triggers:
                own.append("t" + tag + "=" + kind)
                ctx.append("t" + tag + "=" + kind)
    return own, ctx


def sequence_features(words: list[str], gazetteer: Gazetteer,
                      cache: dict[str, tuple[list[str], list[str]]] | None = None) -> list[list[str]]:
    """CRF attributes of each token of a sentence, for training (the runtime sums cached vectors instead)."""
    cache = {} if cache is None else cache

    def attrs(w: str) -> tuple[list[str], list[str]]:
        got = cache.get(w)
        if got is None:
            got = cache[w] = word_attributes(w, gazetteer)
        return got

    padded = [PAD, PAD] + list(words) + [PAD, PAD]
    out = []
    for i in range(2, len(padded) - 2):
        feats = list(attrs(padded[i])[0])
        for o in (-2, -1, 1, 2):
            feats.extend(f"{o}:{a}" for a in attrs(padded[i + o])[1])
        out.append(feats)
    return out


def tokens(text: str) -> Iterable[re.Match]:
    return TOKEN.finditer(text)
