"""Build the labeled Arabic set: seed articles in several site templates, each with its expected output.

    python samples/make_labeled.py [SEEDS_DIR]

Writes samples/labeled/<name>.html and samples/labeled/<name>.json with the title, the body paragraphs
in order, the publication time (UTC) and where it must come from, the author when the page states one,
and the chrome strings (menus, Stories boxes, headlines naming other actors, comments, captions, credits,
share buttons, footers, script text) that must not survive. Deterministic: re-running rewrites the same files.
Article text is the seeds' verbatim; the templates are modelled on real Arabic news sites.
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
OUT = HERE / "labeled"


def seed(name: str) -> list[str]:
    [path] = SEEDS.glob(f"{name}_*.txt")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def find(ls: list[str], prefix: str, start: int = 0) -> int:
    return next(i for i in range(start, len(ls)) if ls[i].startswith(prefix))


def esc(t: str) -> str:
    return html.escape(t, quote=True)


def unique(ls: list[str]) -> list[str]:
    return list(dict.fromkeys(ls))


def load_articles() -> dict[str, dict]:
    """The seeds' articles: title, body paragraphs, caption and credit lines (chrome in every template)."""
    s0, s1, s2, s3, s4 = (seed(n) for n in ("000", "001", "002", "003", "004"))
    arts = {}
    t = find(s0, "لافروف: إشارات الغرب")
    c = find(s0, "المصدر", t)
    arts["west-signals"] = dict(title=s0[t], body=s0[t + 1:c], credit=s0[c], author=s0[c + 1],
                                caption="وزير الخارجية الروسي سيرغي لافروف في مؤتمر صحفي بموسكو",
                                photo="Sputnik", published=("2016-11-24T15:32:00+03:00", 2016, 11, 24, 15, 32),
                                related=s0[c + 3:])
    t = find(s1, "لافروف: اتفقنا")
    c = find(s1, "المصدر", t)
    arts["kerry-kremlin"] = dict(title=s1[t], body=[p for p in s1[t + 1:c] if p != s1[t] and "/ Sputnik" not in p],
                                 credit=s1[c], author=None, caption=s1[t], photo="خلال المحادثات في الكرملين / Sputnik",
                                 published=("2015-12-15T22:40:00+03:00", 2015, 12, 15, 22, 40), related=s1[c + 2:])
    t = find(s3, "مصدر دبلوماسي رفيع")
    c = find(s3, "المصدر", t)
    arts["de-mistura-friends"] = dict(title=s3[t], body=[p for p in s3[t + 1:c] if p != s3[t] and "Reuters" not in p],
                                      credit=s3[c], author=None, caption="ستيفان دي ميستورا",
                                      photo="Omar Sanadiki / Reuters",
                                      published=("2015-10-17T12:10:00+03:00", 2015, 10, 17, 12, 10), related=s3[c + 2:])
    end = find(s4, "أقسام")
    caption = next(p for p in s4 if p.startswith("وزير الخارجية الروسي سيرغي لافروف خلال استقباله"))
    body = [p for p in s4[1:end] if p != caption and not p.endswith("...")]
    arts["le-drian"] = dict(title=s4[0], body=unique(body), credit=None, author=None, caption=caption, photo=None,
                            published=("2017-09-08T10:00:00+03:00", 2017, 9, 8, 10, 0), related=[])
    arts["collapse"] = dict(title=s2[1], body=s2[3:11], credit=None, author=None, dateline_place=s2[2],
                            caption=None, photo=None, published=("2016-10-03T00:00:00+00:00", 2016, 10, 3, 0, 0),
                            related=[s2[11], s2[21]])
    return arts


# Arabic weekday and both month systems, for visible datelines.
WEEKDAYS = ["الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"]
EGYPTIAN = ["يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر"]
LEVANTINE = ["كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران", "تموز", "آب", "أيلول", "تشرين الأول",
             "تشرين الثاني", "كانون الأول"]


def weekday(y: int, m: int, d: int) -> str:
    from datetime import date
    return WEEKDAYS[date(y, m, d).weekday()]


