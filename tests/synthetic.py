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
