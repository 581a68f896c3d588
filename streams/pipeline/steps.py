"""The record-to-record steps that both the Faust topology and the offline `process` run.

raw-html (RawPage) -> clean -> cleaned (Article) -> entities -> entities (ArticleEntities)
-> stories -> stories (StoryArticle) -> sink.  Any failure -> dead-letters (DeadLetter).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

import orjson
from pydantic import ValidationError

from schemas.records import Article, ArticleEntities, DeadLetter, Mention, RawPage, RawRef, StoryArticle
from streams.pipeline.arabic import normalize_with_map
from streams.pipeline.dictionary import ActorDictionary, _no_gc
from streams.pipeline.ner.model import Recognizer, Span
from streams.pipeline.ner.model import shipped as shipped_recognizer
from streams.pipeline.offsets import original_index
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.candidates import find_candidates
from streams.pipeline.stages.clean import CleanLimits, clean_page
from streams.pipeline.stages.entities import extract_entities, extract_mentions
from streams.pipeline.stages.siteprofile import SiteProfile
from streams.pipeline.stages.stories import (
    SCHEME,
    StoryIndex,
    assign_story,
    current_signature,
    lead_persons,
    signature,
    signatures,
)
from streams.settings import Settings

PAYLOAD_KEEP_CHARS = 2000
MAX_MENTIONS = 1000
ENTITIES_BATCH = 64  # articles per entities_many call (Settings.entities_batch_size)
ENTITIES_BATCH_CHARS = 1_000_000  # characters of text per batch at most (Settings.entities_batch_chars)


def clean_limits(settings: Settings) -> CleanLimits:
    return CleanLimits(max_page_bytes=settings.max_page_bytes, min_text_chars=settings.min_text_chars,
                       max_text_chars=settings.max_text_chars)


def clean_step(page: RawPage, limits: CleanLimits, raw: RawRef | None = None,
               profile: SiteProfile | None = None) -> Article:
    # RawPage{source,url,html|html_b64,fetched_at} -> Article{article_id,title,text,published_at,...}
    if page.http_status is not None and page.http_status >= 400:
        raise Rejected("error page", f"HTTP status {page.http_status}")
    # An undated page falls back to its fetch time, recorded once when it entered (else the time its raw message
    # entered the topic, which a re-send keeps): never the processing time, which would change on re-delivery.
    fetched_at = page.fetched_at or (raw.timestamp if raw is not None else None)
    article = clean_page(page.body(), url=page.url, source=page.source, fetched_at=fetched_at,
                         content_type=page.content_type, raw=raw, limits=limits, profile=profile)
    if len(article.text) > limits.max_text_chars:
        raise Rejected("text too long",
                       f"{len(article.text)} characters of text, over the {limits.max_text_chars} limit")
    return article


def entities_step(article: Article, dictionary: ActorDictionary, max_mentions: int = MAX_MENTIONS,
                  recognizer: Recognizer | None = None) -> ArticleEntities:
    # Article -> ArticleEntities{article, mentions[{actor_id,name,type,surface,start,end}], dictionary_version, minhash,
    #                            entities[{type,surface,start,end,key,actor_id}], model_version}
    # Past `max_mentions` the rest are dropped: a page naming one actor thousands of times is a list, not news.
    recognizer = recognizer or shipped_recognizer()
    with _no_gc():  # see entities_many
        found = _dictionary_names(article, dictionary)
        minhash = signature(article.text, normalized=found.normalized[0])
        return _article_entities(found, minhash, dictionary, max_mentions, recognizer, None)


def entities_many(articles: Sequence[Article], dictionary: ActorDictionary, max_mentions: int = MAX_MENTIONS,
                  recognizer: Recognizer | None = None,
                  max_chars: int = ENTITIES_BATCH_CHARS) -> list[ArticleEntities | Exception]:
    """entities_step() of each article, in order, with the recognizer run once over the whole batch
    (Recognizer.recognize_many: one set of array operations, ~3x cheaper per article than text by text) and the
    MinHash signatures too (stories.signatures). Each article gets its own result or its own exception: one that
    fails does not fail the others.

    The cyclic collector is paused meanwhile (and collects once after): the step makes thousands of short-lived
    containers (hits, rows, models, tokens) while a few big ones live through it (the batch's token and chunk
    lists), and each of the ~5 young-generation collections per article walked those again: ~14 % of the step's
    CPU time (benchmarks/entities_gc.py). Reference counting frees what it makes as before; a rare cycle (a failing
    article's exception) waits for that one collection.

    A batch holds ~100 bytes of arrays and tokens a character of text: articles go in parts of at most `max_chars`
    characters (an article longer than that alone), so 64 long articles (up to 200,000 characters each) do not
    take gigabytes at once; the same results, whatever the parts (one article's result never depends on the others)."""
    recognizer = recognizer or shipped_recognizer()
    with _no_gc():
        out: list[ArticleEntities | Exception] = []
        for part in _parts(articles, max_chars):
            out += _entities_many(part, dictionary, max_mentions, recognizer)
        return out


def _parts(articles: Sequence[Article], max_chars: int) -> Iterator[Sequence[Article]]:
    """Consecutive runs of the articles, each of at most `max_chars` characters of text or of one article."""
    start, size = 0, 0
    for i, article in enumerate(articles):
        if i > start and size + len(article.text) > max_chars:
            yield articles[start:i]
            start, size = i, 0
        size += len(article.text)
    if start < len(articles):
        yield articles[start:]


def _entities_many(articles: Sequence[Article], dictionary: ActorDictionary, max_mentions: int,
                   recognizer: Recognizer) -> list[ArticleEntities | Exception]:
    # Part by part over the whole batch (all normalizations, then all dictionary passes, then all title passes ...),
    # not article by article: each part's tables stay in the CPU's caches through the batch (the dictionary's
    # automaton alone is ~13 MB), ~10 % of the step's time (benchmarks/RESULTS.md).
    out: list[ArticleEntities | Exception] = [_PENDING] * len(articles)
    texts = [a.text for a in articles]
    normalized: list[tuple[str, Sequence[int]]] = [("", ())] * len(articles)
    mentions: list[list[Mention]] = [[]] * len(articles)
    candidates: list[list[Mention]] = [[]] * len(articles)

    def normalize(i: int) -> None:
        norm, index = normalize_with_map(texts[i])
        normalized[i] = norm, original_index(texts[i], index)

    def match(i: int) -> None:
        mentions[i] = extract_mentions(texts[i], dictionary, normalized[i])

    def titles(i: int) -> None:  # every mention: no candidate overlaps one
        candidates[i] = find_candidates(texts[i], mentions[i], normalized[i])

    live: Sequence[int] = range(len(articles))
    for part in (normalize, match, titles):
        live = _each(part, live, out)
    ready = [(i, _Found(articles[i], normalized[i], mentions[i], candidates[i])) for i in live]
    minhashes = _signed([found for _, found in ready])
    spans = _recognized(recognizer, [found for _, found in ready])
    for (position, found), minhash, names in zip(ready, minhashes, spans, strict=True):
        try:
            if isinstance(names, Exception):
                raise names
            if isinstance(minhash, Exception):
                raise minhash
            out[position] = _article_entities(found, minhash, dictionary, max_mentions, recognizer, names)
        except Exception as exc:
            out[position] = exc
    return out


def _each(part: Callable[[int], None], positions: Iterable[int], out: list[ArticleEntities | Exception]) -> list[int]:
    """part(i) for each position; those it raises for get their exception in `out`: the positions still going."""
    going = []
    for i in positions:
        try:
            part(i)
        except Exception as exc:
            out[i] = exc
        else:
            going.append(i)
    return going


class _Found(NamedTuple):
    """An article with its one normalization (offsets C-indexed for all) and its dictionary names."""

    article: Article
    normalized: tuple[str, Sequence[int]]
    mentions: list[Mention]
    candidates: list[Mention]


_PENDING = RuntimeError("entities_many: no result (a bug)")  # a placeholder every position replaces


def _dictionary_names(article: Article, dictionary: ActorDictionary) -> _Found:
    norm, index = normalize_with_map(article.text)
    normalized = norm, original_index(article.text, index)
    mentions = extract_mentions(article.text, dictionary, normalized)
    candidates = find_candidates(article.text, mentions, normalized)  # every mention: no candidate overlaps one
    return _Found(article, normalized, mentions, candidates)


def _recognized(recognizer: Recognizer, batch: list[_Found]) -> list[list[Span]] | list[list[Span] | Exception]:
    """The recognizer's names in each article, one call for all; when that call fails, text by text, so only the
    article that breaks it fails."""
    try:
        return recognizer.recognize_many([f.article.text for f in batch], [f.normalized for f in batch])
    except Exception:
        out: list[list[Span] | Exception] = []
        for found in batch:
            try:
                out.append(recognizer.recognize(found.article.text, found.normalized))
            except Exception as exc:
                out.append(exc)
        return out


def _signed(batch: list[_Found]) -> list[list[int]] | list[list[int] | Exception]:
    """The MinHash signature of each article, one stories.signatures call for all; when that call fails, text by
    text, so only the article that breaks it fails."""
    try:
        return signatures([f.normalized[0] for f in batch])
    except Exception:
        out: list[list[int] | Exception] = []
        for found in batch:
            try:
                out.append(signature(found.article.text, normalized=found.normalized[0]))
            except Exception as exc:
                out.append(exc)
        return out


def _article_entities(found: _Found, minhash: list[int], dictionary: ActorDictionary, max_mentions: int,
                      recognizer: Recognizer, spans: Sequence[Span] | None) -> ArticleEntities:
    article, normalized, mentions, candidates = found
    entities = extract_entities(article.text, mentions, candidates, dictionary, recognizer, normalized, spans)
    return ArticleEntities(article=article, mentions=mentions[:max_mentions], dictionary_version=dictionary.version,
                           candidates=candidates[:max_mentions],
                           minhash=minhash, minhash_scheme=SCHEME,
                           entities=entities[:max_mentions], model_version=recognizer.version)


def story_step(item: ArticleEntities, index: StoryIndex) -> StoryArticle:
    # ArticleEntities -> StoryArticle{..., minhash, minhash_scheme, story{story_id, duplicate_of}}
    article, known = item.article, index.entries.get(item.article.article_id)
    if known is not None and known.fingerprint == article.fingerprint and known.published_at != article.published_at:
        # The same text delivered again with another fetch time (an undated page fetched later): published_at is in
        # the mentions' sort key, so the stored date stays or every mention would be counted a second time.
        article = article.model_copy(update={"published_at": known.published_at})
    # A signature of another scheme (a record an older worker sent) is recomputed: never compared with this one's.
    values = current_signature(article.text, item.minhash, item.minhash_scheme)
    return StoryArticle(article=article, mentions=item.mentions, dictionary_version=item.dictionary_version,
                        minhash=values, minhash_scheme=SCHEME,
                        story=assign_story(article, values, index, lead_persons(item.mentions)),
                        candidates=item.candidates, entities=item.entities, model_version=item.model_version)


def origin(value: object) -> tuple[str | None, str | None]:
    """(source, url) of a stage's input record, for its dead letter: later stages nest the page's article."""
    if not isinstance(value, dict):
        return None, None
    if isinstance(article := value.get("article"), dict):
        value = article
    source, url = value.get("source"), value.get("url")
    return (source if isinstance(source, str) else None), (url if isinstance(url, str) else None)


def dead_letter(stage: str, exc: BaseException, *, source: str | None = None, url: str | None = None,
                raw: RawRef | None = None, payload: object = None) -> DeadLetter:
    """Why a document stopped: `Rejected` keeps its reason; a schema error or a crash gets a generic one."""
    if isinstance(exc, Rejected):
        reason, error = exc.reason, exc.detail
    elif isinstance(exc, ValidationError):
        reason, error = "schema", str(exc)[:PAYLOAD_KEEP_CHARS]
    else:
        reason, error = "error", f"{type(exc).__name__}: {exc}"[:PAYLOAD_KEEP_CHARS]
    if payload is not None and not isinstance(payload, str):
        payload = (payload if isinstance(payload, bytes) else orjson.dumps(payload, default=str)).decode(
            "utf-8", "replace")
    return DeadLetter(stage=stage, reason=reason, error=error, source=source, url=url, raw=raw,
                      payload=payload[:PAYLOAD_KEEP_CHARS] if payload else None, at=datetime.now(UTC))
