"""Entities stage: article text -> actor mentions with offsets into that text.

One Aho-Corasick pass over the normalized text; a hit counts when it stands as a word,
optionally behind Arabic clitics (و ف ب ل ك ال لل).
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.records import Mention
from streams.actors import ActorDictionary, AliasEntry
from streams.arabic import is_mark, is_word_char, normalize_with_map

# Proclitic strings allowed between a word start and a name: conjunction, then preposition.
_CLITICS = {c + p for c in ("", "و", "ف") for p in ("", "ب", "ل", "ك")}
_ARTICLE_PREFIXES = {c + "ال" for c in _CLITICS} | {c + "لل" for c in ("", "و", "ف")}


def _word_start(text: str, i: int) -> int:
    while i > 0 and is_word_char(text[i - 1]):
        i -= 1
    return i


def extract_mentions(text: str, dictionary: ActorDictionary,
                     normalized: tuple[str, Sequence[int]] | None = None) -> list[Mention]:
    """`normalized`: normalize_with_map(text) when the caller already has it (discovery reuses it)."""
    norm, index = normalized or normalize_with_map(text)
    hits: list[tuple[int, int, int, AliasEntry]] = []  # (start in norm incl. article, alias start, end, entry)
    for end_pos, entry in dictionary.automaton.iter(norm):
        start = end_pos - entry.length + 1
        end = end_pos + 1
        if end < len(norm) and is_word_char(norm[end]):
            continue
        prefix_start = _word_start(norm, start)
        prefix = norm[prefix_start:start]
        if entry.needs_article:
            if prefix not in _ARTICLE_PREFIXES:
                continue
            span_start = start - 2  # the name includes its article (ال / لل)
        else:
            if prefix not in _CLITICS:
                continue
            span_start = start
        hits.append((span_start, start, end, entry))

    # Leftmost-longest: a longer alias ("سيرغي لافروف") wins over the surname inside it.
    hits.sort(key=lambda h: (h[0], -(h[2] - h[0])))
    chosen: list[tuple[int, int, AliasEntry]] = []
    last_end = -1
    for span_start, _alias_start, end, entry in hits:
        if span_start >= last_end:
            chosen.append((span_start, end, entry))
            last_end = end

    # A shared short form (الأسد: Bashar or Hafez) resolves only if the article names exactly one of them in full.
    named_in_full = {e.actor_ids[0] for _, _, e in chosen if not e.short and len(e.actor_ids) == 1}
    mentions: list[Mention] = []
    for span_start, end, entry in chosen:
        ids = entry.actor_ids
        if len(ids) > 1:
            ids = tuple(i for i in ids if i in named_in_full)
            if len(ids) != 1:
                continue
        actor = dictionary.actors[ids[0]]
        o_start, o_end = index[span_start], index[end - 1] + 1
        while o_end < len(text) and is_mark(text[o_end]):  # a final vowel mark is part of the name
            o_end += 1
        mentions.append(
            Mention(actor_id=actor.actor_id, name=actor.name, type=actor.type,
                    surface=text[o_start:o_end], start=o_start, end=o_end)
        )
    return mentions