NAV = ["الرئيسية", "أخبار", "الشرق الأوسط", "روسيا", "العالم", "اقتصاد", "رياضة", "فيديو", "اتصل بنا"]
STORIES = [("أوروبا وسرقة الأصول الروسية", "58 خبر"), ("العملية العسكرية الروسية في أوكرانيا", "75 خبر"),
           ("جنوب اليمن.. تصعيد عسكري وسياسي", "27 خبر")]
HEADLINES = [
    "ترامب يفرض قيودا كاملة على دخول رعايا 5 دول جديدة للولايات المتحدة",
    "نتنياهو يعلن رسميا المصادقة على صفقة الغاز مع مصر بمبلغ فلكي",
    "خامنئي يوجه رسالة إلى الحجاج في موسم الحج",
    "زيلينسكي يطالب بمزيد من الأسلحة الغربية",
    "أردوغان يستقبل وفدا من حركة حماس في أنقرة",
    "ماكرون يدعو إلى قمة أوروبية طارئة حول الطاقة",
]
COMMENTS = [("أبو محمد", "ترامب ونتنياهو وراء كل هذا"), ("سامي", "كلام موزون من الوزير والله يحمي سوريا"),
            ("ليلى", "متى تنتهي هذه الحرب؟ أردوغان يعرف الجواب")]
FOOTER = ["من نحن", "سياسة الخصوصية", "شروط الاستخدام", "جميع الحقوق محفوظة"]
SHARE = ["فيسبوك", "تويتر", "واتساب", "تيليغرام"]
SCRIPT = "window.dataLayer=window.dataLayer||[];gtag('config','UA-000000-1');"


def meta_tags(url: str, title: str, site: str) -> str:
    return (f'<meta charset="utf-8"><title>{esc(title)} - {esc(site)}</title>'
            f'<link rel="canonical" href="{esc(url)}"><meta property="og:url" content="{esc(url)}">'
            f'<meta property="og:title" content="{esc(title)}"><meta property="og:site_name" content="{esc(site)}">'
            f'<meta name="viewport" content="width=device-width"><script>{SCRIPT}</script>')


def related_list(items: list[str], tag: str = "li") -> str:
    return "".join(f'<{tag}><a href="/news/{i}">{esc(t)}</a></{tag}>' for i, t in enumerate(items))


def rt_page(a: dict, url: str) -> tuple[str, dict]:
    """RT-Arabic-like: semantic <article>, meta date, visible date in both month systems, Stories box,
    figure with caption and photo credit, source credit and author, comments, long 'most read' list."""
    iso, y, m, d, hh, mm = a["published"]
    dateline = f"{weekday(y, m, d)} {d} {EGYPTIAN[m - 1]}/{LEVANTINE[m - 1]} {y} {hh:02d}:{mm:02d}"
    nav = related_list(NAV)
    stories = "".join(f'<li><a href="/story/{i}"><span>{esc(t)}</span><span class="count">{esc(n)}</span></a></li>'
                      for i, (t, n) in enumerate(STORIES))
    fig = (f'<figure class="article__cover"><img src="/i/1.jpg" alt="{esc(a["caption"])}"><figcaption>'
           f'{esc(a["caption"])}<span class="credit">{esc(a["photo"] or "")}</span></figcaption></figure>'
           if a["caption"] else "")
    body = "".join(f"<p>{esc(p)}</p>" for p in a["body"])
    credit = f'<p class="article__source">{esc(a["credit"])}</p>' if a["credit"] else ""
    author = f'<div class="article__author">{esc(a["author"])}</div>' if a["author"] else ""
    # The comments widget's classes do not say "comment", as on RT: extractors keep its heading and its text.
    comments = "".join(f'<div class="item"><span class="name">{esc(n)}</span><p>{esc(t)}</p></div>' for n, t in COMMENTS)
    most = a["related"][:6] + HEADLINES
    page = f"""<!DOCTYPE html>
<html lang="ar" dir="rtl"><head>{meta_tags(url, a["title"], "RT Arabic")}
<meta property="article:published_time" content="{iso}"></head><body>
<header class="header"><div class="logo"><a href="/">RT Arabic</a></div><a class="live" href="/live">مباشر</a>
<span class="follow">أين يمكنك متابعتنا</span><nav class="menu"><ul>{nav}</ul></nav>
<div class="important"><span>أقسام مهمة</span></div></header>
<section class="stories"><h3>Stories</h3><ul>{stories}</ul></section>
<main class="layout"><article class="article">
<h1 class="article__heading">{esc(a["title"])}</h1>
<div class="article__date"><time>{esc(dateline)}</time></div>{fig}
<div class="article__text">{body}{credit}{author}</div>
<div class="share"><span>شارك</span>{"".join(f'<a href="#">{s}</a>' for s in SHARE)}</div>
<section class="discussion"><h3>التعليقات</h3>{comments}</section>
</article>
<aside class="most-read"><h3>الأكثر قراءة</h3><ul>{related_list(most)}</ul></aside></main>
<footer class="footer"><ul>{related_list(FOOTER[:3])}</ul><p>{FOOTER[3]} © RT 2005-2024</p></footer>
<script>gtag('event','page_view');</script></body></html>
"""
    chrome = NAV + [t for t, _ in STORIES] + [n for _, n in STORIES] + most + [t for _, t in COMMENTS] + FOOTER + SHARE
    chrome += ["أين يمكنك متابعتنا", "أقسام مهمة", "Stories", "التعليقات", "الأكثر قراءة", "شارك", "gtag", dateline]
    chrome += [x for x in (a["caption"], a["photo"], a["credit"], a["author"]) if x]
    return page, {"published_source": "metadata", "chrome": chrome, "author": a["author"]}


