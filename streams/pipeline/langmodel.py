"""py3langid's language model, loaded from an uncompressed copy kept in the cache folder.

py3langid ships its model LZMA-compressed and unpacks it on the first `classify`, in every process that cleans a
page (the `process` runner, each worker's clean child). The copy is one .npy file per array, in a folder named by
the model's content; its two large arrays (~28 and ~39 MB) are memory-mapped instead of read: the scores only touch
the rows of the features a text has, so a process maps the file instead of copying 68 MB before its first page (times:
benchmarks/RESULTS.md). The model is the one py3langid ships, unchanged, so every answer is the same
(tests/test_langmodel.py); any failure leaves py3langid to load its model itself.
"""

from __future__ import annotations

import hashlib
import io
import logging
import lzma
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np

log = logging.getLogger(__name__)


ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")  # py3langid's model.npz, one file each
MAPPED = ("ptc", "nextmove")  # the large ones: mapped, not read


def _cache_file(cache_dir: Path, source: Path) -> Path:
    """The cache folder of one model, named by its content (~5 ms to hash), not its file's mtime: two installs of one
    py3langid (two venvs sharing the cache folder) share one copy instead of each deleting the other's and unpacking
    it again (~0.6 s)."""
    from importlib.metadata import version

    with source.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()[:32]
    return cache_dir / f"langid-{version('py3langid')}-{digest}"


def _private(path: Path) -> bool:
    """Only a file this user owns and nobody else may write, in a folder likewise private, is trusted."""
    for item in (path.parent, path):
        st = item.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            return False
    return True


def _trusted(cache: Path) -> bool:
    """The cache folder and each of its files private (see _private); a missing file is not trusted."""
    try:
        return cache.is_dir() and _private(cache) and all(_private(cache / f"{name}.npy") for name in ARRAYS)
    except OSError:
        return False


def _identifier(arrays: dict[str, np.ndarray]):
    """The identifier as py3langid's own `from_model_file` builds it, from the model's arrays, but for its transition
    table: py3langid copies `nextmove` (39 MB) into an `array`, ~25 ms of CPU and 39 MB of memory before the first
    page; a memoryview of the same items over the mapped file is indexed alike (ints, same answers and speed:
    tests/test_langmodel.py), so the file's pages are shared by every process that maps it."""
    from py3langid.langid import LanguageIdentifier
    from py3langid.modelio import _to_array

    return LanguageIdentifier(np.asarray(arrays["ptc"]), np.asarray(arrays["pc"]), arrays["classes"].tolist(),
                              _items(arrays["nextmove"]), arrays["out_feat"].tolist(),
                              tk_row=_to_array(arrays["nextmove_row"]))


def _items(array: np.ndarray) -> memoryview:
    """An unsigned integer array's items as a flat memoryview (indexing gives ints, as py3langid's `array` does),
    without a copy when the array is contiguous (a mapped file is)."""
    typecode: dict[int, Literal["H", "I", "L"]] = {2: "H", 4: "I", 8: "L"}  # py3langid's own (modelio._TYPECODE)
    return np.ascontiguousarray(array).data.cast("B").cast(typecode[array.dtype.itemsize])


def _read(cache: Path) -> dict[str, np.ndarray]:
    """The arrays of a cache folder, the large ones memory-mapped read-only (the files are never rewritten in place:
    a new copy is a new folder renamed into place), checked to fit together (_check)."""
    arrays = {name: np.load(cache / f"{name}.npy", mmap_mode="r" if name in MAPPED else None, allow_pickle=False)
              for name in ARRAYS}
    _check(arrays)
    return arrays


def _check(arrays: dict[str, np.ndarray]) -> None:
    """Raise ValueError unless the arrays have the kinds and shapes of py3langid's model and fit together: a file
    that parses but is another array (damaged, replaced, a symlink to its neighbour) would otherwise fail only in
    `classify`, in every cleaning child, page after page. Cheap: the two large arrays are checked by shape only."""
    ptc, pc, classes = arrays["ptc"], arrays["pc"], arrays["classes"]
    nextmove, row, out_feat = arrays["nextmove"], arrays["nextmove_row"], arrays["out_feat"]
    kinds = {"ptc": "f", "pc": "f", "classes": "U", "nextmove": "iu", "nextmove_row": "iu", "out_feat": "iu"}
    for name, kind in kinds.items():
        if arrays[name].dtype.kind not in kind:
            raise ValueError(f"{name} holds {arrays[name].dtype}, not the model's kind")
    if ptc.ndim != 2 or pc.shape != (ptc.shape[1],) or classes.shape != pc.shape:
        raise ValueError(f"shapes do not fit: ptc {ptc.shape}, pc {pc.shape}, classes {classes.shape}")
    if (nextmove.ndim != 1 or not nextmove.size or nextmove.size % 256 or out_feat.ndim != 1
            or row.shape != out_feat.shape):
        raise ValueError(f"shapes do not fit: nextmove {nextmove.shape}, nextmove_row {row.shape}, "
                         f"out_feat {out_feat.shape}")
    if out_feat.size and (out_feat.max() >= ptc.shape[0] or out_feat.min() < -1):
        raise ValueError("out_feat points outside ptc")
    if row.size and row.max() >= nextmove.size // 256:
        raise ValueError("nextmove_row points outside nextmove")


def _write(cache: Path, arrays: dict[str, np.ndarray]) -> None:
    """Best effort: a read-only or full disk only costs the next process the LZMA unpacking again."""
    try:
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix=".langid-", suffix=".tmp"))
        try:
            for name in ARRAYS:
                np.save(tmp / f"{name}.npy", arrays[name], allow_pickle=False)
            shutil.rmtree(cache, ignore_errors=True)  # a damaged copy (never one in use: mapped files stay readable)
            os.rename(tmp, cache)
        except OSError:
            if not _trusted(cache):  # another process renamed its copy into place first: keep that one
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for stale in cache.parent.glob("langid-*"):  # another py3langid's model (or the .npz of older versions)
            if stale != cache:
                shutil.rmtree(stale) if stale.is_dir() and not stale.is_symlink() else stale.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("language model cache not written to %s: %s", cache.parent, exc)


def load(cache_dir: Path | None = None) -> None:
    """Install py3langid's identifier from the cache (written on first use) unless one is loaded already."""
    from py3langid import langid

    if langid.IDENTIFIER is not None:
        return
    source = langid.MODEL_DIR / langid.MODEL_FILE
    try:
        if cache_dir is None:
            from streams.pipeline.dictionary import default_cache_dir

            cache_dir = default_cache_dir()
        cache = _cache_file(cache_dir, source)
        if _trusted(cache):
            try:
                langid.IDENTIFIER = _identifier(_read(cache))
                return
            except Exception as exc:  # a truncated or foreign file: written again below
                log.warning("language model cache %s unreadable (%s); rewriting it", cache, exc)
        with np.load(io.BytesIO(lzma.decompress(source.read_bytes())), allow_pickle=False) as data:
            arrays = {name: data[name] for name in ARRAYS}
        langid.IDENTIFIER = _identifier(arrays)
        _write(cache, arrays)
    except Exception as exc:  # a damaged cache or another py3langid layout: py3langid loads its model itself
        log.warning("language model not loaded from the cache (%s); py3langid loads it", exc)
