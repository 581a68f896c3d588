"""Actor dictionary start-up: compile time of the bundled dictionary without the cache, and load time from it.

    .venv/bin/python benchmarks/dictionary_load.py [--repeat 5] [PATH]

A worker loads the dictionary at start and at every edit (DictionaryWatcher); thousands of entries take seconds
to parse and compile, so the compiled form is cached by content (streams.pipeline.dictionary.default_cache_dir()).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.pipeline.dictionary import ActorDictionary  # noqa: E402


def timed(repeat: int, **kwargs) -> tuple[float, ActorDictionary]:
    seconds, dictionary = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        dictionary = ActorDictionary.load(**kwargs)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), dictionary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", help="dictionary file or directory (default: the bundled one)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cold, dictionary = timed(args.repeat, path=args.path, cache_dir=None)
    with tempfile.TemporaryDirectory() as cache:
        first, _ = timed(1, path=args.path, cache_dir=Path(cache))
        cached, again = timed(args.repeat, path=args.path, cache_dir=Path(cache))
    assert again.version == dictionary.version and set(again.actors) == set(dictionary.actors)
    print(f"dictionary: {len(dictionary.files)} file(s), {len(dictionary.actors)} actors, "
          f"{len(dictionary.alias_keys)} alias keys, version {dictionary.version}")
    print(f"compile (no cache), median of {args.repeat}: {cold * 1000:8.0f} ms")
    print(f"compile and write the cache:      {first * 1000:8.0f} ms")
    print(f"load from the cache, median of {args.repeat}: {cached * 1000:8.0f} ms")


if __name__ == "__main__":
    main()
