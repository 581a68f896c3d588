"""Offline path: the same steps as the stream, without a broker, one JSON line per input document.

Output contract (stable; evaluation and backfills rely on it):
{"source","status":"ok"|"rejected","reason","detail","article_id","url","title","text","lang",
 "published_at","mentions":[{"actor_id","name","type","surface","start","end"}],
 "entities":[{"type","surface","start","end","key","actor_id"}],"story_id","duplicate_of"}
"""

from __future__ import annotations

import base64
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from datetime import datetime
from pathlib import Path
from typing import Any

from schemas.records import Article, RawPage, StoryArticle
from streams.inputs.paths import RawDocument
from streams.pipeline import langmodel
from streams.pipeline.budget import CleanBudget
from streams.pipeline.dictionary import ActorDictionary
from streams.pipeline.identity import page_id_for
from streams.pipeline.ner.model import shipped as shipped_recognizer
from streams.pipeline.stages import Rejected
from streams.pipeline.stages.clean import CleanLimits
from streams.pipeline.stages.stories import StoryIndex
from streams.pipeline.steps import (
    ENTITIES_BATCH,
    ENTITIES_BATCH_CHARS,
    MAX_MENTIONS,
    clean_step,
    dead_letter,
    entities_many,
    story_step,
)


def raw_page(doc: RawDocument, entered_at: datetime | None = None) -> RawPage:
    """The raw-topic record for an input document (bytes travel base64 so the cleaner sees the original charset).
    Its page id and fetch time are fixed here, once: `entered_at` is the fetch time of a document that has none."""
    body = doc.body
    if body is None:  # callers turn a document without a body into a dead letter instead
        raise ValueError(f"{doc.source}: a document without a body has no raw page")
    page_id = page_id_for(doc.url, doc.source, body)
    fetched_at = doc.fetched_at or entered_at
    if isinstance(body, bytes):
        return RawPage(source=doc.source, url=doc.url, page_id=page_id,
                       html_b64=base64.b64encode(body).decode("ascii"), content_type=doc.content_type,
                       fetched_at=fetched_at)
    return RawPage(source=doc.source, url=doc.url, page_id=page_id, html=body, content_type=doc.content_type,
                   fetched_at=fetched_at)


def input_of(doc: RawDocument) -> dict[str, Any]:
    """Where a document was read: file, JSONL line number, byte offset of its line or WARC record."""
    return {"path": doc.path, "line": doc.line, "offset": doc.offset}


def ok_line(source: str, result: StoryArticle, where: dict[str, Any] | None = None) -> dict[str, Any]:
    article = result.article
    return {
        "source": source,
        "status": "ok",
        "reason": None,
        "detail": None,
        "article_id": article.article_id,
        "url": article.canonical_url or article.url,
        "title": article.title,
        "text": article.text,
        "lang": article.lang,
        "published_at": article.published_at.isoformat(),
        "mentions": [m.model_dump() for m in result.mentions],
        "entities": [e.model_dump() for e in result.entities],
        "story_id": result.story.story_id,
        "duplicate_of": result.story.duplicate_of,
        "input": where or {"path": None, "line": None, "offset": None},
    }


def rejected_line(source: str, reason: str, url: str | None = None,
                  where: dict[str, Any] | None = None, detail: str | None = None) -> dict[str, Any]:
    """`detail`: what exactly was wrong (the dead letter's `error`), e.g. which JSON error a bad JSONL line has."""
    return {"source": source, "status": "rejected", "reason": reason, "detail": detail, "article_id": None, "url": url,
            "title": None, "text": None, "lang": None, "published_at": None, "mentions": [],
            "entities": [], "story_id": None, "duplicate_of": None,
            "input": where or {"path": None, "line": None, "offset": None}}


