"""Labeled article pairs for the near-duplicate benchmark, built from the seed articles (deterministic, seeded).

    python benchmarks/dedup_pairs.py [SEEDS_DIR]   # prints counts per label and kind

Duplicates: one seed article republished with the edits wire copies get (other site chrome, a dropped or added
paragraph, another dateline, سيرغي/سيرجي, "المصدر: وكالات", a rewritten headline, all of these together) and
heavier rewrites (paraphrased sentences, reordered and cut paragraphs). Non-duplicates: two different seed
articles about the same actor (they are all about Lavrov), dressed as the same day's news: same dateline,
same credit, same headline pattern, and sometimes a shared background paragraph.
"""

from __future__ import annotations

import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

CHROME = [
    "اقرأ أيضا: ترامب يفرض قيودا كاملة على دخول رعايا 5 دول جديدة للولايات المتحدة",
    "تابعوا آخر الأخبار عبر قناتنا على تلغرام",
    "شارك هذا الخبر على فيسبوك وتويتر",
    "الأكثر قراءة: نتنياهو يعلن رسميا المصادقة على صفقة الغاز مع مصر",
    "وزير الخارجية الروسي سيرغي لافروف (أرشيف)",
]
DATELINES = ["موسكو - (وكالات) - ", "موسكو - سانا - ", "موسكو | ", "(رويترز) - "]
BACKGROUND = [
    "يذكر أن روسيا تشارك في العمليات العسكرية في سوريا منذ أيلول 2015 بطلب من الحكومة السورية.",
    "وتشهد موسكو في الآونة الأخيرة حراكا دبلوماسيا مكثفا متعلقا بالملف السوري واستقبلت عددا من الوفود.",
]
# Paraphrase: what an editor who rewrites rather than reposts changes (verbs of saying, connectives, titles).
SYNONYMS = {
    "قال": "أعلن", "وقال": "وأعلن", "أكد": "شدد", "وأكد": "وشدد", "أضاف": "تابع", "وأضاف": "وتابع",
    "أوضح": "بين", "وأوضح": "وبين", "اعتبر": "رأى", "واعتبر": "ورأى", "الروسي": "الروسية",
    "وزير": "رئيس دبلوماسية", "الخارجية": "روسيا", "إن": "أن", "أن": "بأن", "في": "ضمن", "على": "فوق",
    "من": "عن", "إلى": "نحو", "مع": "برفقة", "حول": "بشأن", "خلال": "أثناء", "التي": "اللتي", "الذي": "والذي",
    "موسكو": "العاصمة الروسية", "سوريا": "سورية", "السورية": "في سوريا", "المعارضة": "الفصائل المعارضة",
}


@dataclass(frozen=True)
class Doc:
    title: str
    paragraphs: tuple[str, ...]

    def text(self) -> str:
        """Like a cleaned Article's text: title line, then body paragraphs."""
        return "\n".join((self.title, *self.paragraphs))


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    duplicate: bool
    kind: str
    heavy: bool = False


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _body(lines: list[str], start: int) -> list[str]:
    """Paragraphs after a title up to the credit line; captions, repeated titles and short lines dropped."""
    out = []
    for line in lines[start + 1:]:
        if line.startswith("المصدر") or line in ("أقسام", "التعليقات"):
            break
        if "/ " in line and len(line) < 120 or line == lines[start] or len(line) < 60 or line in out:
            continue
        out.append(line)
    return out


def seed_articles(seeds: Path = DEFAULT_SEEDS) -> list[Doc]:
    """The distinct articles in the seed pages: one per article page, each post of the tag archive."""
    docs = []
    for path in sorted(seeds.glob("*.txt")):
        lines = _lines(path)
        if lines[0].startswith("أرشيف"):
            starts = [i - 1 for i, line in enumerate(lines) if line == "موسكو|"]
            for s, nxt in zip(starts, starts[1:] + [len(lines)]):
                body = [line for line in lines[s + 2:nxt] if len(line) >= 60]
                docs.append(Doc(lines[s], tuple(body)))
            continue
        # The article title is the first long line that starts the text block (after the site chrome).
        start = next(i for i, line in enumerate(lines) if i + 1 < len(lines) and len(lines[i + 1]) > 100
                     and 20 < len(line) < 120 and "/ " not in line and not line.startswith("•"))
        docs.append(Doc(lines[start], tuple(_body(lines, start))))
    return [d for d in docs if len(d.paragraphs) >= 3]


# --- edits a republished copy gets -------------------------------------------------------------------------

def chrome(d: Doc, rng: random.Random) -> Doc:
    extra = rng.sample(CHROME, 2)
    return Doc(d.title, (extra[0], *d.paragraphs, extra[1]))


def drop_paragraph(d: Doc, rng: random.Random) -> Doc:
    i = rng.randrange(1, len(d.paragraphs))
    return Doc(d.title, d.paragraphs[:i] + d.paragraphs[i + 1:])