def republisher_page(a: dict, url: str) -> tuple[str, dict]:
    """A republisher: div soup, sidebar of latest headlines first, a Levantine-month dateline as the only date,
    the wire credit at the end, a tags row and a 'read also' box."""
    iso, y, m, d, hh, mm = a["published"]
    place = (a.get("dateline_place") or "موسكو").strip("|").strip()
    dateline = f"{place} - {weekday(y, m, d)} {d} {LEVANTINE[m - 1]} {y}"
    side = "".join(f'<div class="item"><a href="/n/{i}">{esc(t)}</a><span class="views">{1200 + i * 37} مشاهدة</span></div>'
                   for i, t in enumerate(HEADLINES[1:5]))
    body = "".join(f'<div class="text-line">{esc(p)}</div><br>' for p in a["body"])
    credit = f'<div class="src">{esc(a["credit"])}</div>' if a["credit"] else ""
    page = f"""<html lang="ar" dir="rtl"><head>{meta_tags(url, a["title"], "صوت الشام")}</head><body>
<div id="top-bar"><a href="/">الصفحة الرئيسية</a> | <a href="/politics">سياسة</a> | <a href="/sport">رياضة</a> | <a href="/contact">اتصل بنا</a></div>
<div class="ticker">عاجل: {esc(HEADLINES[5])}</div>
<div class="sidebar news-list"><div class="title">آخر الأخبار</div>{side}</div>
<div class="content"><div class="post">
<h1 class="post-title">{esc(a["title"])}</h1><span class="byline">{esc(dateline)}</span>
<div class="post-content">{body}{credit}</div>
<div class="tags">وسوم: <a href="/tag/1">سوريا</a> <a href="/tag/2">روسيا</a></div>
</div>
<div class="related"><div class="title">اقرأ أيضا</div><ul>{related_list(HEADLINES[:2])}</ul></div></div>
<div class="footer">© 2016 جميع الحقوق محفوظة - صوت الشام</div>
</body></html>
"""
    chrome = HEADLINES + ["الصفحة الرئيسية", "آخر الأخبار", "مشاهدة", "وسوم", "اقرأ أيضا", "جميع الحقوق محفوظة",
                          "عاجل", "gtag", dateline]
    chrome += [a["credit"]] if a["credit"] else []
    return page, {"published_source": "dateline", "chrome": chrome, "author": None,
                  "published_at": f"{y:04d}-{m:02d}-{d:02d}T00:00:00+00:00"}


