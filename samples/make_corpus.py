"""Build the bundled sample corpus from the user's seed pages (text) in ../shared/seeds.

    python samples/make_corpus.py [SEEDS_DIR]

Deterministic: re-running rewrites the same files. Article bodies are the seeds' text verbatim;
the site chrome around them (menus, "Stories" boxes, related and most-read headlines naming
other actors, comments, share buttons, footers, scripts) is modelled on the seed pages.
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = Path(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else HERE.parents[1] / "shared" / "seeds"
if __name__ == "__main__":  # absent seeds: one clear message and exit 2, not a traceback
    sys.path.insert(0, str(HERE.parent))
    from samples import require_seeds

    require_seeds(SEEDS)


def lines(name: str) -> list[str]:
    [path] = SEEDS.glob(f"{name}_*.txt")
    return [l.strip() for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]


def between(ls: list[str], start: int, stop: int, skip: tuple[int, ...] = ()) -> list[str]:
    return [l for i, l in enumerate(ls[start:stop], start) if i not in skip]


s0, s2, s3, s4 = lines("000"), lines("002"), lines("003"), lines("004")
def find(ls: list[str], prefix: str, start: int = 0) -> int:
    return next(i for i in range(start, len(ls)) if ls[i].startswith(prefix))


A_TITLE_AT = find(s0, "لافروف: إشارات الغرب")
A_TITLE = s0[A_TITLE_AT]
A_CREDIT_AT = find(s0, "المصدر", A_TITLE_AT)
A_BODY = s0[A_TITLE_AT + 1:A_CREDIT_AT]
A_CREDIT = s0[A_CREDIT_AT]
B_TITLE_AT = find(s3, "مصدر دبلوماسي رفيع")
B_TITLE = s3[B_TITLE_AT]
B_BODY = [l for l in s3[B_TITLE_AT + 1:find(s3, "المصدر", B_TITLE_AT)]
          if l != B_TITLE and "/ Omar" not in l and "Reuters" not in l]
C_TITLE = s4[0]
C_BODY = [l for l in s4[1:find(s4, "أقسام")] if not l.startswith("وزير الخارجية الروسي سيرغي لافروف خلال استقباله")]
C_BODY = list({l[:60]: l for l in reversed(C_BODY)}.values())[::-1]  # the seed repeats its lead paragraph
ARCHIVE = s2

CHROME_HEADLINES = [
    "ترامب يفرض قيودا كاملة على دخول رعايا 5 دول جديدة للولايات المتحدة",
    "نتنياهو يعلن رسميا المصادقة على صفقة الغاز مع مصر بمبلغ فلكي",
    "خامنئي يوجه رسالة إلى الحجاج في موسم الحج",
    "زيلينسكي يطالب بمزيد من الأسلحة الغربية",
    "أردوغان يستقبل وفدا من حركة حماس في أنقرة",
]
STORIES = ["أوروبا وسرقة الأصول الروسية", "العملية العسكرية الروسية في أوكرانيا", "خطة أمريكية للتسوية في أوكرانيا"]


def esc(t: str) -> str:
    return html.escape(t, quote=True)


def meta_block(url: str, title: str, published: str | None, charset: str = "utf-8") -> str:
    parts = [f'<meta charset="{charset}">', f"<title>{esc(title)} - {esc(url.split('/')[2])}</title>",
             f'<link rel="canonical" href="{esc(url)}">', f'<meta property="og:url" content="{esc(url)}">',
             f'<meta property="og:title" content="{esc(title)}">',
             '<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}</script>']
    if published:
        parts.append(f'<meta property="article:published_time" content="{published}">')
        parts.append('<script type="application/ld+json">' + json.dumps(
            {"@context": "https://schema.org", "@type": "NewsArticle", "headline": title, "datePublished": published},
            ensure_ascii=False) + "</script>")
    return "\n".join(parts)


def rt_page(url, title, paragraphs, published=None, dateline=None, credit=None, caption=None, charset="utf-8"):
    """An RT-Arabic-like template: semantic <article>, Stories box, comments, related headlines."""
    nav = "".join(f'<li><a href="/section/{i}">{esc(t)}</a></li>' for i, t in
                  enumerate(["الرئيسية", "أخبار", "الشرق الأوسط", "روسيا", "العالم", "اقتصاد", "فيديو"]))
    stories = "".join(f'<li><a href="/story/{i}"><span>{esc(t)}</span><span class="count">58 خبر</span></a></li>'
                      for i, t in enumerate(STORIES))
    related = "".join(f'<li><a href="/news/{i}">{esc(t)}</a></li>' for i, t in enumerate(CHROME_HEADLINES))
    fig = f'<figure><img src="/img/1.jpg" alt=""><figcaption>{esc(caption)}</figcaption></figure>' if caption else ""
    date = f'<div class="date">{esc(dateline)}</div>' if dateline else ""
    body = "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    cred = f'<p class="source">{esc(credit)}</p>' if credit else ""
    return f"""<!DOCTYPE html>
