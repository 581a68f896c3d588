"""py3langid's language model, loaded from an uncompressed copy kept in the cache folder.

py3langid ships its model LZMA-compressed and unpacks it on the first `classify`, in every process that cleans a
page (the `process` runner's clean child, each worker's clean child); reading the same arrays from a plain .npz is
several times cheaper (times: benchmarks/RESULTS.md). The model is the one py3langid ships, unchanged, so every
answer is the same (tests/test_langmodel.py); any failure leaves py3langid to load its model itself.
"""

from __future__ import annotations

import hashlib
import io
import logging
import lzma
import os
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _cache_file(cache_dir: Path, source: Path) -> Path:
    """Named by the model's content (~5 ms to hash), not its file's mtime: two installs of one py3langid (two venvs
    sharing the cache folder) share one copy instead of each deleting the other's and unpacking it again (~0.6 s)."""
    from importlib.metadata import version

    with source.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()[:32]
    return cache_dir / f"langid-{version('py3langid')}-{digest}.npz"


def _private(path: Path) -> bool:
    """Only a file this user owns and nobody else may write, in a folder likewise private, is trusted."""
    for item in (path.parent, path):
        st = item.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            return False
    return True


def _identifier(npz):
    """The identifier as py3langid's own `from_model_file` builds it, from the uncompressed .npz."""
    from py3langid.langid import LanguageIdentifier
    from py3langid.modelio import _to_array

    with np.load(npz, allow_pickle=False) as data:
        return LanguageIdentifier(np.asarray(data["ptc"]), np.asarray(data["pc"]), data["classes"].tolist(),
                                  _to_array(data["nextmove"]), data["out_feat"].tolist(),
                                  tk_row=_to_array(data["nextmove_row"]))


def _write(cache: Path, raw: bytes) -> None:
    """Best effort: a read-only or full disk only costs the next process the LZMA unpacking again."""
    try:
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".langid-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(raw)
            os.replace(tmp, cache)
        finally:
            Path(tmp).unlink(missing_ok=True)
        for stale in cache.parent.glob("langid-*.npz"):  # another py3langid's model: never read again
            if stale != cache:
                stale.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("language model cache not written to %s: %s", cache.parent, exc)


def load(cache_dir: Path | None = None) -> None:
    """Install py3langid's identifier from the cache (written on first use) unless one is loaded already."""
    from py3langid import langid

    if langid.IDENTIFIER is not None:
        return
    from streams.pipeline.dictionary import default_cache_dir

    source = langid.MODEL_DIR / langid.MODEL_FILE
    try:
        cache = _cache_file(cache_dir or default_cache_dir(), source)
        if cache.is_file() and _private(cache):
            try:
                langid.IDENTIFIER = _identifier(cache)
                return
            except Exception as exc:  # a truncated or foreign file: written again below
                log.warning("language model cache %s unreadable (%s); rewriting it", cache, exc)
        raw = lzma.decompress(source.read_bytes())
        langid.IDENTIFIER = _identifier(io.BytesIO(raw))
        _write(cache, raw)
    except Exception as exc:  # a damaged cache or another py3langid layout: py3langid loads its model itself
        log.warning("language model not loaded from the cache (%s); py3langid loads it", exc)
