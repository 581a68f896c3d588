"""Real Arabic news pages (../shared/realpages): the clean stage next to plain trafilatura, on hand-checked truth.

    python benchmarks/realpages.py [--dir ../shared/realpages] [--dictionary PATH] [-v]

Per page, from manifest.json: the visible headline (exact), the first and last body sentence (kept), chrome
strings (none in the text), the publication day the page states, and the well-known persons the body names
(found by the entities stage over the body: dictionary mentions and candidate persons). Plain trafilatura is `trafilatura.bare_extraction` on the same
bytes (its title, text and date). The pages are read from ../shared, never copied into this repository.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.pipeline.dictionary import ActorDictionary  # noqa: E402
from streams.pipeline.stages import Rejected  # noqa: E402
from streams.pipeline.stages.candidates import find_candidates  # noqa: E402
from streams.pipeline.stages.clean import CleanLimits, clean_page  # noqa: E402
from streams.pipeline.stages.entities import extract_mentions  # noqa: E402


def _squash(text: str) -> str:
    return " ".join((text or "").split())


def chrome_leaks(entry: dict, text: str) -> list[str]:
    """Chrome strings found in the text; a short label ("إعلان") counts only as a line of its own."""
    flat, lines = _squash(text), {_squash(line) for line in text.splitlines()}
    leaks = []
    for chrome in entry["chrome_samples"] + entry["in_body_chrome"]:
        chrome = _squash(chrome)
        if (chrome in lines) if len(chrome.split()) <= 2 else (chrome in flat):
            leaks.append(chrome)
    return leaks


def run_clean(html: bytes, entry: dict) -> tuple[str, str, str | None, str | None]:
    """(title, body, local publication day, why it was rejected)."""
    try:
        article = clean_page(html, url=entry["url"], source=entry["file"], limits=CleanLimits())
    except Rejected as exc:
        return "", "", None, str(exc)
    body = article.text.split("\n", 1)[1] if "\n" in article.text else ""
    return article.title, body, local_day(article), None


def local_day(article) -> str:
    """The day the page states: the UTC time moved to the page's own zone."""
    return article.published_local().date().isoformat()


def run_plain(html: bytes, entry: dict) -> tuple[str, str, str | None]:
    doc = trafilatura.bare_extraction(html, url=entry["url"], with_metadata=True, output_format="python")
    if doc is None:
        return "", "", None
    return doc.title or "", doc.text or "", (doc.date or "")[:10] or None


def person_surfaces(body: str, dictionary: ActorDictionary) -> set[str]:
    """The surfaces of the person mentions the entities stage finds in the body: dictionary actors and
    candidate persons (a name after a title the dictionary lacks)."""
    known = [m for m in extract_mentions(body, dictionary) if m.type == "person"]
    return {m.surface for m in known} | {m.surface for m in find_candidates(body, known)}


def persons_ok(entry: dict, found: set[str]) -> bool:
    """Every listed person is found, by its full name or a longer surface holding it."""
    return all(any(person in surface for surface in found) for person in entry["persons"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=ROOT.parent / "shared" / "realpages")
    parser.add_argument("--dictionary", type=Path, help="actor dictionary (default: the bundled one)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each failed check")
    args = parser.parse_args()
    if not (args.dir / "manifest.json").is_file():
        sys.exit(f"realpages: no manifest.json in {args.dir} (the shared real pages are not on this machine)")
    manifest = json.loads((args.dir / "manifest.json").read_text(encoding="utf-8"))
    if args.dictionary is not None and not args.dictionary.exists():
        sys.exit(f"realpages: no actor dictionary at {args.dictionary}")
    dictionary = ActorDictionary.load(args.dictionary)
    checks = ("title", "first", "last", "no chrome", "date", "persons")
    totals = {name: dict.fromkeys(checks, 0) for name in ("clean stage", "plain trafilatura")}
    leaks = {name: 0 for name in totals}
    seconds = {name: 0.0 for name in totals}
    for entry in manifest:
        html = (args.dir / entry["file"]).read_bytes()
        started = time.perf_counter()
        title, body, day, note = run_clean(html, entry)
        seconds["clean stage"] += time.perf_counter() - started
        started = time.perf_counter()
        p_title, p_body, p_day = run_plain(html, entry)
        seconds["plain trafilatura"] += time.perf_counter() - started
        persons, p_persons = person_surfaces(body, dictionary), person_surfaces(p_body, dictionary)
        for name, (t, b, d, ps) in {"clean stage": (title, body, day, persons),
                                    "plain trafilatura": (p_title, p_body, p_day, p_persons)}.items():
            found = chrome_leaks(entry, f"{t}\n{b}")
            result = {
                "title": _squash(t) == _squash(entry["title"]),
                "first": _squash(entry["body_first"]) in _squash(b),
                "last": _squash(entry["body_last"]) in _squash(b),
                "no chrome": not found,
                "date": d == entry["published"],
                "persons": persons_ok(entry, ps),
            }
            leaks[name] += len(found)
            for check, ok in result.items():
                totals[name][check] += ok
                if args.verbose and not ok:
                    detail = {"title": t, "date": d, "no chrome": found, "persons": sorted(ps)}.get(check, "")
                    print(f"  {entry['file']} {name}: {check} wrong {detail!r}"[:300])
        if note and args.verbose:
            print(f"  {entry['file']} clean stage {note}")
    n = len(manifest)
    print(f"real pages ({args.dir}): {n} pages")
    print(f"{'':<18} " + " ".join(f"{c:>10}" for c in checks) + f" {'leaks':>6} {'ms/page':>8}")
    for name in totals:
        print(f"{name:<18} " + " ".join(f"{totals[name][c]:>8}/{n}" for c in checks)
              + f" {leaks[name]:>6} {1000 * seconds[name] / n:>8.1f}")


if __name__ == "__main__":
    main()