<html lang="ar" dir="rtl"><head>
{meta_block(url, title, published, charset)}
</head><body>
<header><div class="logo"><a href="/">RT Arabic</a></div><a href="/live">مباشر</a><span>أين يمكنك متابعتنا</span>
<nav class="menu"><ul>{nav}</ul></nav></header>
<section class="stories"><h3>Stories</h3><ul>{stories}</ul></section>
<main><article>
<h1>{esc(title)}</h1>{date}{fig}
<div class="article-body">{body}{cred}</div>
<div class="share"><a href="#">فيسبوك</a> <a href="#">تويتر</a> <a href="#">واتساب</a></div>
</article>
<section class="comments"><h3>التعليقات</h3>
<div class="comment"><span>أبو محمد</span><p>ترامب ونتنياهو وراء كل هذا</p></div></section>
<aside class="most-read"><h3>الأكثر قراءة</h3><ul>{related}</ul></aside>
</main>
<footer><ul><li><a href="/about">من نحن</a></li><li><a href="/privacy">سياسة الخصوصية</a></li></ul>
<p>جميع الحقوق محفوظة</p></footer>
<script>gtag('event','page_view');</script>
</body></html>
"""


def agency_page(url, title, paragraphs, published=None, dateline=None, credit=None):
    """A republisher template: div soup, sidebar first, headlines block after the text."""
    side = "".join(f'<div class="item"><a href="/n/{i}">{esc(t)}</a></div>' for i, t in enumerate(CHROME_HEADLINES[1:]))
    body = "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    date = f'<span class="byline">{esc(dateline)}</span>' if dateline else ""
    cred = f"<p>{esc(credit)}</p>" if credit else ""
    return f"""<html lang="ar" dir="rtl"><head>
{meta_block(url, title, published)}
</head><body>
<div id="top-bar"><a href="/">الصفحة الرئيسية</a> | <a href="/politics">سياسة</a> | <a href="/sport">رياضة</a> | <a href="/contact">اتصل بنا</a></div>
<div class="sidebar news-list"><div class="title">آخر الأخبار</div>{side}</div>
<div class="content"><div class="post">
<h1 class="post-title">{esc(title)}</h1>{date}
<div class="post-content">{body}{cred}</div>
<div class="tags">وسوم: <a href="/tag/1">سوريا</a> <a href="/tag/2">روسيا</a></div>
</div>
<div class="related"><div class="title">اقرأ أيضا</div><ul><li><a href="/x">{esc(CHROME_HEADLINES[0])}</a></li></ul></div>
</div>
<div class="footer">© 2016 جميع الحقوق محفوظة</div>
</body></html>
"""


def archive_page(url, entries):
    blocks = "".join(f'<article class="post"><h2><a href="/p/{i}">{esc(t)}</a></h2><p>{esc(d)}</p>'
                     + "".join(f"<p>{esc(p)}</p>" for p in ps) + "</article>" for i, (t, d, ps) in enumerate(entries))
    return f"""<html lang="ar" dir="rtl"><head>{meta_block(url, "أرشيف الوسم : لافروف", None)}</head><body>
<nav><a href="/">الرئيسية</a> <a href="/world">عالمي</a></nav>
<h1>أرشيف الوسم : لافروف</h1>{blocks}
<footer>جميع الحقوق محفوظة</footer></body></html>
"""


def english_page():
    paras = [
        "Russian Foreign Minister Sergei Lavrov and U.S. Secretary of State John Kerry met in Geneva on Friday "
        "to discuss a ceasefire in Syria, officials from both sides said.",
        "Lavrov told reporters that Moscow and Washington had agreed on the main points of a plan to restore the "
        "truce around Aleppo, while Kerry said the talks had been long and difficult.",
        "The United Nations envoy for Syria, Staffan de Mistura, joined part of the meeting and said the United "
        "Nations was ready to resume intra-Syrian talks as soon as the violence eased.",
    ]
    body = "".join(f"<p>{esc(p)}</p>" for p in paras)
    return f"""<html lang="en"><head>{meta_block("https://www.worldwire.example/world/lavrov-kerry-geneva-syria", "Lavrov and Kerry meet in Geneva on Syria truce", "2016-09-09T18:05:00+00:00")}</head>
