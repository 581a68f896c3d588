from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from streams.pipeline.dictionary import ActorDictionary

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "samples" / "corpus"
# Compiled dictionaries of this run (and of the workers it starts) go to a private temporary cache, not ~/.cache.
os.environ.setdefault("NEWSSTREAM_CACHE_DIR", tempfile.mkdtemp(prefix="newsstream-test-cache-"))
BAD = ROOT / "samples" / "bad"

SMALL_DICTIONARY = """
version: "test-1"
actors:
  - id: sergey-lavrov
    name: Sergey Lavrov
    type: person
    aliases: {ar: ["سيرغي لافروف"], en: ["Sergey Lavrov"], ru: ["Сергей Лавров"]}
    short: {ar: ["لافروف"], en: ["Lavrov"]}
  - id: bashar-al-assad
    name: Bashar al-Assad
    type: person
    aliases: {ar: ["بشار الأسد"], en: ["Bashar al-Assad"]}
    short: {ar: ["الأسد"], en: ["Assad"]}
  - id: hafez-al-assad
    name: Hafez al-Assad
    type: person
    aliases: {ar: ["حافظ الأسد"]}
    short: {ar: ["الأسد"], en: ["Assad"]}
  - id: antonio-guterres
    name: António Guterres
    type: person
    aliases: {ar: ["أنطونيو غوتيريش"]}
    short: {ar: ["غوتيريش"]}
  - id: united-nations
    name: United Nations
    type: organization
    aliases: {ar: ["الأمم المتحدة"], en: ["United Nations"]}
  - id: syria
    name: Syria
    type: location
    aliases: {ar: ["سوريا", "سورية"], en: ["Syria"]}
"""


@pytest.fixture(scope="session")
def small_dictionary(tmp_path_factory) -> ActorDictionary:
    path = tmp_path_factory.mktemp("actors") / "actors.yaml"
    path.write_text(SMALL_DICTIONARY, encoding="utf-8")
    return ActorDictionary.load(path)


@pytest.fixture(scope="session")
def dictionary() -> ActorDictionary:
    return ActorDictionary.load()
