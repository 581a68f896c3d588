"""Names to keys and actors: a recognized span is linked to a dictionary actor when its normalized form is one
of the actor's aliases or generated spellings; a surname alone later in an article takes the key (and actor)
of the full name it follows; every other span gets a stable key that groups spelling variants of one name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from streams.pipeline.arabic import normalize
from streams.pipeline.dictionary import Actor, ActorDictionary, AliasEntry

# Proclitics a name may carry in running text (وبشار، لبوتين، والرئاسة، للأمم): stripped for its key.
_NAME_PROCLITICS = ("وبال", "وال", "بال", "فال", "كال", "ولل", "فلل", "لل", "وب", "ول", "وك", "فب", "فل",
                    "و", "ف", "ب", "ل", "ك")
_KEY_FOLD = str.maketrans({"غ": "ج", "ء": None, "ـ": None})
_SPACES = re.compile(r"\s+")


def strip_name_clitic(word: str, known: frozenset[str] | set[str] = frozenset()) -> str:
    """The word without a proclitic (ولافروف -> لافروف, للامم -> الامم), unless the whole word is a known name
    word (وليد, فادي) or too little would be left."""
    if word in known or not word or word[0] not in "وفبلك":
        return word
    for p in _NAME_PROCLITICS:
        if word.startswith(p) and len(word) - len(p) >= 3:
            rest = word[len(p):]
            return "ال" + rest if p.endswith(("ال", "لل")) else rest
    return word


def bare_form(words: Sequence[str], known: frozenset[str] | set[str] = frozenset()) -> str:
    """Normalized name without the first word's proclitic: the form dictionary aliases are stored in."""
    words = [w for w in words if w]
    if not words:
        return ""
    return " ".join([strip_name_clitic(words[0], known), *words[1:]])


def name_key(words: Sequence[str], known: frozenset[str] | set[str] = frozenset(), normalized: bool = False) -> str:
    """Stable grouping key of a name: normalized (alef, ya, ta marbuta, hamza seats fold), proclitic stripped,
    غ/ج folded (سيرغي/سيرجي), hamza on the line dropped, for Latin script lower-cased and single-spaced.
    `normalized`: the words are normalized already (the recognizer's tokens)."""
    words = words if normalized else [normalize(w) for w in words]
    return _SPACES.sub(" ", bare_form(words, known).translate(_KEY_FOLD)).strip()


def actor_key(actor: Actor) -> str:
    """The key of a dictionary actor: its first Arabic alias, else its name, as name_key makes it."""
    return _alias_key((actor.aliases.get("ar") or [actor.name])[0])


@lru_cache(maxsize=65536)
def _alias_key(alias: str) -> str:
    return _SPACES.sub(" ", normalize(alias).translate(_KEY_FOLD)).strip()  # aliases are listed bare


def link_alias(form: str, dictionary: ActorDictionary, named: set[str]) -> str | None:
    """The actor whose alias (or generated spelling) is exactly `form`: a full alias of one actor, or a short
    form of one actor the article names elsewhere."""
    return linked_actor(alias_entry(form, dictionary), named)


def alias_entry(form: str, dictionary: ActorDictionary) -> AliasEntry | None:
    """link_alias()'s dictionary entry of `form` (the article's names aside): what a cache keeps per name."""
    entry = dictionary.alias_keys.get(form, None)
    if entry is None and form.startswith("ال"):
        entry = dictionary.alias_keys.get(form[2:], None)
        if entry is not None and not entry.needs_article:
            entry = None
    return entry


def linked_actor(entry: AliasEntry | None, named: set[str] | frozenset[str]) -> str | None:
    """link_alias()'s answer from the entry of the form and the actors the article names."""
    if entry is None:
        return None
    if len(entry.actor_ids) == 1 and (not entry.short or entry.actor_ids[0] in named):
        return entry.actor_ids[0]
    hits = [i for i in entry.actor_ids if i in named]
    return hits[0] if len(hits) == 1 else None
