"""The worker's site-profile refresh (the timer in streams.pipeline.topology that learns per-site profiles from the
warehouse and hands them to the clean stage), run in process through tests/pipeline_harness.py: no broker."""

from __future__ import annotations

import asyncio
import inspect

from schemas.records import RawPage, StoryArticle, StoryAssignment
from streams.pipeline.stages.clean import CleanLimits
from streams.pipeline.steps import clean_step
from streams.settings import Settings
from streams.warehouse.rows import batch_rows
from tests.pipeline_harness import FakeStream, Outbox, topology_runners
from tests.test_chrome import PARAS
from tests.test_siteprofile import PROMO, STORIES


def _page(i: int) -> RawPage:
    """A page of one site: its own first paragraph, the site's promo line on every page."""
    html = (f"<html><head><title>خبر رقم {i} عن المحادثات ‹ بوابة الوطن</title></head><body><article>"
            f"<p>{STORIES[i]} {PARAS[0]}</p><p>{PROMO}</p>" + "".join(f"<p>{p} ({i})</p>" for p in PARAS[1:])
            + "</article></body></html>")
    return RawPage(source="t", url=f"https://www.alwatan.example/news/{i}", page_id=f"p{i}", html=html)


def _timer(app, name: str):
    """The coroutine function a Faust timer of `app` runs at each tick."""
    [task] = [t for t in app._app_tasks if t.__name__ == name]
    return inspect.unwrap(task)


def test_the_refresh_timer_learns_profiles_from_the_warehouse_and_the_clean_stage_applies_them(tmp_path):
    from streams.pipeline.topology import create_app

    settings = Settings(_env_file=None, data_dir=str(tmp_path), site_profile_seconds=60, **{"NEWSSTREAM_SINK": True})
    app = create_app(settings, "kafka://127.0.0.1:1")
    gate, clean = app.warehouse_gate, topology_runners(app)["clean"]
    outbox = Outbox()
    clean.send = outbox.send
    refresh = _timer(app, "site_profile_timer")
    stored = [clean_step(_page(i), CleanLimits()) for i in range(6)]
    assert all(PROMO in a.text for a in stored)  # the site's template leaks before anything is learned

    async def scenario() -> None:
        try:
            await gate.write(batch_rows([StoryArticle(article=a, mentions=[], dictionary_version="v",
                                                      story=StoryAssignment(story_id=a.article_id, duplicate_of=None))
                                         for a in stored]))
            new = _page(7).model_dump(mode="json", exclude_none=True)
            await clean.run(FakeStream([new]))  # before the refresh: no profile, the promo stays
            await refresh()
            await clean.run(FakeStream([new]))
            rows = await gate.query("SELECT site, pages FROM site_profiles")
            assert rows == [("alwatan.example", 6)]
        finally:
            await gate.run(lambda warehouse: warehouse.close())

    asyncio.run(asyncio.wait_for(scenario(), 120))
    before, after = outbox.values("cleaned")
    assert PROMO in before["text"] and before["title"].endswith("‹ بوابة الوطن")
    assert PROMO not in after["text"] and after["title"] == "خبر رقم 7 عن المحادثات"
    assert after["text"].split("\n")[1] == f"{STORIES[7]} {PARAS[0]}"


def test_no_refresh_timer_when_the_interval_is_zero_or_the_worker_does_not_hold_the_warehouse(tmp_path):
    from streams.pipeline.topology import create_app

    for seconds, sink in ((0, True), (60, False)):
        settings = Settings(_env_file=None, data_dir=str(tmp_path), site_profile_seconds=seconds,
                            **{"NEWSSTREAM_SINK": sink})
        app = create_app(settings, "kafka://127.0.0.1:1")
        assert not [t for t in app._app_tasks if t.__name__ == "site_profile_timer"]
