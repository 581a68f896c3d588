"""Fast pins for behaviours a mutation sample found unguarded: each test fails when its one-line bug returns.

(The sink's auto-commit and commit-after-write, and the per-topic record model, are pinned in test_sink_policy.)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from schemas.records import StoryAssignment
from streams.pipeline.dictionary import ActorDictionary
from streams.inputs.feeder.fetch import Fetcher, FetchPolicy
from streams.inputs.feeder.guard import BlockedAddress, check_url, is_public
from streams.pipeline.stages.candidates import find_candidates
from streams.pipeline.stages.dates import find_dateline
from streams.pipeline.stages.entities import extract_mentions
from streams.pipeline.stages.stories import NUM_PERM, StoryIndex
from tests.test_feeder_politeness import HTML, PAGE, serve  # noqa: F401  (serve: the local-site fixture)

UTC = timezone.utc
DAY = datetime(2016, 11, 24, tzinfo=UTC)


# -- SSRF guard --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("address, public", [
    ("::ffff:8.8.8.8", True),  # a public IPv4 address written as IPv4-mapped IPv6 is judged as the IPv4 address
    ("::ffff:127.0.0.1", False),
    ("::ffff:10.1.2.3", False),
    ("::ffff:169.254.169.254", False),  # cloud metadata
    ("8.8.8.8", True),
    ("2001:4860:4860::8888", True),
    ("::1", False),
])
def test_ipv4_mapped_ipv6_is_unwrapped(address, public):
    assert is_public(address) is public


def test_a_mapped_loopback_url_is_blocked():
    with pytest.raises(BlockedAddress):
        check_url("http://[::ffff:127.0.0.1]:8080/admin", allow_private=False)
    check_url("http://[::ffff:8.8.8.8]/", allow_private=False)  # public: allowed


# -- robots.txt and conditional GET --------------------------------------------------------------------------------

POLICY = FetchPolicy(allow_private=True, host_delay_seconds=0, backoff_seconds=0.001, retries=0)


@pytest.mark.parametrize("status, allowed", [(500, False), (502, False), (503, False), (599, False),
                                             (400, True), (404, True), (410, True), (499, True)])
async def test_robots_txt_5xx_disallows_and_4xx_allows(serve, status, allowed):  # noqa: F811
    site = await serve({"/robots.txt": (status, b"", {}), "/news/1": (200, PAGE, HTML)})
    async with Fetcher(POLICY) as fetcher:
        got = await fetcher.get(f"{site.base}/news/1")
    assert (got.error != "robots") is allowed
    assert site.count("/news/1") == int(allowed)


async def test_conditional_get_headers_are_not_carried_across_a_redirect():
    from aiohttp import web

    seen = []

    async def handle(request):
        if request.path == "/robots.txt":
            return web.Response(status=404)
        if request.path == "/old":
            return web.Response(status=301, headers={"Location": "/new"})
        seen.append({k: request.headers.get(k) for k in ("If-None-Match", "If-Modified-Since")})
        if request.headers.get("If-None-Match") or request.headers.get("If-Modified-Since"):
            return web.Response(status=304)
        return web.Response(status=200, body=PAGE, headers=HTML)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    base = f"http://127.0.0.1:{tcp._server.sockets[0].getsockname()[1]}"
    validators = {"etag": '"v1"', "last_modified": "Wed, 23 Nov 2016 10:00:00 GMT"}
    try:
        async with Fetcher(POLICY) as fetcher:
            direct = await fetcher.get(f"{base}/new", **validators)
            redirected = await fetcher.get(f"{base}/old", **validators)
    finally:
        await runner.cleanup()
    assert direct.status == 304, "the validators are sent to the URL they belong to"
    assert redirected.status == 200 and redirected.body == PAGE, "another URL's validators would make this a 304"
    assert seen[-1] == {"If-None-Match": None, "If-Modified-Since": None}


# -- names -----------------------------------------------------------------------------------------------------------

NESTED = """
version: test
actors:
- id: abu-bakr-al-baghdadi
  name: Abu Bakr al-Baghdadi
  type: person
  aliases:
    en: [Abu Bakr al-Baghdadi]
