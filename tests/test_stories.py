import json
import logging
import os
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from schemas.records import Article, ArticleEntities, StoryArticle, StoryAssignment
from streams.pipeline.arabic import fingerprint_text
from schemas.records import Mention
from streams.pipeline.stages.stories import (LEGACY_SCHEME, NUM_PERM, SCHEME, StoryIndex, assign_story, lead_persons,
                                             scheme_name, shingles, signature)
from streams.runtime.story_index_loader import fill_from_rows, fill_from_stories
from tests.conftest import ROOT

DAY = datetime(2016, 11, 24, tzinfo=timezone.utc)
EXPECTED = json.loads((ROOT / "samples" / "expected.json").read_text(encoding="utf-8"))["articles"]
WIRE = EXPECTED["01-rt-lavrov-west-signals.html"]  # the wire story
OTHER = EXPECTED["04-rt-de-mistura-friends.html"]  # another Lavrov-era story about Syria
THIRD = EXPECTED["06-rt-lavrov-collapse-cp1256.html"]


def text(doc, title=None, body=None):
    return "\n".join([title or doc["title"], *(body if body is not None else doc["body"])])


def article(article_id, fingerprint, body="t", published=DAY):
    return Article(article_id=article_id, source="t", url=None, canonical_url=None, site="s", title="t", text=body,
                   lang="ar", published_at=published, published_source="metadata", fetched_at=None, charset="utf-8",
                   fingerprint=fingerprint)


def assign(index, article_id, body, published=DAY, persons=()):
    return assign_story(article(article_id, fingerprint_text(body), body, published), signature(body), index, persons)


LAVROV = ("sergey-lavrov",)


def rewritten(body: str) -> str:
    """Every fifth word replaced: about a quarter of the 3-grams left (0.26 of the wire story's, 0.28 of its
    signature), and no LSH band in common."""
    return " ".join("كذلك" if i % 5 == 0 else word for i, word in enumerate(body.split(" ")))


def test_first_article_founds_its_story():
    index = StoryIndex()
    a = assign_story(article("a", "f1"), [], index)
    assert (a.story_id, a.duplicate_of) == ("a", None)


def test_same_body_on_another_url_is_a_copy():
    index = StoryIndex()
    assign_story(article("a", "f1"), [], index)
    b = assign_story(article("b", "f1"), [], index)
    assert (b.story_id, b.duplicate_of) == ("a", "a")
    c = assign_story(article("c", "f2"), [], index)
    assert (c.story_id, c.duplicate_of) == ("c", None)


def test_redelivery_gets_the_same_answer_as_the_first_time():
    index = StoryIndex()
    assign_story(article("a", "f1"), [], index)
    first = assign_story(article("b", "f1"), [], index)
    assert assign_story(article("b", "f1"), [], index) == first
    assert assign_story(article("a", "f1"), [], index).duplicate_of is None


def test_signature_is_deterministic_and_folds_arabic_variants():
    assert len(signature(text(WIRE))) == NUM_PERM
    assert signature(text(WIRE)) == signature(text(WIRE).replace("لافروف", "لافْروف"))  # a diacritic is no change


def test_signature_is_the_scheme_written_plainly():
    """tests/minhash_reference.py computes the scheme one shingle and one bin at a time: any width, any shingle size,
    texts no longer than a shingle, characters outside the Basic Multilingual Plane, a lone surrogate, digits."""
    from tests.minhash_reference import reference_signature

    samples = [text(WIRE), text(OTHER), "", "واحد", "واحد اثنان", "a_b 𝐀𝐁 c\ud800d x 1٢3 ـ"]
    for body in samples:
        for width, size in ((NUM_PERM, 3), (64, 1), (128, 2), (77, 5)):
            assert signature(body, num_perm=width, shingle_words=size) == reference_signature(body, width, size)
    assert scheme_name() == SCHEME != LEGACY_SCHEME