def process_documents(docs: Iterable[RawDocument], *, limits: CleanLimits,
                      dictionary: ActorDictionary | Callable[[], ActorDictionary],
                      index: StoryIndex | None = None, max_mentions: int = MAX_MENTIONS,
                      budget: CleanBudget | None = None, cache_dir: Path | None = None,
                      batch: int = ENTITIES_BATCH, close_budget: bool = False,
                      batch_chars: int = ENTITIES_BATCH_CHARS) -> Iterator[dict[str, Any]]:
    """One output line per document, in input order; nothing raises out of here (but a `dictionary` that fails to load).

    With a `budget`, cleaning runs under its time limit, as in the stream, one page ahead per cleaning child: its
    children clean the next pages while this process finds the entities and the story of the current ones (same
    lines, same order: cleaning is pure, and the story index is still fed in input order). The entities step runs
    over the cleaned articles at hand, up to `batch` at once (entities_many: the same results, cheaper per article).

    `dictionary` may be a function that loads it: it is called once the first pages are queued, and the recognizer
    is loaded then too, so that both load while the cleaning children work on those pages instead of before.

    `close_budget`: the caller is done with `budget` after this: it is closed as soon as every page is cleaned, so
    that its children stop while this process finishes the last lines (pebble's pool takes ~0.05-0.15 s to stop:
    its threads poll in 0.1 s steps), instead of after them."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    loaded: list[ActorDictionary] = []

    def entity_side() -> ActorDictionary:
        if not loaded:
            loaded.append(dictionary() if callable(dictionary) else dictionary)
            try:
                shipped_recognizer()  # loaded once per process; here, before the first page is waited for
            except Exception:  # the entities step tries again, and each article's line says why it failed
                pass
        return loaded[0]

    index = index if index is not None else StoryIndex()
    if budget is not None and budget.seconds > 0:
        yield from _fed(docs, limits=limits, entity_side=entity_side, max_mentions=max_mentions, index=index,
                        budget=budget, batch=batch, close_budget=close_budget, batch_chars=batch_chars)
        return
    if budget is None:
        langmodel.load(cache_dir)  # cleaning runs here: the language model from its cached copy (see langmodel)
    start = budget.start if budget is not None else (lambda page, limits: lambda: clean_step(page, limits))
    depth = budget.workers if budget is not None else batch  # cleaning happens in this thread, when its line is due

    def queued(doc: RawDocument) -> tuple[RawDocument, Callable[[], Article] | None]:
        return _queued(doc, start, limits)

    ahead: deque[tuple[RawDocument, Callable[[], Article] | None]] = deque()
    for doc in docs:
        ahead.append(queued(doc))
        if len(ahead) > depth:
            entities = entity_side()
            yield from _lines(ready_chunk(ahead, batch), entities, max_mentions, index, batch_chars)
    while ahead:
        entities = entity_side()
        yield from _lines(ready_chunk(ahead, batch), entities, max_mentions, index, batch_chars)
    if not loaded and callable(dictionary):  # no input: the dictionary still loads, so that a broken one is said
        dictionary()


def _queued(doc: RawDocument, start: Callable[[RawPage, CleanLimits], Callable[[], Article]],
            limits: CleanLimits) -> tuple[RawDocument, Callable[[], Article] | None]:
    if doc.error or doc.body is None:
        return doc, None
    try:
        return doc, start(raw_page(doc), limits)
    except Exception as exc:  # the record or the pool failed for this document: its line says so
        return doc, _raise(exc)


def _fed(docs: Iterable[RawDocument], *, limits: CleanLimits, entity_side: Callable[[], ActorDictionary],
         max_mentions: int, index: StoryIndex, budget: CleanBudget, batch: int,
         close_budget: bool = False, batch_chars: int = ENTITIES_BATCH_CHARS) -> Iterator[dict[str, Any]]:
    """process_documents with cleaning children: a thread (`_Feeder`) keeps them fed while this one loads the
    dictionary and the recognizer and runs the entities step, which left them idle before (on 25 pages they had
    cleaned 3 when the dictionary was loaded; benchmarks/RESULTS.md). The lines are the same, in the same order."""
    budget.prestart()  # the pool is started here, not in the feeder: a child is forked only from a lone thread
    feeder = _Feeder(docs, budget, limits, window=max(batch, budget.workers + 1), close_budget=close_budget)
    feeder.start()
    try:
        feeder.first.wait()
        entities = entity_side()  # while the children clean the first pages
        while True:  # the next document (waited for) and those cleaned after it, up to `batch`, as ready_chunk
            chunk: list[tuple[RawDocument, Article | Exception | None]] = []
            item = feeder.out.get()
            while isinstance(item, tuple):
                chunk.append(item)
                if len(chunk) == batch:
                    break
                try:
                    item = feeder.out.get_nowait()
                except queue.Empty:
                    break
            yield from _lines(chunk, entities, max_mentions, index, batch_chars)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item  # the inputs' own error (e.g. reading a file), after the lines of the documents before it
    finally:
        feeder.stop.set()
        feeder.join(timeout=5)


class _Feeder(threading.Thread):
    """Queues the documents' pages in the budget's cleaning children, at most one waiting per child beside the one
    each cleans (not more: with a batch more in the pool's pipe, killing both children at once left `process` waiting
    for ever, its feeder thread blocked writing to that pipe: tests/test_process_overlap.py), and puts each document
    with its outcome in `out` in input order (`_cleaned`); then None, or the exception the inputs raised.
    `window` bounds the cleaned documents waiting for the entities step; at most 4 per child more are held with
    their raw page (queued, being cleaned, or cleaned behind a slower one), so memory is bounded by a few pages per
    child, not by a batch of them.
    `close_budget`: close the budget once every page is cleaned (see process_documents)."""

    def __init__(self, docs: Iterable[RawDocument], budget: CleanBudget, limits: CleanLimits, window: int,
                 close_budget: bool = False):
        super().__init__(name="process-feeder", daemon=True)
        self.docs, self.budget, self.limits, self.window = docs, budget, limits, window
        self.close_budget = close_budget
        self.out: queue.Queue[tuple[RawDocument, Article | Exception | None] | BaseException | None] = (
            queue.Queue(maxsize=window))
        self.first = threading.Event()  # the first pages are queued (or all there are): the entity side loads
        self.stop = threading.Event()  # the lines' reader left: stop reading and queueing
        self.inflight: deque[tuple[RawDocument, Callable[[], Article] | None]] = deque()

    def run(self) -> None:
        end: BaseException | None = None
        try:
            try:
                for n, doc in enumerate(self.docs, 1):
                    self.inflight.append(_queued(doc, self.budget.start, self.limits))
                    if n > self.budget.workers:  # one page per child and the next: the entity side may load
                        self.first.set()
                    self._pass_done()
                    while not self.stop.is_set() and (len(self._unfinished()) > self.budget.workers
                                                      or len(self.inflight) >= 4 * self.budget.workers):
                        self._wait()
                        self._pass_done()
                    if self.stop.is_set():
                        return
            except Exception as exc:  # the inputs' error: the reader raises it after the lines of the pages before it
                end = exc
            self.first.set()
            while self.inflight and not self.stop.is_set():
                self._wait()
                self._pass_done()
            if self.close_budget and not self.inflight:  # every page cleaned and handed on
                self.budget.close()
        except BaseException as exc:  # not expected (`_cleaned` catches): the reader raises it rather than hang
            end = exc
        finally:
            self.first.set()
            self._put(end)

    def _unfinished(self) -> list[Future]:
        return [f for f in (getattr(c, "future", None) for _, c in self.inflight) if f is not None and not f.done()]

    def _wait(self) -> None:
        """Until one of the pages queued is cleaned (or a moment passed: `stop` is looked at again)."""
        pending = self._unfinished()
        if pending:
            wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)

    def _pass_done(self) -> None:
        """Hand on the cleaned documents at the head of `inflight`, in input order."""
        while self.inflight and _done(self.inflight[0][1]) and not self.stop.is_set():
            self._put(_cleaned(*self.inflight.popleft()))

    def _put(self, item) -> None:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


def ready_chunk(ahead: deque[tuple[RawDocument, Callable[[], Article] | None]],
                batch: int) -> list[tuple[RawDocument, Article | Exception | None]]:
    """The next cleaned documents, taken from the left of `ahead`: the first one (waited for), then those after it
    whose cleaning is already done, up to `batch`. Never waiting for a whole batch keeps this process's entities step
    running while the cleaning children work (a fixed batch of 64 left them idle on a small input and this process
    idle while each batch was cleaned); whatever has piled up still goes through the entities step at once."""
    chunk = [_cleaned(*ahead.popleft())]
    while ahead and len(chunk) < batch and _done(ahead[0][1]):
        chunk.append(_cleaned(*ahead.popleft()))
    return chunk


def _done(cleaned: Callable[[], Article] | None) -> bool:
    """Whether the article can be had without waiting for a cleaning child: a budget's pending page says so
    (`done`); a bad input, a failure, or cleaning in this process (no budget) has nothing to wait for."""
    done = getattr(cleaned, "done", None)
    return done() if done is not None else True


def _raise(exc: Exception) -> Callable[[], Article]:
    def fail() -> Article:
        raise exc
    return fail


def _cleaned(doc: RawDocument, cleaned: Callable[[], Article] | None) -> tuple[RawDocument, Article | Exception | None]:
    """The document with its article, or the exception cleaning it raised; None: a bad input (its own line)."""
    if doc.error:
        return doc, None
    try:
        if cleaned is None:
            raise Rejected("empty", "no body")
        return doc, cleaned()
    except Exception as exc:
        return doc, exc


def _lines(chunk: list[tuple[RawDocument, Article | Exception | None]], dictionary: ActorDictionary,
           max_mentions: int, index: StoryIndex, batch_chars: int) -> Iterator[dict[str, Any]]:
    """The chunk's lines in order: the entities step over its articles at once, then each story in input order."""
    articles = [outcome for _, outcome in chunk if isinstance(outcome, Article)]
    try:
        found = iter(entities_many(articles, dictionary, max_mentions, max_chars=batch_chars))
    except Exception as exc:  # entities_many gives each article its outcome; should it fail whole, each says so
        found = iter([exc] * len(articles))
    for doc, outcome in chunk:
        if outcome is None:
            yield rejected_line(doc.source, "bad input", doc.url, input_of(doc), doc.error)  # None: doc.error is set
            continue
        try:
            if isinstance(outcome, Exception):
                raise outcome
            entities = next(found)
            if isinstance(entities, Exception):
                raise entities
            result = story_step(entities, index)
        except Exception as exc:  # every input ends as a line: a crash in a stage is a rejection, not an abort
            letter = dead_letter("process", exc)
            yield rejected_line(doc.source, letter.reason, doc.url, input_of(doc), letter.error)
            continue
        yield ok_line(doc.source, result, input_of(doc))