def wordpress_page(a: dict, url: str) -> tuple[str, dict]:
    """A WordPress news theme: entry-content, <time datetime>, wp-caption, sharedaddy, Jetpack related posts,
    post navigation, a comments list and reply form, widget sidebar; the URL carries a date (ranked below)."""
    iso, y, m, d, hh, mm = a["published"]
    author = a["author"] or "فريق التحرير"
    cap = (f'<div class="wp-caption aligncenter"><img src="/wp-content/uploads/1.jpg" alt="">'
           f'<p class="wp-caption-text">{esc(a["caption"])}</p></div>' if a["caption"] else "")
    paras = [f"<p>{esc(p)}</p>" for p in a["body"]]
    paras.insert(1, cap)
    credit = f"<p><strong>{esc(a['credit'])}</strong></p>" if a["credit"] else ""
    comments = "".join(f'<li class="comment"><article class="comment-body"><footer class="comment-meta"><b class="fn">'
                       f'{esc(n)}</b> <span class="says">says:</span></footer><div class="comment-content"><p>{esc(t)}</p>'
                       f'</div><div class="reply"><a class="comment-reply-link" href="#">رد</a></div></article></li>'
                       for n, t in COMMENTS)
    page = f"""<!DOCTYPE html>
<html dir="rtl" lang="ar"><head>{meta_tags(url, a["title"], "الوطن نيوز")}
<link rel="stylesheet" id="wp-block-library-css" href="/wp-includes/css/dist/block-library/style.min.css"></head>
<body class="post-template-default single single-post single-format-standard">
<div id="page" class="site"><a class="skip-link screen-reader-text" href="#content">انتقل إلى المحتوى</a>
<header id="masthead" class="site-header"><p class="site-title"><a href="/">الوطن نيوز</a></p>
<nav id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu">{related_list(NAV)}</ul></nav></header>
<div id="content" class="site-content"><div id="primary" class="content-area"><main id="main" class="site-main">
<article id="post-4411" class="post-4411 post type-post status-publish format-standard hentry category-politics">
<header class="entry-header"><h1 class="entry-title">{esc(a["title"])}</h1>
<div class="entry-meta"><span class="posted-on">نشر في <a href="{esc(url)}" rel="bookmark"><time class="entry-date published"
 datetime="{iso}">{d} {EGYPTIAN[m - 1]}، {y}</time></a></span> <span class="byline">بواسطة <span class="author vcard">
<a class="url fn n" href="/author/1/">{esc(author)}</a></span></span></div></header>
<div class="entry-content">{"".join(paras)}{credit}
<div class="sharedaddy sd-sharing-enabled"><div class="robots-nocontent sd-block sd-social"><h3 class="sd-title">شارك هذا:</h3>
<div class="sd-content"><ul>{"".join(f'<li><a class="share-{i}" href="#"><span>{s}</span></a></li>' for i, s in enumerate(SHARE))}</ul></div></div></div>
<div id="jp-relatedposts" class="jp-relatedposts"><h3 class="jp-relatedposts-headline"><em>ذات صلة</em></h3>
<div class="jp-relatedposts-items">{"".join(f'<div class="jp-relatedposts-post"><h4 class="jp-relatedposts-post-title"><a href="/r/{i}">{esc(t)}</a></h4></div>' for i, t in enumerate(HEADLINES[:3]))}</div></div>
</div>
<footer class="entry-footer"><span class="cat-links">نشرت في <a href="/category/politics/">سياسة</a></span>
<span class="tags-links">الوسوم <a href="/tag/syria/">سوريا</a></span></footer></article>
<nav class="navigation post-navigation"><h2 class="screen-reader-text">تصفح المقالات</h2><div class="nav-links">
<div class="nav-previous"><a href="/p/1" rel="prev">{esc(HEADLINES[3])}</a></div>
<div class="nav-next"><a href="/p/2" rel="next">{esc(HEADLINES[4])}</a></div></div></nav>
<div id="comments" class="comments-area"><h2 class="comments-title">3 تعليقات على &ldquo;{esc(a["title"][:30])}&rdquo;</h2>
<ol class="comment-list">{comments}</ol>
<div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title">اترك تعليقاً</h3>
<form action="/wp-comments-post.php" method="post" id="commentform"><p class="comment-notes">لن يتم نشر عنوان بريدك الإلكتروني.</p>
<textarea id="comment" name="comment"></textarea><input name="submit" type="submit" value="إرسال التعليق"></form></div></div>
</main></div>
<aside id="secondary" class="widget-area"><section class="widget widget_recent_entries"><h2 class="widget-title">الأكثر قراءة</h2>
<ul>{related_list(HEADLINES[5:])}</ul></section></aside></div>
<footer id="colophon" class="site-footer"><div class="site-info">{FOOTER[3]} © 2017 الوطن نيوز | مدعوم من ووردبريس</div></footer></div>
<script src="/wp-includes/js/wp-embed.min.js"></script><script>{SCRIPT}</script></body></html>
"""
    chrome = NAV + HEADLINES + [t for _, t in COMMENTS] + SHARE + [
        "انتقل إلى المحتوى", "شارك هذا", "ذات صلة", "نشرت في", "الوسوم", "تصفح المقالات", "تعليقات على",
        "اترك تعليقاً", "لن يتم نشر", "الأكثر قراءة", "ووردبريس", "جميع الحقوق محفوظة", "gtag", "بواسطة", author]
    chrome += [x for x in (a["caption"], a["credit"]) if x]
    return page, {"published_source": "metadata", "chrome": chrome, "author": author}


