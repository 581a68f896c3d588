"""entities_many: the entities step over a batch gives, article by article, exactly what entities_step gives, and an
article that fails fails alone (its own exception, the others their results)."""

from __future__ import annotations

import gc
import random
from datetime import UTC, datetime

import pytest

from schemas.records import Article
from streams.inputs.paths import iter_documents
from streams.ops.evaluation import labeled_articles
from streams.pipeline.ner.model import Recognizer, shipped
from streams.pipeline.offline import raw_page
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.clean import CleanLimits
from streams.pipeline.steps import entities_many, entities_step
from tests.conftest import ROOT

# Characters the fuzzed texts are spliced with: marks, tatweel, joiners, newlines, Latin, digits, an emoji, a lone
# surrogate, clitics and the start of names the dictionary and the recognizer know.
_SPLICES = ["\u064e", "\u0651", "ـ", "\u200c", "\n", "\n\n", " ", "و", "بال", "لل", "Putin ", "2016", "😀", "\ud800",
            "سيرغي ", "لافروف", "الرئيس ", "بن ", "آل ", "،", ".", "_"]


def article(text: str, n: int = 0) -> Article:
    return Article(article_id=f"a{n}", source="t", url=None, canonical_url=None, site="example.org", title="t",
                   text=text, lang="ar", published_at=datetime(2016, 11, 22, tzinfo=UTC), published_source="metadata",
                   fetched_at=None, charset="utf-8", fingerprint="f")


