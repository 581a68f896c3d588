"""A "page not found" page served with status 200 ends as a dead letter `error page`, not as an article."""

from __future__ import annotations

import pytest

from schemas.records import RawPage
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.clean import CleanLimits, clean_page
from streams.pipeline.steps import clean_step, dead_letter
from tests.test_chrome import PARAS, _page

CHROME = "".join(f'<li><a href="/s{i}">قسم الأخبار رقم {i} من الموقع الإخباري</a></li>' for i in range(30))


@pytest.mark.parametrize("title, apology", [
    ("الصفحة غير موجودة - اليوم السابع", "عذراً، الصفحة التي تبحث عنها غير موجودة أو ربما تم حذفها. يمكنك العودة إلى الصفحة الرئيسية "
     "أو استخدام البحث للعثور على ما تبحث عنه في الموقع. نعتذر عن هذا الإزعاج ونشكركم على زيارتكم الدائمة لموقعنا."),
    ("404 - Page not found | The Gazette", "Sorry, the page you were looking for could not be found. It may have been "
     "moved or deleted. Try the search box above or return to the home page to find the latest news and features."),
])
def test_not_found_page_served_with_200_is_an_error_page(title, apology):
    html = (f"<html><head><title>{title}</title></head><body><nav><ul>{CHROME}</ul></nav><main><h1>{title}</h1>"
            f"<p>{apology}</p><p>{apology}</p></main><footer><ul>{CHROME}</ul></footer></body></html>")
    with pytest.raises(Rejected) as info:
        clean_page(html, url="https://example.com/missing", source="t")
    assert info.value.reason == "error page"
    assert dead_letter("clean", info.value).reason == "error page"


def test_an_http_error_status_is_an_error_page():
    page = RawPage(source="feed", url="https://example.com/gone", html=_page(), http_status=404)
    with pytest.raises(Rejected) as info:
        clean_step(page, CleanLimits())
    assert info.value.reason == "error page"


def test_an_article_about_404_errors_is_an_article():
    html = _page().replace("لافروف: الحوار مستمر", "Why 404 pages matter") + "".join(f"<p>{p}</p>" for p in PARAS * 3)
    html = html.replace("</article>", "".join(f"<p>{p}</p>" for p in PARAS * 3) + "</article>")
    assert clean_page(html, url="https://example.com/404-pages", source="t").title == "Why 404 pages matter"