def amp_page(a: dict, url: str) -> tuple[str, dict]:
    """An AMP page: amp-sidebar menu, amp-img with caption, amp-social-share, amp-carousel of related stories,
    JSON-LD NewsArticle carrying datePublished and the author; no visible date."""
    iso, y, m, d, hh, mm = a["published"]
    author = a["author"] or "قسم الأخبار"
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": a["title"], "datePublished": iso,
          "dateModified": iso, "author": {"@type": "Person", "name": author},
          "publisher": {"@type": "Organization", "name": "الخبر اليوم"}, "mainEntityOfPage": url}
    fig = (f'<figure><amp-img src="/i/2.jpg" width="800" height="450" layout="responsive"></amp-img>'
           f'<figcaption class="caption">{esc(a["caption"])}</figcaption></figure>' if a["caption"] else "")
    body = "".join(f"<p>{esc(p)}</p>" for p in a["body"])
    carousel = "".join(f'<div class="slide"><a href="/amp/{i}"><amp-img src="/t/{i}.jpg" width="160" height="90">'
                       f'</amp-img><h4>{esc(t)}</h4></a></div>' for i, t in enumerate(HEADLINES[2:6]))
    page = f"""<!doctype html>
<html ⚡ lang="ar" dir="rtl"><head>{meta_tags(url, a["title"], "الخبر اليوم")}
<script async src="https://cdn.ampproject.org/v0.js"></script>
<script async custom-element="amp-sidebar" src="https://cdn.ampproject.org/v0/amp-sidebar-0.1.js"></script>
<style amp-boilerplate>body{{-webkit-animation:-amp-start 8s steps(1,end) 0s 1 normal both}}</style>
<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script></head><body>
<amp-sidebar id="sidebar" layout="nodisplay" side="right"><ul>{related_list(NAV)}</ul></amp-sidebar>
<header class="amp-header"><button on="tap:sidebar.toggle">القائمة</button><a href="/">الخبر اليوم</a></header>
<div class="breadcrumbs"><a href="/">الرئيسية</a> › <a href="/world">عربي ودولي</a></div>
<div class="amp-article"><h1>{esc(a["title"])}</h1>{fig}
<div class="article-body">{body}</div>
<div class="social"><amp-social-share type="facebook"></amp-social-share><amp-social-share type="twitter"></amp-social-share>
<span>شارك الخبر</span></div>
<div class="read-more"><h3>مواضيع ذات صلة</h3><amp-carousel type="carousel" height="160">{carousel}</amp-carousel></div></div>
<amp-analytics type="gtag"><script type="application/json">{{"vars": {{"gtag_id": "UA-000000-1"}}}}</script></amp-analytics>
<footer class="amp-footer"><a href="/">النسخة الكاملة</a> <span>{FOOTER[3]} © الخبر اليوم</span></footer></body></html>
"""
    chrome = NAV + HEADLINES[2:6] + ["القائمة", "عربي ودولي", "شارك الخبر", "مواضيع ذات صلة", "النسخة الكاملة",
                                     "جميع الحقوق محفوظة", "gtag", "amp-boilerplate", author]
    chrome += [a["caption"]] if a["caption"] else []
    return page, {"published_source": "metadata", "chrome": chrome, "author": author}


