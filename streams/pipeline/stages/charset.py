"""Bytes to text: BOM, HTTP header, <meta> declaration, then detection (charset-normalizer)."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from streams.pipeline.stages import Rejected

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_MAGIC = (b"\x1f\x8b", b"\x89PNG", b"%PDF", b"PK\x03\x04", b"GIF8", b"\xff\xd8\xff", b"\x28\xb5\x2f\xfd", b"BZh")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_html(data: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (text, how) where `how` records the charset and where it came from, e.g. 'cp1256 (meta)'."""
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            return data.decode(bom_codec, errors="replace"), f"{bom_codec} (bom)"
    head = data[:1024]
    if head.startswith(_MAGIC) or b"\x00" in head:
        raise Rejected("binary", "NUL bytes or a binary file signature")
    declared: list[tuple[str, str]] = []
    if content_type and (m := _HEADER_CHARSET.search(content_type)):
        declared.append((m.group(1), "header"))
    if meta := _META_CHARSET.search(data[:4096]):
        declared.append((meta.group(1).decode("ascii", "replace"), "meta"))
    for name, origin in declared:
        enc = _codec(name)
        if enc is None:
            continue
        if enc != "utf-8":
            # A page saved as UTF-8 under a stale legacy declaration is common; valid UTF-8 is rarely accidental.
            try:
                text = data.decode("utf-8")
                if not text.isascii():
                    return text, f"utf-8 (valid utf-8 overrides {origin} {enc})"
            except UnicodeDecodeError:
                pass
        try:
            return data.decode(enc), f"{enc} ({origin})"
        except UnicodeDecodeError:
            continue
    try:
        return data.decode("utf-8"), "utf-8 (valid utf-8)"
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise Rejected("undecodable", "no charset decodes this page")
    return str(best), f"{_codec(best.encoding) or best.encoding} (detected)"
