"""The record-to-record steps that both the Faust topology and the offline `process` run.

raw-html (RawPage) -> clean -> cleaned (Article) -> entities -> entities (ArticleEntities)
-> stories -> stories (StoryArticle) -> sink.  Any failure -> dead-letters (DeadLetter).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from pydantic import ValidationError

from schemas.records import Article, ArticleEntities, DeadLetter, RawPage, RawRef, StoryArticle
from streams.pipeline.arabic import normalize_with_map
from streams.pipeline.dictionary import ActorDictionary
from streams.pipeline.ner.model import Recognizer
from streams.pipeline.ner.model import shipped as shipped_recognizer
from streams.pipeline.offsets import original_index
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.candidates import find_candidates
from streams.pipeline.stages.clean import CleanLimits, clean_page
from streams.pipeline.stages.entities import extract_entities, extract_mentions
from streams.pipeline.stages.siteprofile import SiteProfile
from streams.pipeline.stages.stories import SCHEME, StoryIndex, assign_story, current_signature, lead_persons, signature
from streams.settings import Settings

PAYLOAD_KEEP_CHARS = 2000
MAX_MENTIONS = 1000


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
    norm, index = normalize_with_map(article.text)
    normalized = norm, original_index(article.text, index)  # one normalization, its offsets C-indexed for all
    mentions = extract_mentions(article.text, dictionary, normalized)
    candidates = find_candidates(article.text, mentions, normalized)  # every mention: no candidate overlaps one
    entities = extract_entities(article.text, mentions, candidates, dictionary, recognizer, normalized)
    return ArticleEntities(article=article, mentions=mentions[:max_mentions], dictionary_version=dictionary.version,
                           candidates=candidates[:max_mentions],
                           minhash=signature(article.text, normalized=normalized[0]), minhash_scheme=SCHEME,
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