def fuzzed(texts: list[str], count: int, seed: int = 18) -> list[str]:
    """Pieces of real texts cut anywhere, joined, with characters spliced in at random places."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        pieces = []
        for _ in range(rng.randint(1, 3)):
            text = rng.choice(texts)
            a = rng.randrange(len(text) + 1)
            pieces.append(text[a:a + rng.randint(0, 900)])
        chars = list("".join(pieces))
        for _ in range(rng.randint(0, 12)):
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(_SPLICES))
        out.append("".join(chars))
    return out


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    limits = CleanLimits()
    found = []
    for doc in iter_documents([ROOT / "samples" / "corpus"], max_bytes=limits.max_page_bytes):
        try:
            found.append(raw_page(doc))
        except ValueError:
            pass
    from streams.pipeline.steps import clean_step
    texts = []
    for page in found:
        try:
            texts.append(clean_step(page, limits).text)
        except Rejected:
            pass
    texts += [text for _, text, _ in labeled_articles()]
    texts += fuzzed(texts, 120) + ["", "\n", "Putin met Lavrov.", "لافروف"]
    return [article(text, n) for n, text in enumerate(texts)]


def test_a_batch_gives_what_each_article_alone_gives(articles, dictionary):
    expected = [entities_step(a, dictionary) for a in articles]
    assert sum(len(e.entities) for e in expected) > 500 and sum(len(e.mentions) for e in expected) > 100
    for size in (1, 7, 64, len(articles)):  # cut anywhere: an article's result does not depend on its neighbours
        got = [r for i in range(0, len(articles), size) for r in entities_many(articles[i:i + size], dictionary)]
        assert got == expected
    exact = Recognizer.load(prune_margin=None)
    assert entities_many(articles[:40], dictionary, recognizer=exact) == [
        entities_step(a, dictionary, recognizer=exact) for a in articles[:40]]
    assert entities_many([], dictionary) == []


def test_the_mention_cap_applies_to_each_article(articles, small_dictionary):
    some = articles[:10]
    assert entities_many(some, small_dictionary, max_mentions=2) == [
        entities_step(a, small_dictionary, max_mentions=2) for a in some]
    assert max(len(e.mentions) for e in entities_many(some, small_dictionary, max_mentions=2)) <= 2


@pytest.mark.parametrize("part", ["normalize_with_map", "extract_mentions", "find_candidates"])
def test_an_article_that_fails_in_the_dictionary_pass_fails_alone(articles, dictionary, monkeypatch, part):
    """Each part runs over the whole batch before the next (normalization, automaton, titles): an article that fails
    in any of them gets its exception, the others their results."""
    import streams.pipeline.steps as steps

    real = getattr(steps, part)
    broken = articles[3].text

    def failing(text, *args):
        if text == broken:
            raise ValueError(f"this article breaks {part}")
        return real(text, *args)

    monkeypatch.setattr(steps, part, failing)
    batch = articles[:8]
    out = entities_many(batch, dictionary)
    assert isinstance(out[3], ValueError) and str(out[3]) == f"this article breaks {part}"
    monkeypatch.setattr(steps, part, real)
    assert [r for i, r in enumerate(out) if i != 3] == [entities_step(a, dictionary) for i, a in enumerate(batch)
                                                         if i != 3]


class _SeesCollector(Recognizer):
    """The shipped model, noting whether the cyclic garbage collector was on when the batch was recognized."""

    def __init__(self, model: Recognizer):
        self.__dict__.update(model.__dict__)
        self.collector_on: list[bool] = []

    def recognize_many(self, texts, normalized=None):
        self.collector_on.append(gc.isenabled())
        return super().recognize_many(texts, normalized)

    def recognize(self, text, normalized=None):
        self.collector_on.append(gc.isenabled())
        return super().recognize(text, normalized)


def test_the_cyclic_collector_is_paused_through_a_batch_and_left_as_it_was(articles, dictionary):
    recognizer = _SeesCollector(shipped())
    assert gc.isenabled()
    entities_many(articles[:4], dictionary, recognizer=recognizer)
    assert recognizer.collector_on == [False] and gc.isenabled()
    gc.disable()  # a caller that runs without it (cmd_process during its start-up) keeps it off
    try:
        entities_many(articles[:4], dictionary, recognizer=recognizer)
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert recognizer.collector_on == [False, False]
    entities_step(articles[0], dictionary, recognizer=recognizer)  # one article at a time (the worker) too
    assert recognizer.collector_on == [False, False, False] and gc.isenabled()


class _BreaksOn(Recognizer):
    """The shipped model, failing on one text: recognize_many fails for the whole batch, recognize for that text."""

    def __init__(self, model: Recognizer, text: str):
        self.__dict__.update(model.__dict__)
        self.broken = text

    def recognize(self, text, normalized=None):
        if text == self.broken:
            raise RuntimeError("the recognizer breaks on this text")
        return super().recognize(text, normalized)

    def recognize_many(self, texts, normalized=None):
        if self.broken in texts:
            raise RuntimeError("the recognizer breaks on this batch")
        return super().recognize_many(texts, normalized)


def test_an_article_that_breaks_the_recognizer_fails_alone(articles, dictionary):
    batch = articles[:9]
    recognizer = _BreaksOn(shipped(), batch[5].text)
    out = entities_many(batch, dictionary, recognizer=recognizer)
    assert isinstance(out[5], RuntimeError) and str(out[5]) == "the recognizer breaks on this text"
    assert [r for i, r in enumerate(out) if i != 5] == [entities_step(a, dictionary) for i, a in enumerate(batch)
                                                         if i != 5]


def test_an_article_that_fails_after_recognition_fails_alone(articles, dictionary, monkeypatch):
    import streams.pipeline.steps as steps

    real = steps.extract_entities
    broken = articles[2].text

    def extract_entities(text, *args, **kwargs):
        if text == broken:
            raise KeyError("linking")
        return real(text, *args, **kwargs)

    monkeypatch.setattr(steps, "extract_entities", extract_entities)
    out = entities_many(articles[:5], dictionary)
    assert [isinstance(r, KeyError) for r in out] == [a.text == broken for a in articles[:5]]
    assert sum(isinstance(r, KeyError) for r in out) < 5


def test_an_article_that_breaks_the_batched_signatures_fails_alone(articles, dictionary, monkeypatch):
    """stories.signatures fails for the batch: each article's signature is then computed alone, and only the
    article whose signature fails gets the exception."""
    import streams.pipeline.steps as steps

    real = steps.signature
    broken = articles[3].text

    def signatures(texts):
        raise MemoryError("the batch")

    def signature(text, **kwargs):
        if text == broken:
            raise ValueError("this text's signature")
        return real(text, **kwargs)

    monkeypatch.setattr(steps, "signatures", signatures)
    monkeypatch.setattr(steps, "signature", signature)
    out = entities_many(articles[:6], dictionary)
    assert [isinstance(r, ValueError) for r in out] == [a.text == broken for a in articles[:6]]
    monkeypatch.setattr(steps, "signature", real)
    assert [r for r in out if not isinstance(r, ValueError)] == [
        entities_step(a, dictionary) for a in articles[:6] if a.text != broken]


def _docs():
    from streams.inputs.paths import RawDocument
    from tests.conftest import BAD, CORPUS

    docs = list(iter_documents([CORPUS, BAD, ROOT / "samples" / "labeled", CORPUS],
                               max_bytes=CleanLimits().max_page_bytes))
    docs.append(RawDocument("missing", None, None, None, error="no such file or folder"))
    docs.append(RawDocument("empty-body", None, None, None))
    return docs


def test_process_lines_are_the_same_whatever_the_batch(dictionary):
    """`process` runs the entities step over chunks: the same lines in the same order (the story index fed in input
    order: the corpus's second copies are duplicates) as one article at a time."""
    from streams.pipeline.offline import process_documents

    docs = _docs()
    one_by_one = list(process_documents(docs, limits=CleanLimits(), dictionary=dictionary, batch=1))
    assert len(one_by_one) == len(docs) and [line["status"] for line in one_by_one].count("ok") > 20
    assert any(line["duplicate_of"] for line in one_by_one)
    for batch in (2, 5, 64, 1000):
        assert list(process_documents(docs, limits=CleanLimits(), dictionary=dictionary, batch=batch)) == one_by_one
    with pytest.raises(ValueError):
        next(process_documents(docs, limits=CleanLimits(), dictionary=dictionary, batch=0))


def test_process_rejects_only_the_article_the_entities_step_fails_on(dictionary, monkeypatch):
    import streams.pipeline.steps as steps
    from streams.pipeline.offline import process_documents

    docs = _docs()[:12]
    expected = list(process_documents(docs, limits=CleanLimits(), dictionary=dictionary, batch=1))
    victim = next(i for i, line in enumerate(expected) if line["status"] == "ok" and i > 2)
    broken = expected[victim]["text"]
    real = steps.extract_mentions

    def extract_mentions(text, *args, **kwargs):
        if text == broken:
            raise RuntimeError("boom")
        return real(text, *args, **kwargs)

    monkeypatch.setattr(steps, "extract_mentions", extract_mentions)
    lines = list(process_documents(docs, limits=CleanLimits(), dictionary=dictionary, batch=64))
    hit = [i for i, line in enumerate(expected) if line["text"] == broken]
    assert [(line["status"], line["reason"]) for i, line in enumerate(lines) if i in hit] == [("rejected", "error")] * len(hit)
    assert [line for i, line in enumerate(lines) if i not in hit] == [line for i, line in enumerate(expected)
                                                                       if i not in hit]


def test_a_batch_of_long_texts_goes_to_the_recognizer_in_parts_of_at_most_max_chars(articles, dictionary,
                                                                                    monkeypatch):
    """entities_many cuts its batch into runs of at most `max_chars` characters of text (an article longer than
    that alone): the recognizer never holds more at once, and each article's result is what it was."""
    expected = entities_many(articles, dictionary)
    recognizer = shipped()
    calls: list[int] = []
    real = recognizer.recognize_many

    def counted(texts, normalized=None):
        calls.append(sum(map(len, texts)))
        return real(texts, normalized)

    monkeypatch.setattr(recognizer, "recognize_many", counted)
    longest = max(len(a.text) for a in articles)
    for max_chars in (1, longest, 2 * longest, 10 * longest):
        calls.clear()
        assert entities_many(articles, dictionary, max_chars=max_chars) == expected
        assert sum(calls) == sum(len(a.text) for a in articles)
        assert all(total <= max(max_chars, longest) for total in calls)
        assert len(calls) > 1
    calls.clear()
    assert entities_many(articles, dictionary) == expected and len(calls) == 1  # the default: the whole batch
