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


# -- more pins from the mutation run (benchmarks/mutation.sh) ---------------------------------------------------------


def test_shingles_are_exactly_the_word_n_grams_and_a_short_text_is_one_shingle():
    from streams.pipeline.stages.stories import normalize, shingles

    assert shingles("one two three four", size=2) == {b"one two", b"two three", b"three four"}
    assert shingles("one two", size=3) == {b"one two"}
    assert shingles("one two three", size=3) == {b"one two three"}
    text = "قال الوزير إن المحادثات مستمرة"
    assert shingles(text, size=2, normalized=normalize(text)) == shingles(text, size=2)


def test_lead_persons_are_the_most_named_then_the_first_named():
    from schemas.records import Mention
    from streams.pipeline.stages.stories import lead_persons

    def m(actor_id: str, start: int, kind: str = "person") -> Mention:
        return Mention(actor_id=actor_id, name=actor_id, type=kind, surface=actor_id, start=start, end=start + 1)

    mentions = [m("late", 90), m("early", 10), m("often", 50), m("often", 70), m("org", 0, "organization"),
                m("org", 5, "organization"), m("org", 8, "organization")]
    assert lead_persons(mentions, n=3) == ("often", "early", "late")
    assert lead_persons(mentions, n=1) == ("often",)
    assert lead_persons([m("b", 30), m("a", 20)], n=2) == ("a", "b")


def test_a_story_bucket_forgets_exactly_the_removed_article():
    from streams.pipeline.stages.stories import BandIndex, _Bucket

    lsh = BandIndex(2, 2)  # the bucket holds rows of the index's signature store
    bucket = _Bucket()
    rows = {k: np.full(4, v, dtype=np.uint32) for k, v in (("a", 1), ("b", 2), ("c", 3))}
    for key, row in rows.items():
        lsh.insert(key, row)
        bucket.add(key, lsh.keys[key])
    bucket.remove("a")
    assert sorted(bucket.keys) == ["b", "c"]
    for key in ("b", "c"):
        sims = bucket.similarities(rows[key], lsh)
        assert list(sims) == [1.0 if k == key else 0.0 for k in bucket.keys]
    bucket.remove("c")
    assert bucket.keys == ["b"] and list(bucket.similarities(rows["b"], lsh)) == [1.0]


@pytest.mark.parametrize("teaser, dropped", [
    ("x" * 140, True),          # a recommendation item: up to 140 characters, no closing punctuation
    ("x" * 141, False),         # longer: a paragraph, which ends the block
    ("A short sentence.", False),
    ("جملة قصيرة۔", False),
    ("Breaking!", False),
    ("He said:", False),
    ("A short sentence.  ", False),  # trailing spaces do not hide the full stop
    ("  .leading dot", True),
])
def test_recommendation_items_are_short_unpunctuated_lines(teaser, dropped):
    from streams.pipeline.stages.chrome import drop_chrome_lines

    lines = ["The article's own paragraph, which stays.", "Related articles", teaser, "Closing paragraph."]
    out = drop_chrome_lines(lines, min_body_chars=0)
    assert (teaser not in out) is dropped
    assert out[0] == lines[0] and out[-1] == "Closing paragraph."


def test_a_body_at_least_half_from_listed_paragraphs_is_a_listing():
    from streams.pipeline.stages.clean import _mostly_listed

    listed = frozenset({"aaaa", "b b"})
    assert _mostly_listed(["aaaa", "cccc"], listed)            # exactly half
    assert not _mostly_listed(["aaaa", "ccccc"], listed)       # less than half
    assert _mostly_listed(["b   b", "cc"], listed)              # whitespace folded before the lookup
    assert not _mostly_listed(["cc", "dd"], listed)


def test_listed_articles_are_counted_on_a_tag_page_and_not_on_an_article_page():
    from streams.pipeline.stages.clean import count_listed_articles

    body = "A paragraph long enough to be a body of its own, with several words in it. " * 2
    blocks = [f'<article><h2><a href="/s/{i}">Story {i}</a></h2><p>{body}{i}</p></article>' for i in range(3)]
    listing = "<html><body>" + "".join(blocks) + "</body></html>"
    assert count_listed_articles(listing, min_chars=80) == 3
    single = f'<html><body><article><h1><a href="/1">One</a></h1><p>{body * 6}</p></article>' \
             f'<article><h3><a href="/2">Teaser</a></h3><p>{body}</p></article></body></html>'
    assert count_listed_articles(single, min_chars=80) == 0, "one block dominates: an article with a teaser"
    unlinked = listing.replace('<a href="/s/1">', "<a>").replace('<a href="/s/2">', "<a>")
    assert count_listed_articles(unlinked, min_chars=80) == 0, "section headings link nowhere: not a listing"


