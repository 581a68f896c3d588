"""Entity-level scores of the recognizer alone (sentence by sentence) and of the whole entities stage (the
recognizer, linking, document consistency and title patterns) on annotated sentences.

ANERcorp has no document breaks, so the stage reads windows of consecutive sentences as its articles.
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.pipeline.arabic import normalize_with_map
from streams.pipeline.dictionary import ActorDictionary
from streams.pipeline.ner.data import Score, Sentence, conll_scores
from streams.pipeline.ner.model import Recognizer
from streams.pipeline.stages.candidates import find_candidates
from streams.pipeline.stages.entities import extract_entities, extract_mentions

TAGS = {"person": "PER", "organization": "ORG", "location": "LOC", "other": "MISC"}
WINDOW = 10


def recognizer_scores(model: Recognizer, sentences: Sequence[Sentence]) -> dict[str, Score]:
    return conll_scores([tags for _, tags in sentences], [model.tag(words) for words, _ in sentences])


def stage_tags(sentences: Sequence[Sentence], dictionary: ActorDictionary, model: Recognizer,
               window: int = WINDOW) -> list[list[str]]:
    """IOB tags the entities stage gives each token, reading `window` sentences at a time as one article."""
    out: list[list[str]] = []
    for first in range(0, len(sentences), window):
        chunk = sentences[first:first + window]
        offsets: list[list[tuple[int, int]]] = []
        parts, pos = [], 0
        for words, _ in chunk:
            row = []
            for w in words:
                row.append((pos, pos + len(w)))
                pos += len(w) + 1
            offsets.append(row)
            parts.append(" ".join(words))
        text = "\n".join(parts)
        normalized = normalize_with_map(text)
        mentions = extract_mentions(text, dictionary, normalized)
        candidates = find_candidates(text, mentions, normalized)
        entities = extract_entities(text, mentions, candidates, dictionary, model, normalized)
        for row in offsets:
            tags = ["O"] * len(row)
            for e in entities:
                inside = [i for i, (s, t) in enumerate(row) if s < e.end and e.start < t]
                for n, i in enumerate(inside):
                    tags[i] = ("B-" if n == 0 else "I-") + TAGS[e.type]
            out.append(tags)
    return out


def stage_scores(sentences: Sequence[Sentence], dictionary: ActorDictionary, model: Recognizer,
                 window: int = WINDOW) -> dict[str, Score]:
    return conll_scores([tags for _, tags in sentences], stage_tags(sentences, dictionary, model, window))
