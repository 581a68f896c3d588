"""Topic record models, version 1.

Every message carries `schema_version`; consumers validate with these models, so a
message that does not fit is dead-lettered with the validation error as its reason.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas import DEAD_LETTER_STAGES  # defined in schemas/__init__.py: the CLI's parser offers it without pydantic

SCHEMA_VERSION: Final = 1

ActorType = Literal["person", "organization", "location", "other"]
PublishedSource = Literal["metadata", "dateline", "url", "fetched"]


ModelT = TypeVar("ModelT", bound=BaseModel)


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: Literal[1] = SCHEMA_VERSION


class RawRef(BaseModel):
    """Where a document entered the pipeline: the ledger key of its raw message."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    topic: str
    partition: int
    offset: int
    timestamp: datetime | None = Field(None, description="When the raw message entered its topic, for latency.")
    page_id: str | None = Field(None, description="The page's stable id (RawPage.page_id): the ledger key. Topic, "
                                "partition and offset are provenance only (a restarted local broker reuses offsets).")
    replace: bool = Field(False, description="The page was re-sent by `reprocess --from-archive`: its new version "
                          "replaces the stored article (text, mentions) instead of being a 'changed copy'.")


class RawPage(Record):
    """Topic `raw-html`: one fetched page, as the feeder or `ingest` saw it."""

    source: str = Field(description="Where the page came from: a file path, JSONL line, or feed name.")
    url: str | None = None
    page_id: str | None = Field(
        None,
        description="Stable id given once when the page entered (ingest, feeder, backfill): hash of the canonical "
        "URL (or source) and the page bytes. The ledger, reconcile, replay and the raw archive key on it; a message "
        "without one gets the same hash in the clean stage.")
    html: str | None = Field(None, description="Page as text (JSONL inputs that were already decoded).")
    html_b64: str | None = Field(None, description="Page bytes, base64, so charset detection sees the original.")
    content_type: str | None = Field(None, description="HTTP Content-Type header, which may name the charset.")
    fetched_at: datetime | None = Field(
        None, description="When the page was fetched or read, recorded once when it entered; the published_at "
        "fallback of an undated page (never the processing time).")
    final_url: str | None = Field(None, description="Where redirects ended, when not `url` (the feeder).")
    http_status: int | None = Field(None, description="HTTP status of the fetch (the feeder).")
    lang_hint: str | None = Field(None, description="The source's language, from the feeder's configuration.")
    headers: dict[str, str] | None = Field(
        None, description="Response headers that matter, lower-cased: content-type, content-language, etag, "
        "last-modified, date (the feeder)."
    )
    origin: RawRef | None = Field(
        None, description="Set when `replay` re-sends a page read back from the raw topic: where it first travelled."
    )
    replace: bool = Field(False, description="Set by `reprocess --from-archive`: the page's new version replaces the "
                          "stored article.")

    @model_validator(mode="after")
    def _one_body(self) -> RawPage:
        if (self.html is None) == (self.html_b64 is None):
            raise ValueError("exactly one of html and html_b64 must be set")
        return self

    def body(self) -> bytes | str:
        if self.html is not None:
            return self.html
        assert self.html_b64 is not None  # _one_body: exactly one of the two is set
        return base64.b64decode(self.html_b64)


class Article(Record):
    """Topic `cleaned`: the article and only the article."""

    article_id: str
    source: str
    url: str | None
    canonical_url: str | None
    site: str | None
    title: str
    text: str = Field(description="Title line, then body paragraphs, newline-separated; mention offsets index it.")
    lang: str | None
    author: str | None = Field(None, description="Byline or metadata author, when the page names one.")
    published_at: datetime
    published_source: PublishedSource = Field(
        description="Where published_at came from: page metadata or <time>, a dateline in the text, the URL path; "
        "'fetched' means no date was found on the page."
    )
    published_utc_offset: int | None = Field(
        None, ge=-16 * 60, le=16 * 60,
        description="Minutes east of UTC of the zone the page stated its time in (e.g. 240 for +04:00), so the "
        "local day is what the page said; None when the page named no zone.")
    fetched_at: datetime | None
    charset: str
    fingerprint: str = Field(description="Hash of the normalized body, for exact-duplicate detection.")
    raw: RawRef | None = None

    def published_local(self) -> datetime:
        """The publication time in the page's own zone (UTC when it named none)."""
        return self.published_at.astimezone(timezone(timedelta(minutes=self.published_utc_offset or 0)))