@pytest.mark.parametrize("stamp, expected", [
    ("5 مايو 2016 3:15 م", datetime(2016, 5, 5, 15, 15, tzinfo=UTC)),
    ("5 مايو 2016 12:30 م", datetime(2016, 5, 5, 12, 30, tzinfo=UTC)),   # noon
    ("5 مايو 2016 12:30 ص", datetime(2016, 5, 5, 0, 30, tzinfo=UTC)),    # midnight
    ("5 مايو 2016 12:30", datetime(2016, 5, 5, 12, 30, tzinfo=UTC)),      # no meridian: a 24-hour clock
    ("5 مايو 2016 13:00 ص", datetime(2016, 5, 5, 13, 0, tzinfo=UTC)),    # past 12: the meridian is ignored
    ("5 مايو 2016 10:60", datetime(2016, 5, 5, 10, 0, tzinfo=UTC)),       # an impossible minute is dropped
    ("5 مايو 2016 24:10", datetime(2016, 5, 5, 0, 10, tzinfo=UTC)),       # an impossible hour too
])
def test_dateline_clock_times(stamp, expected):
    from streams.pipeline.stages.dates import find_stamp

    assert find_stamp(stamp) == (expected, None)


@pytest.mark.parametrize("zone, offset", [
    ("GMT+03:30", 210), ("GMT-05", -300), ("UTC-03:30", -210), ("GMT+14", 840), ("GMT+14:30", None),
    ("GMT-15", None), ("EST", -300), ("IRST", 210),
])
def test_dateline_zones_and_the_fourteen_hour_limit(zone, offset):
    from streams.pipeline.stages.dates import find_stamp

    found, stated = find_stamp(f"5 مايو 2016 10:00 {zone}")
    assert stated == offset
    assert found == datetime(2016, 5, 5, 10, 0, tzinfo=UTC) - timedelta(minutes=offset or 0)


def test_a_dateline_at_the_fetch_time_is_accepted_and_one_after_it_is_not():
    from streams.pipeline.stages.dates import find_dateline

    fetched = datetime(2016, 5, 5, 10, 0, tzinfo=UTC)
    assert find_dateline("5 مايو 2016 10:00", not_after=fetched) == fetched
    assert find_dateline("5 مايو 2016 10:01", not_after=fetched) is None


@pytest.mark.parametrize("order", [("a-partial", "b-equal"), ("b-equal", "a-partial")])
def test_the_most_similar_article_wins_whatever_its_age(order):
    base = np.arange(7000, 7000 + NUM_PERM, dtype=np.uint32)
    index = StoryIndex(clock=lambda: DAY)
    signatures = {"a-partial": signature_sharing(base, NUM_PERM // 2), "b-equal": base.tolist()}
    for article_id in order:
        index.remember(article_id, f"f-{article_id}", DAY, signatures[article_id], assignment(article_id))
    assert index.near(base.tolist(), DAY + timedelta(hours=1)) == ("b-equal", 1.0)


def test_a_reprocessed_article_replaces_its_stored_version_and_an_unasked_change_is_refused():
    from schemas.records import Article, RawRef
    from streams.pipeline.stages import Rejected
    from streams.pipeline.stages.stories import assign_story

    def article(fingerprint: str, replace: bool = False) -> Article:
        return Article(article_id="a1", source="s", url="https://x.test/a1", canonical_url=None, site="x.test",
                       title="t", text="t\nbody", lang="en", published_at=DAY, published_source="metadata",
                       fetched_at=DAY, charset="utf-8", fingerprint=fingerprint,
                       raw=RawRef(topic="raw", partition=0, offset=1, replace=replace))

    index = StoryIndex(clock=lambda: DAY)
    values = np.arange(100, 100 + NUM_PERM, dtype=np.uint32).tolist()
    first = assign_story(article("f1"), values, index)
    assert assign_story(article("f1"), values, index) == first
    with pytest.raises(Rejected) as refused:
        assign_story(article("f2"), values, index)
    assert refused.value.reason == "changed copy" and "the first version counts" in refused.value.detail
    assert index.entries["a1"].fingerprint == "f1"
    assert assign_story(article("f2", replace=True), values, index) == first
    assert index.entries["a1"].fingerprint == "f2" and index.by_fingerprint["f2"] == "a1"
    assert assign_story(article("f2"), values, index) == first, "the replacement is now the stored version"