- id: abu-bakr
  name: Abu Bakr
  type: person
  aliases:
    en: [Abu Bakr]
"""


def test_name_matching_is_leftmost_longest(tmp_path):
    path = tmp_path / "actors.yaml"
    path.write_text(NESTED, encoding="utf-8")
    dictionary = ActorDictionary.load(path)
    text = "A statement attributed to Abu Bakr al-Baghdadi was read. Abu Bakr was not named again."
    found = [(m.actor_id, m.surface) for m in extract_mentions(text, dictionary)]
    assert found == [("abu-bakr-al-baghdadi", "Abu Bakr al-Baghdadi"), ("abu-bakr", "Abu Bakr")]


TITLE = "وقال وزير الخارجية الفرنسي "


@pytest.mark.parametrize("name, found", [
    ("جان", False),                     # one word is not a name: at least two
    ("جان مارك", True),
    ("جان مارك إيف أيرولت", True),      # four words: the longest name taken
    ("جان مارك إيف بيير أيرولت", False),  # five: the name runs on, so it is not bounded and not taken
])
def test_candidate_names_are_two_to_four_words(small_dictionary, name, found):
    text = f"{TITLE}{name}، إن"
    candidates = [c.surface for c in find_candidates(text, extract_mentions(text, small_dictionary))]
    assert candidates == ([name] if found else [])


def test_candidates_are_looked_for_within_twelve_words_of_the_title(small_dictionary):
    text = f"{TITLE}جان مارك"  # the name ends the text: bounded
    assert [c.surface for c in find_candidates(text, [])] == ["جان مارك"]
    far = "وقال وزير الخارجية " + " ".join(["الفرنسي"] * 10) + " جان مارك، إن"  # the name starts at word 11
    assert [c.surface for c in find_candidates(far, [])] == []


# -- dates -----------------------------------------------------------------------------------------------------------


def test_datelines_before_1990_are_not_publication_dates():
    assert find_dateline("موسكو 3 أيار 1989") is None
    assert find_dateline("موسكو 3 أيار 1990") == datetime(1990, 5, 3, tzinfo=UTC)
    assert find_dateline("في 3 أيار 1989 ثم 4 أيار 2016") == datetime(2016, 5, 4, tzinfo=UTC)


# -- stories ---------------------------------------------------------------------------------------------------------


def signature_sharing(base: np.ndarray, equal: int) -> list[int]:
    """A signature equal to `base` in its first `equal` positions (whole LSH bands first) and different after."""
    other = base.copy()
    other[equal:] = base[equal:] + 1
    return other.tolist()


def assignment(article_id: str) -> StoryAssignment:
    return StoryAssignment(story_id=article_id, duplicate_of=None)


def test_the_lsh_threshold_is_a_fifth_of_the_signature():
    base = np.arange(1000, 1000 + NUM_PERM, dtype=np.uint32)
    index = StoryIndex(clock=lambda: DAY)
    index.remember("a", "fa", DAY, base.tolist(), assignment("a"))
    at_threshold = -(-NUM_PERM // 5)  # the fewest equal positions with similarity >= 0.2
    assert index.near(signature_sharing(base, at_threshold), DAY) == ("a", at_threshold / NUM_PERM)
    assert index.near(signature_sharing(base, at_threshold - 1), DAY) is None


@pytest.mark.parametrize("order", [("z-first", "a-second"), ("a-first", "z-second")])
def test_an_equally_similar_earlier_article_wins_the_tie(order):
    base = np.arange(5000, 5000 + NUM_PERM, dtype=np.uint32)
    index = StoryIndex(clock=lambda: DAY)
    for article_id in order:
        index.remember(article_id, f"f-{article_id}", DAY, base.tolist(), assignment(article_id))
    assert index.near(base.tolist(), DAY + timedelta(hours=1)) == (order[0], 1.0)
