"""Per-site learning: chrome lines and title affixes recurring on a site's pages, applied by the clean stage."""

from __future__ import annotations

from streams.pipeline.stages.clean import clean_page
from streams.pipeline.stages.siteprofile import SiteProfile, learn_profile
from tests.test_chrome import PARAS

PROMO = "تابعونا على قناة تيليجرام لمعرفة آخر الأخبار العاجلة"
STORIES = [f"قال مصدر مطلع إن الاجتماع رقم {i} انتهى دون اتفاق بين الأطراف المشاركة في المحادثات." for i in range(12)]


def _articles(n: int, suffix: str = " | بوابة الوطن"):
    return [(f"خبر رقم {i} عن المحادثات{suffix}", f"خبر رقم {i} عن المحادثات{suffix}\n{STORIES[i]}\n{PROMO}")
            for i in range(n)]


def test_a_line_on_most_of_a_sites_pages_is_learned_as_chrome_and_its_title_affix_too():
    profile = learn_profile("alwatan.example", _articles(6))
    assert profile.is_chrome(PROMO) and not any(profile.is_chrome(s) for s in STORIES)
    assert profile.title_affixes == (" | بوابة الوطن",)
    assert profile.pages == 6


def test_a_title_affix_after_a_single_guillemet_is_learned():
    profile = learn_profile("alwatan.example", _articles(6, suffix=" ‹ بوابة الوطن"))
    assert profile.title_affixes == (" ‹ بوابة الوطن",)


def test_too_few_pages_learn_nothing():
    profile = learn_profile("new.example", _articles(3))
    assert profile.chrome_lines == frozenset() and profile.title_affixes == ()


def test_a_line_on_a_minority_of_pages_is_not_chrome():
    articles = _articles(10)
    articles = [(t, x.replace(f"\n{PROMO}", "")) if i >= 3 else (t, x) for i, (t, x) in enumerate(articles)]
    assert not learn_profile("s.example", articles).is_chrome(PROMO)


def test_the_clean_stage_applies_a_profile():
    html = (f"<html><head><title>لافروف: الحوار مستمر ‹ بوابة الوطن</title></head><body><article>"
            + "".join(f"<p>{p}</p>" for p in PARAS[:2]) + f"<p>{PROMO}</p>"
            + "".join(f"<p>{p}</p>" for p in PARAS[2:]) + "</article></body></html>")
    plain = clean_page(html, url="https://alwatan.example/a", source="t")
    assert PROMO in plain.text and plain.title.endswith("بوابة الوطن")
    profile = SiteProfile(site="alwatan.example", chrome_lines=learn_profile(
        "alwatan.example", _articles(6)).chrome_lines, title_affixes=(" ‹ بوابة الوطن",), pages=6)
    learned = clean_page(html, url="https://alwatan.example/a", source="t", profile=profile)
    assert PROMO not in learned.text and learned.title == "لافروف: الحوار مستمر"
    assert learned.text.split("\n")[1:] == PARAS


def test_a_profile_learned_from_stored_articles_reaches_the_clean_stage(tmp_path):
    """The whole loop through the code the worker runs: pages cleaned by the clean step, stored as the sink stores
    them, learned and stored by the refresh (learn_site_profiles, load_site_profiles), looked up by the page's site
    and applied by the clean step inside the time-budget child (the profile crosses the process boundary)."""
    from schemas.records import RawPage, StoryArticle, StoryAssignment
    from streams.pipeline.budget import CleanBudget
    from streams.pipeline.stages.clean import CleanLimits
    from streams.pipeline.steps import clean_step
    from streams.warehouse.client import Warehouse
    from streams.warehouse.rows import batch_rows
    from streams.warehouse.site_profiles import learn_site_profiles, load_site_profiles, site_of

    def paragraphs(i: int) -> list[str]:  # each page its own text, the promo on every page
        return [f"{STORIES[i]} {PARAS[0]}", *(f"{p} ({i})" for p in PARAS[1:])]

    def page(i: int) -> RawPage:
        first, *rest = paragraphs(i)
        html = (f"<html><head><title>خبر رقم {i} عن المحادثات ‹ بوابة الوطن</title></head><body><article>"
                f"<p>{first}</p><p>{PROMO}</p>" + "".join(f"<p>{p}</p>" for p in rest) + "</article></body></html>")
        return RawPage(source="t", url=f"https://www.alwatan.example/news/{i}", page_id=f"p{i}", html=html)

    limits = CleanLimits()
    warehouse = Warehouse(f"chdb://{tmp_path / 'chdb'}")
    try:
        warehouse.migrate()
        stored = [clean_step(page(i), limits) for i in range(6)]
        assert all(PROMO in a.text and a.title.endswith("‹ بوابة الوطن") for a in stored)  # the template leaks
        rows = batch_rows([StoryArticle(article=a, mentions=[], dictionary_version="v",
                                        story=StoryAssignment(story_id=a.article_id, duplicate_of=None))
                           for a in stored])
        for table, table_rows in rows.items():
            warehouse.insert_rows(table, table_rows)
        learn_site_profiles(warehouse)
        profiles = load_site_profiles(warehouse)
    finally:
        warehouse.close()
    new = page(7)
    profile = profiles.get(site_of(new.url) or "")
    assert profile is not None and profile.pages == 6
    with CleanBudget(30) as budget:
        article = budget.clean(new, limits, profile=profile)
    assert PROMO not in article.text and article.title == "خبر رقم 7 عن المحادثات"
    assert article.text.split("\n")[1:] == paragraphs(7)


def test_the_share_threshold_rounds_up_and_the_profile_names_its_site_and_pages():
    """12 pages at a share of 0.5 need 6; 11 pages need 6 too (5.5 rounded up), never 7."""
    from streams.pipeline.stages.siteprofile import learn_profile

    def pages(n: int, with_line: int) -> list[tuple[str, str]]:
        return [(f"Story {i} - Site News", f"Story {i}\nBody {i}\n{'Follow us' if i < with_line else f'filler {i}'}")
                for i in range(n)]

    profile = learn_profile("site.test", pages(11, 6), min_pages=5)
    assert profile.chrome_lines == frozenset({"follow us"}) and profile.pages == 11 and profile.site == "site.test"
    assert learn_profile("site.test", pages(11, 5), min_pages=5).chrome_lines == frozenset()
    few = learn_profile("few.test", pages(4, 4), min_pages=5)
    assert few.site == "few.test" and few.pages == 4 and few.chrome_lines == frozenset()
    assert profile.title_affixes == (" - Site News",)


def test_title_prefixes_are_learned_like_suffixes():
    from streams.pipeline.stages.siteprofile import learn_profile

    articles = [(f"Site News | Story {i}", f"Story {i}\nBody {i}") for i in range(6)]
    assert learn_profile("s", articles, min_pages=5).title_affixes == ("Site News | ",)
