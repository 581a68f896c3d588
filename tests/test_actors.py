import os

import pytest

from streams.pipeline.dictionary import ActorDictionary, DictionaryWatcher
from tests.conftest import SMALL_DICTIONARY

KERRY = """
  - id: john-kerry
    name: John Kerry
    type: person
    aliases: {ar: ["جون كيري"]}
    short: {ar: ["كيري"]}
"""


def test_duplicate_ids_are_refused(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(SMALL_DICTIONARY + SMALL_DICTIONARY.split("actors:", 1)[1], encoding="utf-8")
    with pytest.raises(ValueError, match="listed twice"):
        ActorDictionary.load(path)


def test_version_changes_with_the_content(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(SMALL_DICTIONARY, encoding="utf-8")
    first = ActorDictionary.load(path).version
    path.write_text(SMALL_DICTIONARY + KERRY, encoding="utf-8")
    assert ActorDictionary.load(path).version != first


def test_watcher_picks_up_a_new_actor_and_survives_a_broken_edit(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(SMALL_DICTIONARY, encoding="utf-8")
    watcher = DictionaryWatcher(path, interval=0)
    assert "john-kerry" not in watcher.current().actors
    path.write_text(SMALL_DICTIONARY + KERRY, encoding="utf-8")
    os.utime(path, ns=(1, 10**18))
    assert "john-kerry" in watcher.current().actors
    path.write_text("actors: [ {broken", encoding="utf-8")
    os.utime(path, ns=(1, 2 * 10**18))
    assert "john-kerry" in watcher.current().actors  # last good dictionary kept


def test_bundled_dictionary_loads_with_unique_ids(dictionary):
    assert len(dictionary.actors) >= 300
    assert {"sergey-lavrov", "john-kerry", "staffan-de-mistura", "bashar-al-assad"} <= set(dictionary.actors)
