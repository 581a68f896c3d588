"""Many distinct pages from the sample corpus, for crash, churn and load runs.

Page i is corpus page i % 8 with its canonical URL made unique, plus one sentence naming no actor,
so every page is its own article while the mentions stay those of the corpus.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson

CORPUS = Path(__file__).resolve().parents[1] / "samples" / "corpus"
_CANONICAL = re.compile(r'((?:rel="canonical" href|og:url" content)=")([^"]+)(")')


def _unique(url: str, i: int) -> str:
    path, sep, query = url.partition("?")
    return f"{path.rstrip('/')}/copy-{i}{sep}{query}"


def synthetic_pages(n: int) -> list[dict]:
    pages = sorted(CORPUS.glob("*.html"))
    bodies = [p.read_bytes().decode("utf-8", "replace") if "cp1256" not in p.name else None for p in pages]
    out = []
    for i in range(n):
        k = i % len(pages)
        if bodies[k] is None:
            k = (k + 1) % len(pages)
        html = _CANONICAL.sub(lambda m: f"{m.group(1)}{_unique(m.group(2), i)}{m.group(3)}", bodies[k])
        html = html.replace("</p>", f" وهذه النسخة رقم {i} من الخبر.</p>", 1)
        out.append({"url": f"https://load.example/{pages[k].stem}/copy-{i}", "html": html})
    return out


def write_jsonl(path: Path, pages: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in pages))
    return path


def write_broken_inputs(folder: Path) -> Path:
    """Inputs a crawler meets: binary, empty, 20 MB, truncated, mislabeled charset, 5,000-deep nesting,
    gzip bytes served as HTML, JSON, an entity bomb and an external entity (which must not be resolved)."""
    import gzip
    import random

    folder.mkdir(parents=True, exist_ok=True)
    good = (CORPUS / "01-rt-lavrov-west-signals.html").read_bytes()
    rng = random.Random(20)
    name = "سيرغي لافروف قال "
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">'
            + "".join(f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10))
            + "]><html><body><p>&lol9;</p></body></html>")
    xxe = ('<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><html><body>'
           f"<h1>تصريحات</h1><p>&xxe;</p><p>{name * 30}</p></body></html>")
    files = {
        "binary.bin": bytes(rng.getrandbits(8) for _ in range(20_000)),
        "empty.html": b"",
        "huge.html": b"<html><body><p>" + b"x" * 20_000_000 + b"</p></body></html>",
        "truncated.html": good[: len(good) // 3],
        # Under its own URL too: with the corpus article's URL it is that article, and which copy the warehouse
        # keeps would depend on the order the two were processed in.
        "mislabeled-charset.html": good.replace(b"utf-8", b"windows-1256").replace(b"UTF-8", b"windows-1256").replace(
            b"852123-lavrov-west-signals", b"852123-lavrov-west-signals-cp1256"),
        "nested.html": b"<html><body>" + b"<div>" * 5000 + (name * 50).encode() + b"</div>" * 5000 + b"</body></html>",
        # A compressed copy under its own URL, so it lands as an article of its own.
        "gzip.html": gzip.compress(good.replace(b"852123-lavrov-west-signals", b"852123-lavrov-west-signals-gz")),
        "data.json": b'{"title": "not a page", "items": [1, 2, 3]}',
        "entity-bomb.html": bomb.encode(),
        "external-entity.html": xxe.encode(),
    }
    for file_name, body in files.items():
        (folder / file_name).write_bytes(body)
    return folder