def portal_page(a: dict, url: str) -> tuple[str, dict]:
    """An old portal in windows-1256: table layout, <font> text split by <br>, a numeric-and-Egyptian-month
    dateline ('نشر بتاريخ'), poll and newsletter boxes, no metadata dates."""
    iso, y, m, d, hh, mm = a["published"]
    dateline = f"نشر بتاريخ: {weekday(y, m, d)}، {d} {EGYPTIAN[m - 1]} {y} - الساعة {hh:02d}:{mm:02d}"
    body = "<br><br>\n".join(esc(p) for p in a["body"])
    left = "".join(f'<tr><td class="hl"><a href="/show/{i}">{esc(t)}</a></td></tr>' for i, t in enumerate(HEADLINES))
    page = f"""<html dir="rtl"><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256">
<title>{esc(a["title"])}</title><script>{SCRIPT}</script></head><body>
<table width="100%"><tr><td colspan="2" class="top"><a href="/">الرئيسية</a> - <a href="/arch">الأرشيف</a> - <a href="/contact">اتصل بنا</a></td></tr>
<tr><td width="25%" valign="top"><table><tr><td class="box-title">أهم الأخبار</td></tr>{left}</table>
<form class="poll"><b>استطلاع الرأي</b><br>هل تؤيد الحل السياسي؟<br><input type="radio"> نعم <input type="radio"> لا</form>
<div class="newsletter">اشترك في القائمة البريدية</div></td>
<td valign="top" class="main"><h2 class="news-title">{esc(a["title"])}</h2>
<div class="news-date">{esc(dateline)}</div>
<div class="news-text"><font face="Tahoma" size="3">{body}</font></div>
<div class="print"><a href="/print">طباعة</a> | <a href="/send">أرسل لصديق</a></div></td></tr>
<tr><td colspan="2" class="foot">{FOOTER[3]} © 2016</td></tr></table></body></html>
"""
    chrome = HEADLINES + ["الأرشيف", "أهم الأخبار", "استطلاع الرأي", "هل تؤيد", "القائمة البريدية", "طباعة",
                          "أرسل لصديق", "جميع الحقوق محفوظة", "gtag", dateline]
    return page, {"published_source": "dateline", "chrome": chrome, "author": None,
                  "published_at": f"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:00+00:00", "encoding": "cp1256"}


TEMPLATES = {
    "rt": (rt_page, "https://arabic.rt.com/news/{n}-{slug}/"),
    "republisher": (republisher_page, "https://sawt-alsham.example/news/{n}"),
    "wordpress": (wordpress_page, "https://alwatan-news.example/{y}/{m:02d}/{d:02d}/{slug}/"),
    "amp": (amp_page, "https://alkhabar-today.example/amp/world/{n}"),
    "portal": (portal_page, "http://www.syria-portal.example/show.php?id={n}"),
}


def utc_iso(offset_iso: str) -> str:
    from datetime import datetime, timezone
    return datetime.fromisoformat(offset_iso).astimezone(timezone.utc).isoformat()


def main() -> None:
    OUT.mkdir(exist_ok=True)  # shared with mentions.json (the entity stage's labels): only our pages are written
    arts = load_articles()
    for t_index, (template, (make, url_pattern)) in enumerate(TEMPLATES.items()):
        for a_index, (slug, a) in enumerate(arts.items()):
            _, y, m, d, *_ = a["published"]
            url = url_pattern.format(n=850000 + t_index * 100 + a_index, slug=slug, y=y, m=m, d=d)
            page, label = make(a, url)
            name = f"{template}-{slug}"
            # A caption repeating the headline is held to by 'title once', not as chrome.
            chrome = sorted({c for c in label.pop("chrome") if c and c != a["title"]})
            # A short label that also occurs inside the article ('شارك' in 'المشاركة') must not be a line of its own.
            text = "\n".join([a["title"], *a["body"]])
            chrome_lines = [c for c in chrome if c in text]
            chrome = [c for c in chrome if c not in chrome_lines]
            if any(c in [a["title"], *a["body"]] for c in chrome_lines):
                raise SystemExit(f"{name}: a chrome line is an article line")
            expected = {"template": template, "url": url, "title": a["title"], "body": a["body"],
                        "published_at": label.pop("published_at", None) or utc_iso(a["published"][0]),
                        "published_source": label.pop("published_source"), "author": label.pop("author"),
                        "chrome": chrome, "chrome_lines": chrome_lines}
            encoding = label.pop("encoding", "utf-8")
            (OUT / f"{name}.html").write_bytes(page.encode(encoding, errors="xmlcharrefreplace"))
            (OUT / f"{name}.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
