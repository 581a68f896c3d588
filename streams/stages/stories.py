"""Stories stage: article -> story id, grouping copies of one article.

Exact duplicates: the same canonical URL (a re-delivery: same article id, same answer as
the first time) or the same normalized body on another URL (a copy: `duplicate_of` the first one seen).
The index is explicit state passed in, so the assignment stays a pure function of it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from schemas.records import Article, StoryAssignment
from streams.stages import Rejected


@dataclass
class StoryIndex:
    """Article id -> (assignment, fingerprint); fingerprint -> (story id, first article id). Oldest evicted past `max_entries`."""

    max_entries: int = 1_000_000
    by_article: OrderedDict[str, tuple[StoryAssignment, str]] = field(default_factory=OrderedDict)
    by_fingerprint: OrderedDict[str, tuple[str, str]] = field(default_factory=OrderedDict)

    def remember(self, article_id: str, fingerprint: str, assignment: StoryAssignment) -> None:
        self.by_article[article_id] = (assignment, fingerprint)
        self.by_fingerprint.setdefault(fingerprint, (assignment.story_id, article_id))
        for table in (self.by_article, self.by_fingerprint):
            while len(table) > self.max_entries:
                table.popitem(last=False)


def assign_story(article: Article, index: StoryIndex) -> StoryAssignment:
    known = index.by_article.get(article.article_id)
    if known is not None:
        if known[1] != article.fingerprint:
            # Replacing the text would leave the first version's mentions counted too (their rows have other
            # offsets), so the first version stays the article and a changed one is dropped with its reason.
            raise Rejected("changed copy", f"article {article.article_id} is stored with other text; "
                                           "the first version counts")
        return known[0]
    copy_of = index.by_fingerprint.get(article.fingerprint)
    if copy_of is not None:
        assignment = StoryAssignment(story_id=copy_of[0], duplicate_of=copy_of[1])
    else:
        assignment = StoryAssignment(story_id=article.article_id, duplicate_of=None)
    index.remember(article.article_id, article.fingerprint, assignment)
    return assignment
