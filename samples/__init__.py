"""The bundled samples, installed as package data so `newsstream demo` and the evaluation run from any install.

- `corpus/`: Arabic news pages in several site templates (the demo's input).
- `bad/`: broken pages, each rejected for its own reason.
- `labeled/`: hand-labeled pages and `mentions.json`, for the extraction and mention evaluations.
`make_corpus.py` and `make_labeled.py` rebuild them from ../shared/seeds (not shipped).
"""

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent
CORPUS_DIR = SAMPLES_DIR / "corpus"
BAD_DIR = SAMPLES_DIR / "bad"
LABELED_DIR = SAMPLES_DIR / "labeled"


def require_seeds(seeds: Path, how: str = "as the first argument") -> Path:
    """The seed pages the generators start from (../shared/seeds, third-party text never copied into the repo);
    absent: a clear message and exit status 2 instead of a traceback."""
    import sys

    if not seeds.is_dir() or not any(seeds.glob("*.txt")):
        print(f"no seed pages in {seeds}: these scripts need the shared seeds (../shared/seeds from the repository "
              f"root); pass their folder {how}", file=sys.stderr)
        raise SystemExit(2)
    return seeds
