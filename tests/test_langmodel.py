"""The language model read from its uncompressed cached copy is py3langid's own: same answers, safe fallbacks."""

import os

import numpy as np
import pytest
from py3langid import langid

from streams.pipeline import langmodel

TEXTS = ["قال وزير الخارجية الروسي سيرغي لافروف إن الغرب", "The minister said on Monday that talks would resume",
         "Le ministre a déclaré lundi que les négociations", "", "12345 !!!", "Der Minister sagte am Montag"]


@pytest.fixture
def fresh_identifier(monkeypatch):
    monkeypatch.setattr(langid, "IDENTIFIER", None)


@pytest.fixture(scope="module")
def shipped():
    return langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE)


def test_cached_model_answers_as_py3langid_and_is_written_once(tmp_path, fresh_identifier, shipped):
    langmodel.load(tmp_path)
    (cache,) = tmp_path.glob("langid-*")
    assert [langid.classify(t) for t in TEXTS] == [shipped.classify(t) for t in TEXTS]
    first = [(cache / f"{name}.npy").stat().st_mtime_ns for name in langmodel.ARRAYS]
    langid.IDENTIFIER = None
    langmodel.load(tmp_path)  # from the cache now
    assert [(cache / f"{name}.npy").stat().st_mtime_ns for name in langmodel.ARRAYS] == first
    assert langid.IDENTIFIER is not None
    assert [langid.classify(t) for t in TEXTS] == [shipped.classify(t) for t in TEXTS]
    assert [langid.rank(t)[:3] for t in TEXTS] == [shipped.rank(t)[:3] for t in TEXTS]


def test_the_large_arrays_are_mapped_from_the_cache_not_read(tmp_path, fresh_identifier):
    langmodel.load(tmp_path)  # writes the cache (the arrays in memory)
    langid.IDENTIFIER = None
    langmodel.load(tmp_path)
    ptc = langid.IDENTIFIER.nb_ptc
    assert isinstance(ptc.base, np.memmap) and not ptc.flags.writeable and ptc.nbytes > 10_000_000
    nextmove = langid.IDENTIFIER.tk_nextmove  # the transition table too: not copied into an array (39 MB, ~25 ms)
    assert isinstance(nextmove, memoryview) and nextmove.readonly and nextmove.nbytes > 10_000_000


def test_a_damaged_cache_is_rewritten(tmp_path, fresh_identifier, shipped):
    langmodel.load(tmp_path)
    (cache,) = tmp_path.glob("langid-*")
    (cache / "ptc.npy").write_bytes(b"not a model")
    langid.IDENTIFIER = None
    langmodel.load(tmp_path)
    assert langid.classify(TEXTS[0]) == shipped.classify(TEXTS[0])
    assert (cache / "ptc.npy").stat().st_size > 1_000_000


def test_a_cache_with_a_missing_file_is_rewritten(tmp_path, fresh_identifier, shipped):
    langmodel.load(tmp_path)
    (cache,) = tmp_path.glob("langid-*")
    (cache / "nextmove.npy").unlink()
    langid.IDENTIFIER = None
    langmodel.load(tmp_path)
    assert langid.classify(TEXTS[2]) == shipped.classify(TEXTS[2]) and (cache / "nextmove.npy").is_file()


@pytest.mark.parametrize("foreign", ["folder", "file"])
def test_a_cache_others_may_write_is_not_read(tmp_path, fresh_identifier, monkeypatch, foreign):
    langmodel.load(tmp_path)
    (cache,) = tmp_path.glob("langid-*")
    os.chmod(cache if foreign == "folder" else cache / "ptc.npy", 0o777 if foreign == "folder" else 0o666)
    read = []
    monkeypatch.setattr(langmodel, "_read", lambda folder: read.append(folder) or {})
    langid.IDENTIFIER = None
    langmodel.load(tmp_path)
    assert not read and langid.IDENTIFIER is not None  # built from py3langid's own file, not the foreign-writable copy


def test_an_older_copy_is_removed_when_the_cache_is_written(tmp_path, fresh_identifier):
    (tmp_path / "langid-0.3.0-0123.npz").write_bytes(b"an older version's single-file copy")
    (tmp_path / "langid-0.3.0-4567").mkdir()
    langmodel.load(tmp_path)
    assert [p.name for p in tmp_path.glob("langid-*")] == [langmodel._cache_file(
        tmp_path, langid.MODEL_DIR / langid.MODEL_FILE).name]


def test_an_unwritable_cache_folder_still_loads_the_model(tmp_path, fresh_identifier, shipped):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    langmodel.load(blocked / "cache")
    assert langid.IDENTIFIER is not None and langid.classify(TEXTS[1]) == shipped.classify(TEXTS[1])


def test_the_cache_is_named_by_the_models_content_not_its_files_time(tmp_path):
    """Two installs of one py3langid (two venvs, one cache folder) must share one copy: with the file's mtime in the
    name each deleted the other's as stale and the next start unpacked the LZMA model again."""
    source = langid.MODEL_DIR / langid.MODEL_FILE
    one, other, changed = tmp_path / "one.xz", tmp_path / "other.xz", tmp_path / "changed.xz"
    one.write_bytes(source.read_bytes())
    other.write_bytes(source.read_bytes())
    os.utime(other, ns=(1, 1))
    raw = source.read_bytes()
    changed.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    assert langmodel._cache_file(tmp_path, one) == langmodel._cache_file(tmp_path, other)
    assert langmodel._cache_file(tmp_path, changed) != langmodel._cache_file(tmp_path, one)


@pytest.mark.parametrize("damage", ["short pc", "pc is classes", "classes as numbers", "out_feat too far",
                                    "nextmove cut"])
def test_an_array_that_parses_but_does_not_fit_is_rewritten(tmp_path, fresh_identifier, shipped, damage):
    """A well-formed .npy of the wrong shape or kind (damaged, replaced, a symlink to its neighbour) loaded fine and
    then failed in every cleaning child's warm-up ('operands could not be broadcast'): every page failed."""
    langmodel.load(tmp_path)
    (cache,) = tmp_path.glob("langid-*")
    if damage == "short pc":
        np.save(cache / "pc.npy", np.zeros(3, dtype=np.float32))
    elif damage == "pc is classes":
        (cache / "pc.npy").unlink()
        (cache / "pc.npy").symlink_to(cache / "classes.npy")
    elif damage == "classes as numbers":
        np.save(cache / "classes.npy", np.arange(len(np.load(cache / "classes.npy"))))
    elif damage == "out_feat too far":
        out_feat = np.load(cache / "out_feat.npy")
        out_feat[0] = 10**8
        np.save(cache / "out_feat.npy", out_feat)
    else:
        np.save(cache / "nextmove.npy", np.load(cache / "nextmove.npy")[:1000])
    langid.IDENTIFIER = None
    langmodel.load(tmp_path)
    assert [langid.classify(t) for t in TEXTS] == [shipped.classify(t) for t in TEXTS]
    assert not (cache / "pc.npy").is_symlink()
    langid.IDENTIFIER = None
    langmodel.load(tmp_path)  # the rewritten copy is read as it is
    assert [langid.classify(t) for t in TEXTS] == [shipped.classify(t) for t in TEXTS]
