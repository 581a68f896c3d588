"""Sources to monitor, from a YAML file kept with the deployment (deploy/sources.yaml is the example)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Source(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Short, stable name; becomes the `source` of every page it yields.")
    kind: Literal["feed", "sitemap", "urls"] = Field(description="RSS/Atom feed, (news) sitemap or plain URL list.")
    url: str | None = Field(None, description="The feed or sitemap (or sitemap index) URL.")
    urls: list[str] = Field(default_factory=list, description="For kind 'urls': the pages themselves.")
    lang: str | None = Field(None, description="Language hint, e.g. 'ar'.")
    interval_seconds: float = Field(900, gt=0, description="How often the source is polled.")
    max_items: int = Field(200, ge=1, description="Most new pages taken from one poll.")
    max_pending: int = Field(2000, ge=1, description="Most listed-but-not-yet-fetched pages kept for later polls "
                             "(a poll over `max_items`, a 304 on the next poll, a 5xx); the longest-unlisted go first.")

    @model_validator(mode="after")
    def _has_target(self) -> Source:
        if self.kind == "urls" and not self.urls:
            raise ValueError(f"source {self.name!r}: kind 'urls' needs a 'urls' list")
        if self.kind != "urls" and not self.url:
            raise ValueError(f"source {self.name!r}: kind {self.kind!r} needs a 'url'")
        return self


class SourcesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sources: list[Source]

    @model_validator(mode="after")
    def _unique_names(self) -> SourcesFile:
        names = [s.name for s in self.sources]
        if len(names) != len(set(names)):
            raise ValueError("source names must be unique")
        return self


def load_sources(path: str | Path) -> list[Source]:
    """The sources of a YAML file; a bad file is an error that names the field, before anything is fetched."""
    data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    return SourcesFile.model_validate(data).sources