def add_paragraph(d: Doc, rng: random.Random) -> Doc:
    i = rng.randrange(1, len(d.paragraphs) + 1)
    return Doc(d.title, d.paragraphs[:i] + (rng.choice(BACKGROUND),) + d.paragraphs[i:])


def dateline(d: Doc, rng: random.Random) -> Doc:
    lead = re.sub(r"^(موسكو\s*[|-]\s*)", "", d.paragraphs[0])
    lead = re.sub(r"(الخميس|الاثنين|الجمعة|السبت|الأحد|الثلاثاء|الأربعاء)", "يوم أمس", lead)
    return Doc(d.title, (rng.choice(DATELINES) + lead, *d.paragraphs[1:]))


def transliteration(d: Doc, rng: random.Random) -> Doc:
    swap = {"سيرغي": "سيرجي", "غوتيريش": "جوتيريش", "دي ميستورا": "دي مستورا", "لودريان": "لو دريان"}

    def fix(t: str) -> str:
        for a, b in swap.items():
            t = t.replace(a, b)
        return t
    return Doc(fix(d.title), tuple(fix(p) for p in d.paragraphs))


def credit(d: Doc, rng: random.Random) -> Doc:
    return Doc(d.title, (*d.paragraphs, "المصدر: وكالات"))


def headline(d: Doc, rng: random.Random) -> Doc:
    words = d.paragraphs[0].split()
    return Doc("بالفيديو | " + " ".join(words[rng.randrange(2, 6):][:9]), d.paragraphs)


def republished(d: Doc, rng: random.Random) -> Doc:
    """Everything a republishing site does at once."""
    for edit in (chrome, dateline, transliteration, credit, headline, drop_paragraph):
        d = edit(d, rng)
    return d


LIGHT_EDITS = {f.__name__: f for f in (chrome, drop_paragraph, add_paragraph, dateline, transliteration, credit,
                                       headline, republished)}


def paraphrase(d: Doc, rng: random.Random, share: float) -> Doc:
    """A rewrite: `share` of the words swapped for synonyms or cut, paragraphs trimmed and reordered."""
    def rewrite(p: str) -> str:
        out = []
        for w in p.split():
            r = rng.random()
            if r < share / 2 and w in SYNONYMS:
                out.append(SYNONYMS[w])
            elif r < share / 3:
                continue  # a word cut
            else:
                out.append(w)
        return " ".join(out)
    paras = [rewrite(p) for p in d.paragraphs]
    keep = max(2, round(len(paras) * (1 - share / 2)))
    body = [paras[0]] + rng.sample(paras[1:], min(keep - 1, len(paras) - 1))
    return headline(Doc(d.title, tuple(body)), rng)


def lead_only(d: Doc, rng: random.Random) -> Doc:
    """A short take: the headline and the first paragraphs only."""
    return Doc(d.title, d.paragraphs[:max(2, len(d.paragraphs) // 3)])


# --- same actor, same day, different article -------------------------------------------------------------

def same_day(a: Doc, b: Doc, rng: random.Random, share_background: bool) -> tuple[Doc, Doc]:
    """Two different articles made to look like one day's news: same dateline, credit, headline pattern."""
    line = rng.choice(DATELINES)

    def dress(d: Doc) -> Doc:
        paras = [line + d.paragraphs[0], *d.paragraphs[1:], "المصدر: وكالات"]
        if share_background:
            paras.insert(len(paras) - 1, BACKGROUND[0])
        return Doc("لافروف: " + d.title.split(":")[-1].strip(), tuple(paras))
    return dress(a), dress(b)


def build_pairs(seeds: Path = DEFAULT_SEEDS, seed: int = 5, variants: int = 3) -> list[Pair]:
    rng = random.Random(seed)
    docs = seed_articles(seeds)
    pairs: list[Pair] = []
    for d in docs:
        for name, edit in LIGHT_EDITS.items():
            for _ in range(variants):
                pairs.append(Pair(d.text(), edit(d, rng).text(), True, name))
        for share in (0.3, 0.5, 0.7):
            for _ in range(variants):
                pairs.append(Pair(d.text(), paraphrase(d, rng, share).text(), True, f"rewrite {share:.0%}", True))
        pairs.append(Pair(d.text(), lead_only(d, rng).text(), True, "lead only", True))
    for i, a in enumerate(docs):
        for b in docs[i + 1:]:
            for shared in (False, True):
                x, y = same_day(a, b, rng, shared)
                pairs.append(Pair(x.text(), y.text(), False, "same actor, same day" + (", shared paragraph" * shared)))
    return pairs


if __name__ == "__main__":
    from collections import Counter

    seeds = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SEEDS
    docs = seed_articles(seeds)
    print(f"{len(docs)} seed articles:")
    for d in docs:
        print(f"  {len(d.paragraphs):2d} paragraphs  {d.title[:70]}")
    for (dup, kind), n in sorted(Counter((p.duplicate, p.kind) for p in build_pairs(seeds)).items()):
        print(f"{'duplicate' if dup else 'distinct':9s}  {kind:40s} {n}")