def test_signature_values_are_pinned_and_the_same_in_every_process():
    # Signatures are stored in the warehouse and compared across workers and releases: values that change need a new
    # SCHEME name. Python's hash() is salted per process (PYTHONHASHSEED): the scheme must not depend on it.
    expected = signature(text(WIRE))
    assert expected[:6] == PINNED_WIRE_SIGNATURE
    script = ("import json, sys; from streams.pipeline.stages.stories import signature; "
              "print(json.dumps(signature(sys.stdin.read())))")
    for seed in ("0", "4242"):
        done = subprocess.run([sys.executable, "-c", script], input=text(WIRE), capture_output=True, text=True,
                              encoding="utf-8", env={**os.environ, "PYTHONHASHSEED": seed}, cwd=ROOT, check=True)
        assert json.loads(done.stdout) == expected


PINNED_WIRE_SIGNATURE = [4309525, 64729280, 98018798, 102582651, 138928860, 435119347]  # the first six values


def test_signature_similarity_estimates_the_jaccard_similarity_of_real_texts():
    """The fraction of equal positions estimates the Jaccard similarity of the 3-gram sets (`shingles`): within four
    standard errors of a 126-value MinHash on each pair, without bias over all of them. Pairs: the sample articles
    with words replaced (5-60 %), paragraphs dropped, and another article."""
    rng = random.Random(5)
    docs = [text(doc) for doc in EXPECTED.values() if doc.get("body")]
    errors = []
    for i, body in enumerate(docs):
        words = body.split(" ")
        variants = [" ".join(f"بدل{j}" if rng.random() < share else w for j, w in enumerate(words))
                    for share in (0.05, 0.2, 0.4, 0.6)]
        paragraphs = body.split("\n")
        variants += [rewritten(body), "\n".join(paragraphs[:max(1, len(paragraphs) // 2)]), "\n".join(paragraphs[1:]),
                     docs[(i + 1) % len(docs)]]
        for other in variants:
            a, b = shingles(body), shingles(other)
            jaccard = len(a & b) / len(a | b)
            estimate = float(np.mean(np.array(signature(body)) == np.array(signature(other))))
            assert abs(estimate - jaccard) <= 4 * (jaccard * (1 - jaccard) / NUM_PERM) ** 0.5 + 0.01, (i, jaccard)
            errors.append(estimate - jaccard)
    assert len(errors) >= 40
    assert np.mean(np.abs(errors)) < 0.035 and abs(np.mean(errors)) < 0.015


def test_signatures_of_another_scheme_are_never_compared():
    body = text(WIRE)
    values = signature(body)
    index = StoryIndex()
    index.remember("old", "f-old", DAY, values, StoryAssignment(story_id="old", duplicate_of=None),
                   persons=LAVROV, scheme=LEGACY_SCHEME)  # the very same values, under another scheme's name
    assert index.entries["old"].signature is None and not index.by_person_day
    assert index.near(values, DAY, LAVROV) is None
    index.remember("new", "f-new", DAY, values, StoryAssignment(story_id="new", duplicate_of=None))
    assert index.near(values, DAY) == ("new", 1.0)
    assert index.near(values, DAY, scheme=LEGACY_SCHEME) is None
    assert assign_story(article("c", "f-c", body), values, index, scheme=LEGACY_SCHEME).duplicate_of is None


def test_a_record_from_a_worker_of_another_scheme_gets_its_signature_recomputed():
    from streams.pipeline.steps import story_step

    index = StoryIndex()
    body = text(WIRE)
    first = ArticleEntities(article=article("a", fingerprint_text(body), body), mentions=[], dictionary_version="v",
                            minhash=signature(body), minhash_scheme=SCHEME)
    assert story_step(first, index).minhash_scheme == SCHEME
    copy = text(WIRE, body=WIRE["body"][:-1])
    legacy = [7] * NUM_PERM  # an older worker's values: no scheme on the record
    for scheme in (None, LEGACY_SCHEME):
        record = ArticleEntities(article=article(f"b-{scheme}", fingerprint_text(copy), copy), mentions=[],
                                 dictionary_version="v", minhash=legacy, minhash_scheme=scheme)
        out = story_step(record, index)
        assert (out.minhash, out.minhash_scheme) == (signature(copy), SCHEME)
        assert out.story.story_id == "a" and out.story.duplicate_of is not None


def test_republished_copy_with_site_edits_joins_the_story():
    index = StoryIndex()
    assign(index, "rt", text(WIRE))
    body = WIRE["body"]
    copy = text(WIRE, title="بالفيديو | لافروف يحذر الغرب من تثبيط عزيمة المعارضة",
                body=["موسكو - (وكالات) - " + body[0].replace("سيرغي", "سيرجي"), *body[1:4], *body[5:],
                      "المصدر: وكالات"])
    b = assign(index, "alwatan", copy)
    assert (b.story_id, b.duplicate_of) == ("rt", "rt")
    c = assign(index, "sawt", text(WIRE, body=body[:-1]))  # a copy of a copy still names the first article's story
    assert c.story_id == "rt"


def test_different_articles_about_the_same_actor_on_the_same_day_are_different_stories():
    index = StoryIndex()
    credit = "المصدر: وكالات"
    for article_id, doc in (("a", WIRE), ("b", OTHER), ("c", THIRD)):
        result = assign(index, article_id, text(doc, body=["موسكو - " + doc["body"][0], *doc["body"][1:], credit]),
                        persons=LAVROV)  # the second signal compares them all: they share too little
        assert (result.story_id, result.duplicate_of) == (article_id, None)


def test_a_heavy_rewrite_the_lsh_misses_joins_its_story_by_its_lead_person_and_date():
    wire, rewrite = text(WIRE), rewritten(text(WIRE))

    def story_of_rewrite(published=DAY + timedelta(days=1), persons=LAVROV):
        index = StoryIndex()
        assign(index, "wire", wire, persons=LAVROV)
        return assign(index, "rewrite", rewrite, published, persons=persons)

    assert story_of_rewrite() == StoryAssignment(story_id="wire", duplicate_of="wire")
    assert story_of_rewrite(persons=()).story_id == "rewrite"  # LSH alone: no band in common
    assert story_of_rewrite(persons=("bashar-al-assad",)).story_id == "rewrite"  # another lead person
    assert story_of_rewrite(published=DAY + timedelta(days=5)).story_id == "rewrite"  # days apart


def test_lead_persons_are_the_most_mentioned_persons_earliest_first():
    def m(actor_id, start, kind="person"):
        return Mention(actor_id=actor_id, name=actor_id, type=kind, surface="x", start=start, end=start + 1)

    mentions = [m("russia", 0, "location"), m("kerry", 5), m("lavrov", 10), m("lavrov", 30), m("kerry", 40),
                m("russia", 50, "location"), m("russia", 60, "location"), m("de-mistura", 70)]
    assert lead_persons(mentions) == ("kerry", "lavrov")
    assert lead_persons(mentions, 1) == ("kerry",) and lead_persons([m("russia", 0, "location")]) == ()


class StreamClock:
    """The stream's clock, moved by hand."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_entries_leave_the_window_by_the_streams_clock():
    clock = StreamClock(DAY)
    index = StoryIndex(window=timedelta(days=30), clock=clock)
    assign(index, "old", text(WIRE), DAY, persons=LAVROV)
    clock.now = DAY + timedelta(days=10)
    assign(index, "other", text(OTHER), DAY + timedelta(days=10))
    assert set(index.entries) == {"old", "other"}
    clock.now = DAY + timedelta(days=31)
    assign(index, "new", text(THIRD), DAY + timedelta(days=31))
    assert set(index.entries) == {"other", "new"} and "old" not in index.lsh.keys
    assert ("sergey-lavrov", DAY.date()) not in index.by_person_day
    late = assign(index, "late-copy", text(WIRE), DAY + timedelta(days=32))  # its original is gone: a new story
    assert late.story_id == "late-copy"


def test_copies_of_old_news_meet_whatever_order_dates_arrive_in():
    index = StoryIndex(window=timedelta(days=30))
    assign(index, "recent", text(OTHER), DAY + timedelta(days=300))
    assign(index, "wire", text(WIRE), DAY)
    copy = assign(index, "copy", text(WIRE, body=WIRE["body"][:-1]), DAY)
    assert (copy.story_id, copy.duplicate_of) == ("wire", "wire")


def test_a_text_republished_past_the_window_is_a_new_story():
    index = StoryIndex(window=timedelta(days=30))
    assign(index, "wire", text(WIRE), DAY)
    late = assign(index, "reprint", text(WIRE, body=WIRE["body"][:-1]), DAY + timedelta(days=45))
    assert late.story_id == "reprint"


def test_the_index_is_capped():
    index = StoryIndex(max_entries=2)
    for i, doc in enumerate((WIRE, OTHER, THIRD)):
        assign(index, f"a{i}", text(doc))
    assert set(index.entries) == {"a1", "a2"}


def test_an_article_without_signature_is_matched_exactly_only():
    index = StoryIndex()
    assign(index, "a", text(WIRE))
    edited = text(WIRE, body=WIRE["body"][:-1])
    result = assign_story(article("b", fingerprint_text(edited), edited), [], index)
    assert result.story_id == "b"


def test_rebuilt_index_answers_like_the_one_it_replaces():
    index = StoryIndex()
    assign(index, "a", text(WIRE), persons=LAVROV)
    assign(index, "b", text(OTHER))
    rows = [(k, e.fingerprint, e.assignment.story_id, e.assignment.duplicate_of, e.published_at.isoformat(),
             e.signature.tolist(), None, [p for p, _ in e.buckets], SCHEME) for k, e in index.entries.items()]
    rebuilt = StoryIndex()
    assert fill_from_rows(rebuilt, rows[:1]) == 1
    # "b" reached the stories topic but not yet the warehouse: it comes from the topic's unsunk records; an older
    # worker sent it (no scheme, other values): its signature is recomputed from its text
    record = StoryArticle(article=article("b", index.entries["b"].fingerprint, text(OTHER)), mentions=[],
                          dictionary_version="v", minhash=[7] * NUM_PERM,
                          story=StoryAssignment(story_id="b", duplicate_of=None))
    assert fill_from_stories(rebuilt, [record.model_dump_json().encode(), b"not json"]) == 1
    copy = text(OTHER, body=OTHER["body"][:-2] + ["المصدر: وكالات"])
    assert assign(rebuilt, "c", copy) == StoryAssignment(story_id="b", duplicate_of="b")
    # the warehouse row's lead persons feed the second signal after a rebuild
    assert assign(rebuilt, "d", rewritten(text(WIRE)), persons=LAVROV).story_id == "a"


def test_warehouse_rows_of_another_scheme_are_matched_exactly_only(caplog):
    index = StoryIndex()
    body = text(WIRE)
    assign(index, "a", body, persons=LAVROV)
    entry = index.entries["a"]
    row = ("a", entry.fingerprint, "a", None, DAY.isoformat(), entry.signature.tolist(), None, list(LAVROV))
    copy = text(WIRE, body=WIRE["body"][:-1])
    for tail in ((), (None,), (LEGACY_SCHEME,)):  # no scheme column, NULL, the old scheme: all the legacy scheme
        rebuilt = StoryIndex()
        with caplog.at_level(logging.WARNING, logger="newsstream"):
            assert fill_from_rows(rebuilt, [row + tail]) == 1
        assert "1 of 1 articles have a signature of another scheme" in caplog.text
        caplog.clear()
        assert rebuilt.entries["a"].signature is None
        assert assign(rebuilt, "copy", copy, persons=LAVROV).duplicate_of is None  # not compared
        assert assign(rebuilt, "same", body).duplicate_of == "a"  # the same text still is a copy
    rebuilt = StoryIndex()
    assert fill_from_rows(rebuilt, [row + (SCHEME,)]) == 1
    assert assign(rebuilt, "copy", copy).duplicate_of == "a"


def test_a_changed_copy_of_a_stored_article_is_dropped_with_its_reason():
    import pytest

    from streams.pipeline.stages import Rejected

    index = StoryIndex()
    assign_story(article("a", "f1"), [], index)
    with pytest.raises(Rejected) as rejected:
        assign_story(article("a", "f2"), [], index)
    assert rejected.value.reason == "changed copy"
    assert assign_story(article("a", "f1"), [], index).story_id == "a", "the first version still stands"


def test_band_index_finds_exactly_what_datasketch_minhash_lsh_finds():
    # The index is written by hand to keep scipy (imported by datasketch) out of start-up: its candidates must stay
    # datasketch's, through inserts and removals, for signatures sharing some bands and none.
    import numpy as np
    from datasketch import LeanMinHash, MinHashLSH

    from streams.pipeline.stages.stories import BANDS, ROWS, SEED, BandIndex

    def lean(values):  # datasketch's own scheme name: banding reads the values only
        return LeanMinHash(seed=SEED, hashvalues=np.asarray(values, dtype=np.uint64), scheme="affine32")

    rng = np.random.default_rng(7)
    base = rng.integers(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    sigs = {}
    for i in range(60):
        sig = base.copy()
        changed = rng.random(NUM_PERM) < rng.choice([0.3, 0.7, 0.95, 1.0])  # near copies to unrelated texts
        sig[changed] = rng.integers(0, 1 << 32, int(changed.sum()), dtype=np.uint32)
        sigs[f"a{i}"] = sig
    # merge_every 7: most keys go through the sorted arrays (merges), some are still recent, removed rows are
    # reused by later inserts; 10_000: all recent.
    for merge_every in (7, 10_000):
        ours, theirs = BandIndex(BANDS, ROWS, merge_every), MinHashLSH(num_perm=NUM_PERM, params=(BANDS, ROWS))
        keys = list(sigs)
        for key in keys[:40]:
            ours.insert(key, sigs[key])
            theirs.insert(key, lean(sigs[key]), check_duplication=False)
        for key in keys[:40:3]:
            ours.remove(key)
            theirs.remove(key)
        for key in keys[40:]:  # after removals: into reused rows
            ours.insert(key, sigs[key])
            theirs.insert(key, lean(sigs[key]), check_duplication=False)
        for key in keys[40::4]:
            ours.remove(key)
            theirs.remove(key)
        found = 0
        for sig in [base, *sigs.values()]:
            assert ours.query(sig) == set(theirs.query(lean(sig)))
            found += len(ours.query(sig))
        assert found > len(sigs)  # the check compared real candidate sets, not only empty ones
        assert set(ours.keys) == set(theirs.keys.keys()) and len(ours.keys) < len(sigs)
        for key in ours.keys:
            assert ours.signature(key).tolist() == sigs[key].tolist()


@pytest.mark.parametrize("bad", [[1] * 10, [1] * 127, [2 ** 40] * 126, [-1] * 126, [0.5] * 126])
def test_values_that_are_no_signature_are_recomputed_not_trusted(bad):
    """A record labelled with the current scheme but carrying 10 values missed its near copy; 2**40 raised
    OverflowError and dead-lettered the article; in a rebuild one such row aborted the whole index."""
    from datetime import UTC, datetime

    from streams.pipeline.stages.stories import SCHEME, StoryIndex, current_signature, signature
    from streams.runtime.story_index_loader import fill_from_rows

    text = "الرئيس الروسي فلاديمير بوتين يستقبل وزير الخارجية في موسكو اليوم لبحث الأزمة"
    assert current_signature(text, bad, SCHEME) == signature(text)
    index = StoryIndex()
    when = datetime.now(UTC)
    rows = [("good", "f1", "good", None, when, signature(text), when, [], SCHEME),
            ("bad", "f2", "bad", None, when, bad, when, [], SCHEME)]
    assert fill_from_rows(index, rows) == 2
    assert index.entries["bad"].signature is None and index.entries["good"].signature is not None