<body><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/business">Business</a></nav>
<article><h1>Lavrov and Kerry meet in Geneva on Syria truce</h1><p class="byline">By Staff Reporter</p>{body}</article>
<aside><h3>Most read</h3><ul><li>Trump signs defence budget for fiscal 2026</li><li>Netanyahu approves gas deal with Egypt</li></ul></aside>
<footer>All rights reserved</footer></body></html>
"""


def main() -> None:
    corpus, bad = HERE / "corpus", HERE / "bad"
    corpus.mkdir(exist_ok=True)
    bad.mkdir(exist_ok=True)
    a_date = "الخميس 24 نوفمبر/تشرين الثاني 2016 15:32"
    pages = {
        # The wire story (seed 000) on three sites: RT with a meta date, two republishers with datelines only.
        "01-rt-lavrov-west-signals.html": rt_page("https://arabic.rt.com/news/852123-lavrov-west-signals/", A_TITLE,
                                                  A_BODY, published="2016-11-24T15:32:00+03:00", credit=A_CREDIT,
                                                  caption="وزير الخارجية الروسي سيرغي لافروف"),
        "02-alwatan-lavrov-west-signals.html": agency_page(
            "https://www.alwatan-news.example/politics/2016/11/24/lavrov?utm_source=facebook&utm_medium=social",
            A_TITLE, A_BODY, dateline=a_date, credit=A_CREDIT),
        "03-sawt-lavrov-west-signals.html": agency_page("https://sawt-alsham.example/news/55120", A_TITLE, A_BODY,
                                                        dateline="موسكو - الخميس 24 تشرين الثاني 2016"),
        "04-rt-de-mistura-friends.html": rt_page("https://arabic.rt.com/news/851001-de-mistura-friends/", B_TITLE,
                                                 B_BODY, dateline="الاثنين 17 تشرين الأول 2016 12:10",
                                                 credit="المصدر: RT"),
        "05-alwatan-lavrov-le-drian.html": agency_page("https://www.alwatan-news.example/politics/2017/09/08/drian",
                                                       C_TITLE, C_BODY, published="2017-09-08T10:00:00+03:00"),
        "07-tag-archive-lavrov.html": archive_page("https://alkhabar-sy.example/tag/lavrov/", [
            (ARCHIVE[1], "الاثنين 3 تشرين الأول 2016", ARCHIVE[3:11]),
            (ARCHIVE[11], "السبت 1 تشرين الأول 2016", ARCHIVE[13:20]),
        ]),
        "08-worldwire-lavrov-kerry-en.html": english_page(),
    }
    for name, text in pages.items():
        (corpus / name).write_text(text, encoding="utf-8")
    # A legacy-charset page: bytes on disk in windows-1256, declared in <meta>.
    legacy = rt_page("https://arabic.rt.com/news/850500-lavrov-collapse/", ARCHIVE[1], ARCHIVE[3:11],
                     dateline="الاثنين 3 تشرين الأول 2016", charset="windows-1256")
    (corpus / "06-rt-lavrov-collapse-cp1256.html").write_bytes(legacy.encode("cp1256", errors="xmlcharrefreplace"))

    # What the tests hold the cleaner to, so they need no seeds.
    expected = {"chrome": CHROME_HEADLINES + STORIES, "articles": {
        "01-rt-lavrov-west-signals.html": {"title": A_TITLE, "body": A_BODY},
        "02-alwatan-lavrov-west-signals.html": {"title": A_TITLE, "body": A_BODY},
        "03-sawt-lavrov-west-signals.html": {"title": A_TITLE, "body": A_BODY},
        "04-rt-de-mistura-friends.html": {"title": B_TITLE, "body": B_BODY},
        "05-alwatan-lavrov-le-drian.html": {"title": C_TITLE, "body": C_BODY},
        "06-rt-lavrov-collapse-cp1256.html": {"title": ARCHIVE[1], "body": ARCHIVE[3:11]},
    }}
    (HERE / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    (bad / "empty.html").write_bytes(b"")
    (bad / "binary.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2)
    (bad / "not-html.json").write_text(json.dumps({"title": "not a page", "items": list(range(20))}))
    (bad / "navigation-only.html").write_text(
        '<html lang="ar"><body><nav><ul>' + "".join(f'<li><a href="/{i}">{esc(t)}</a></li>' for i, t in
                                                     enumerate(STORIES + CHROME_HEADLINES)) + "</ul></nav></body></html>",
        encoding="utf-8")
    (bad / "no-body.html").write_text("<html><head><title>x</title></head></html>")


if __name__ == "__main__":
    main()
