"""Chrome classes removed by general rules: each test fails without its rule."""

from __future__ import annotations

import lxml.html
import pytest

from streams.pipeline.stages.chrome import drop_chrome_lines, prune_chrome
from streams.pipeline.stages.clean import clean_page

PARAS = [
    "قال وزير الخارجية الروسي سيرغي لافروف اليوم إن موسكو مستعدة لمواصلة المحادثات مع واشنطن حول سوريا في جنيف.",
    "وأضاف لافروف في مؤتمر صحفي أن الهدنة في حلب يجب أن تشمل جميع الأطراف وأن تسمح بدخول المساعدات الإنسانية.",
    "وتابع أن بلاده لن تقبل أي شروط مسبقة من الغرب، مشيرا إلى أن الحل السياسي هو الطريق الوحيد لإنهاء النزاع.",
    "وختم بالقول إن الاجتماع المقبل سيعقد الأسبوع القادم بمشاركة ممثلين عن الأمم المتحدة والدول الإقليمية.",
]


def _page(middle: str = "", before: str = "", after: str = "") -> str:
    paras = "".join(f"<p>{p}</p>" for p in PARAS[:2]) + middle + "".join(f"<p>{p}</p>" for p in PARAS[2:])
    return (f"<html><head><title>لافروف: الحوار مستمر</title></head><body>{before}<article><h1>لافروف: الحوار مستمر"
            f"</h1>{paras}</article>{after}</body></html>")


def _body(html: str) -> list[str]:
    return clean_page(html, url="https://example.com/2016/11/24/a", source="t").text.split("\n")[1:]


def test_a_block_that_offers_to_skip_itself_is_removed():
    promo = ('<section><a href="#end-of-recommendations">تخطى قصص مقترحة وواصل القراءة</a><strong>قصص مقترحة'
             '</strong><ul><li><a href="/x">أهل غزة يكافحون للبقاء رغم الليالي الباردة</a></li></ul>'
             '<p>عنوان قصة مقترحة طويلة تبدو فقرة من المقال وليست منه أبدا في الحقيقة</p></section>')
    tree = lxml.html.fromstring(_page(middle=promo))
    assert prune_chrome(tree) >= 1
    assert "أهل غزة" not in tree.text_content() and PARAS[1] in tree.text_content()


def test_skip_to_content_links_leave_the_page_alone():
    tree = lxml.html.fromstring(_page(before='<nav><a href="#main">Skip to content</a></nav>'))
    before = tree.text_content()
    prune_chrome(tree)
    assert PARAS[0] in tree.text_content() and "Skip to content" in before


@pytest.mark.parametrize("attrs", ['aria-labelledby="recommendations-heading"', 'data-e2e="most-read"',
                                   'class="cookie-banner"', 'aria-label="المزيد حول هذه القصة"',
                                   'class="news-ticker"', 'class="share-bar"'])
def test_regions_labelled_as_chrome_are_removed(attrs):
    html = _page(middle=f'<section {attrs}><p>وفاة جندي أمريكي أضرم النار في نفسه احتجاجا على الحرب</p></section>')
    assert all("وفاة جندي" not in line for line in _body(html))


def test_caption_under_an_image_is_removed_and_the_lead_kept():
    html = _page(before='<div><img src="a.jpg" alt="x"><div></div><div class="red">اصابات بفيروس كورونا في امريكا</div></div>')
    body = _body(html)
    assert "اصابات بفيروس كورونا في امريكا" not in body and body[0] == PARAS[0]


@pytest.mark.parametrize("notice", [
    "لقد حدّثنا سياستنا المتعلقة بالخصوصية وبالشروط الخاصة بملفات الارتباط Cookies",
    "We use cookies to improve your experience. By continuing you accept our privacy policy.",
])
def test_consent_notices_are_dropped(notice):
    assert drop_chrome_lines([notice, *PARAS]) == PARAS


@pytest.mark.parametrize("policy", [
    "الآراء الواردة أدناه لا تعبر عن رأي موقع CNN بالعربية، بل تعكس وجهات نظر أصحابها فقط.",
    "ترحب شبكة CNN بالنقاش الحيوي والمفيد، وكي لا نضطر في موقع CNN بالعربية إلى مراجعة التعليقات قبل نشرها.",
    "The comments below do not necessarily reflect the views of this site.",
])
def test_a_comment_policy_closes_the_article(policy):
    assert drop_chrome_lines([*PARAS, policy, "تعليق قارئ يقول إن المقال رائع"]) == PARAS


def test_recommendation_heading_its_teasers_and_end_marker_are_dropped():
    lines = [PARAS[0], "قصص مقترحة", "ما الذي يعنيه إسقاط واشنطن المساعدات جوا على سكان غزة؟",
             "أهل غزة يكافحون للبقاء رغم الليالي الباردة وشح الطعام", "قصص مقترحة نهاية", PARAS[1],
             "يستحق الانتباه", "شرح معمق لقصة بارزة من أخبار اليوم", "يستحق الانتباه نهاية", PARAS[2]]
    assert drop_chrome_lines(lines) == PARAS[:3]


def test_byline_items_and_a_closing_agency_credit_are_dropped():
    lines = ["- Author, كايلا إبستين وأنجليكا كاساس", "- Role, بي بي سي نيوز", *PARAS[:3], PARAS[3] + "--(بترا)"]
    assert drop_chrome_lines(lines) == PARAS
    assert drop_chrome_lines([*PARAS, "--(بترا)"]) == PARAS


def test_a_crosshead_after_a_paragraph_is_kept():
    lines = [PARAS[0], "رحلة غير عادية", PARAS[1]]
    assert drop_chrome_lines(lines) == lines


@pytest.mark.parametrize("label", ["Updated", "Updated:", "Last updated", "Published on", "Posted", "آخر تحديث",
                                   "تاريخ النشر:", "نشر في", "تم التحديث"])
def test_a_date_label_left_alone_by_its_removed_date_is_dropped(label):
    assert drop_chrome_lines([PARAS[0], label, *PARAS[1:]]) == PARAS


def test_a_line_that_only_begins_like_a_date_label_is_kept():
    lines = [PARAS[0], "Updated guidance was published by the ministry on Monday.", "نشر في الجريدة الرسمية قرار جديد"]
    assert drop_chrome_lines(lines) == lines


def test_an_updated_stamp_leaves_no_label_in_the_text():
    page = _page('<div class="meta">Updated <time datetime="2016-11-24T10:00:00Z">24/11/2016</time></div>')
    assert _body(page) == PARAS


def test_a_headline_with_invisible_marks_is_not_repeated_in_the_body():
    """Bidi and zero-width marks in the <title>/<h1> but not in the body's copy of the headline made the headline
    appear twice in the text, and its names counted twice."""
    marked = "\u200f\u202e\u2066لافروف: الحوار مستمر"
    page = (f"<html><head><title>{marked}</title></head><body><article><h1>{marked}</h1><p>لافروف: الحوار مستمر</p>"
            + "".join(f"<p>{p}</p>" for p in PARAS) + "</article></body></html>")
    text = clean_page(page, url="https://example.com/2016/11/24/a", source="t").text
    assert text.count("الحوار مستمر") == 1, text[:300]