MINHASH_DOC = ("MinHash signature of the text's word shingles (computed in the parallel entities stage, "
               "so the single-partition stories stage only looks it up); empty: exact matching only.")
# The scheme of every signature made before schemes were recorded (records without one, warehouse rows before 0013).
LEGACY_MINHASH_SCHEME: Final = "sha1-affine32-w3-126"
MINHASH_SCHEME_DOC = ("How `minhash` was computed (streams.pipeline.stages.stories.SCHEME); signatures of two schemes "
                      f"are never compared. Absent (a record from before schemes): '{LEGACY_MINHASH_SCHEME}'.")


class Mention(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    actor_id: str
    name: str
    type: ActorType
    surface: str
    start: int
    end: int


def unchecked(model: type[ModelT], rows: list[dict[str, Any]]) -> list[ModelT]:
    """Instances of `model` from rows that code here built itself with every field, of the right types (str and int
    taken from the text): what pydantic's model_construct makes, without its Python-level work per field, and without
    validation, which cost ~2 us a row, most of the entities step's model building (benchmarks/RESULTS.md). The
    record they go into is validated whole when the next hop decodes it; tests hold these equal to validated ones."""
    new, fields = object.__new__, frozenset(model.model_fields)
    set_dict, set_fields_set, set_extra, set_private = _SLOT_SETTERS
    out = []
    for row in rows:
        instance = new(model)
        set_dict(instance, row)
        set_fields_set(instance, set(fields))
        set_extra(instance, None)
        set_private(instance, None)
        out.append(instance)
    return out


# BaseModel's slots, set through their descriptors (a third cheaper than object.__setattr__ by name).
_SLOT_SETTERS = tuple(BaseModel.__dict__[name].__set__ for name in (
    "__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))


class Entity(BaseModel):
    """A name in the text: a dictionary actor (actor_id set) or a name the recognizer or a title found."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: ActorType
    surface: str
    start: int
    end: int
    key: str = Field(description="Normalized name grouping spelling variants (clitics stripped, غ/ج folded); "
                                 "a surname alone takes the key of the full name it follows.")
    actor_id: str | None = Field(None, description="The dictionary actor this name is, when it is one.")


ENTITIES_DOC = "Every name in the text (persons, organizations, places, other), linked or not; offsets index `text`."
MODEL_VERSION_DOC = "Version of the named-entity recognizer that produced `entities`."


class ArticleEntities(Record):
    """Topic `entities`: an article with its actor mentions."""

    article: Article
    mentions: list[Mention]
    dictionary_version: str
    candidates: list[Mention] = Field(
        default_factory=list, description="Persons after a title the dictionary lacks; actor_id 'candidate:<name>'.")
    minhash: list[int] = Field(default_factory=list, description=MINHASH_DOC)
    minhash_scheme: str | None = Field(None, description=MINHASH_SCHEME_DOC)
    entities: list[Entity] = Field(default_factory=list, description=ENTITIES_DOC)
    model_version: str | None = Field(None, description=MODEL_VERSION_DOC)


class StoryAssignment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    story_id: str
    duplicate_of: str | None


class StoryArticle(Record):
    """Topic `stories`: the final record, with the article's story; the sink writes it."""

    article: Article
    mentions: list[Mention]
    dictionary_version: str
    minhash: list[int] = Field(default_factory=list, description=MINHASH_DOC)
    minhash_scheme: str | None = Field(None, description=MINHASH_SCHEME_DOC)
    story: StoryAssignment
    candidates: list[Mention] = Field(default_factory=list, description="Candidate persons, as in `entities`.")
    entities: list[Entity] = Field(default_factory=list, description=ENTITIES_DOC)
    model_version: str | None = Field(None, description=MODEL_VERSION_DOC)


class DeadLetter(Record):
    """Topic `dead-letters`: a document that did not become an article, and why."""

    stage: str = Field(description="Where it stopped: one of " + ", ".join(DEAD_LETTER_STAGES) + " (process: offline).")
    reason: str = Field(description="Short, stable reason, e.g. 'empty', 'binary', 'oversized', 'no article text'.")
    error: str | None = Field(None, description="Details: exception text or validation error.")
    source: str | None = None
    url: str | None = None
    raw: RawRef | None = None
    payload: str | None = Field(None, description="The offending message, truncated.")
    at: datetime


TOPIC_RECORDS: dict[str, type[Record]] = {
    "raw-html": RawPage,
    "cleaned": Article,
    "entities": ArticleEntities,
    "stories": StoryArticle,
    "dead-letters": DeadLetter,
}
