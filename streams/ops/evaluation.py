"""Precision and recall of person mention counts on the hand-labeled set (samples/labeled/mentions.json).

Per article and person, the matched count is min(found, labeled): precision = matched / found,
recall = matched / labeled. Corpus pages go through clean + entities, so chrome that leaks shows as errors.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from samples import CORPUS_DIR, LABELED_DIR
from streams.inputs.paths import iter_documents
from streams.pipeline.dictionary import ActorDictionary
from streams.pipeline.offline import raw_page
from streams.pipeline.stages.clean import CleanLimits
from streams.pipeline.stages.entities import extract_mentions
from streams.pipeline.steps import clean_step

LABELED_PATH = LABELED_DIR / "mentions.json"


@dataclass
class Evaluation:
    found: int = 0
    labeled: int = 0
    matched: int = 0
    articles: int = 0
    chrome_leaks: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str, int, int]] = field(default_factory=list)  # (article, actor, found, labeled)

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.labeled if self.labeled else 1.0

    def add(self, article: str, found: Counter, labeled: dict[str, int]) -> None:
        self.articles += 1
        for actor in set(found) | set(labeled):
            f, lab = found.get(actor, 0), labeled.get(actor, 0)
            self.found += f
            self.labeled += lab
            self.matched += min(f, lab)
            if f != lab:
                self.errors.append((article, actor, f, lab))


def labeled_articles(path: Path = LABELED_PATH, corpus: Path = CORPUS_DIR) -> list[tuple[str, str, dict[str, int]]]:
    """(article name, cleaned text, labeled person counts): corpus pages cleaned by the real stage, then texts."""
    data = json.loads(path.read_text("utf-8"))
    limits = CleanLimits()
    out = []
    for name, labeled in data["pages"].items():
        [doc] = list(iter_documents([corpus / name], max_bytes=limits.max_page_bytes))
        out.append((name, clean_step(raw_page(doc), limits).text, labeled))
    out += [(t["id"], t["text"], t["expected"]) for t in data["texts"]]
    return out


def chrome_actors(path: Path = LABELED_PATH) -> set[str]:
    return set(json.loads(path.read_text("utf-8"))["chrome_actors"])


def evaluate(dictionary: ActorDictionary, articles: list[tuple[str, str, dict[str, int]]] | None = None) -> Evaluation:
    articles = articles if articles is not None else labeled_articles()
    chrome = chrome_actors()
    result = Evaluation()
    pages = set(json.loads(LABELED_PATH.read_text("utf-8"))["pages"])
    for name, text, labeled in articles:
        found = Counter(m.actor_id for m in extract_mentions(text, dictionary) if m.type == "person")
        result.add(name, found, labeled)
        if name in pages:
            result.chrome_leaks += [(name, a) for a in found if a in chrome and a not in labeled]
    return result
