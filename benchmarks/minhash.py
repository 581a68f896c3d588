"""The MinHash signature's own cost, before and after the change of scheme, measured in one run (issue 15).

    python benchmarks/minhash.py [--rounds 7] [--repeat 200] [--step-repeat 10] [PATH ...]

"before" is the signature as the entities step computed it until migration 0013 (scheme sha1-affine32-w3-126:
sha1 of every word 3-gram, datasketch's 126 affine permutations), kept below only to be measured; "after" is
`streams.pipeline.stages.stories.signature` (scheme oph1-w3-126). Both get the normalized text, as in the step.
The two alternate round by round and CPU time (time.process_time) is counted, so other processes on a shared
machine weigh on both alike: compare the ratio of one run, not figures across runs. Then the whole entities step
the same way, once with each signature in its place (everything else in the step is the same code).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from hashlib import sha1
from operator import methodcaller
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import streams.pipeline.steps as steps  # noqa: E402
from streams.inputs.paths import iter_documents  # noqa: E402
from streams.pipeline.arabic import normalize_with_map  # noqa: E402
from streams.pipeline.dictionary import ActorDictionary  # noqa: E402
from streams.pipeline.offline import raw_page  # noqa: E402
from streams.pipeline.stages import Rejected  # noqa: E402
from streams.pipeline.stages.clean import CleanLimits  # noqa: E402
from streams.pipeline.stages.stories import NUM_PERM, SCHEME, signature  # noqa: E402
from streams.pipeline.steps import clean_step, entities_step  # noqa: E402

_WORD = re.compile(r"\w+")
_DIGEST = methodcaller("digest")


def _legacy_permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.RandomState(1)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_A, _B = _legacy_permutations(NUM_PERM)


def legacy_signature(normalized: str) -> list[int]:
    """The code the entities step ran before 0013 (its datasketch-equal values), for the "before" figure only."""
    words = _WORD.findall(normalized)
    grams = ([" ".join(words)] if len(words) <= 3
             else [f"{x} {y} {z}" for x, y, z in zip(words, words[1:], words[2:], strict=False)])
    digests = b"".join([d[:4] for d in map(_DIGEST, map(sha1, map(str.encode, grams)))])
    hv = np.frombuffer(digests, dtype="<u4").astype(np.uint32)
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    hv = hv ^ (hv >> np.uint32(16))
    return (hv[:, None] * _A + _B).min(axis=0).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=[str(ROOT / "samples" / "corpus")])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds of before and after")
    parser.add_argument("--repeat", type=int, default=200, help="times each round signs every article")
    parser.add_argument("--step-repeat", type=int, default=10, help="times each round runs the step on every article")
    args = parser.parse_args()

    limits = CleanLimits()
    articles = []
    for doc in iter_documents(args.paths, max_bytes=limits.max_page_bytes):
        if doc.body is None:
            continue
        try:
            articles.append(clean_step(raw_page(doc), limits))
        except Rejected:
            pass
    texts = [a.text for a in articles]
    normalized = [normalize_with_map(t)[0] for t in texts]
    words = sum(len(_WORD.findall(n)) for n in normalized) / len(normalized)
    print(f"{len(texts)} articles (mean {sum(map(len, texts)) / len(texts):.0f} characters, {words:.0f} words); "
          f"{args.rounds} alternating rounds of {args.repeat} x {len(texts)} signatures, CPU time\n")

    runs = {"before (sha1-affine32-w3-126)": legacy_signature,
            f"after ({SCHEME})": lambda n: signature("", normalized=n)}
    for sign in runs.values():  # warm-up: tables built on first use
        for n in normalized:
            sign(n)
    per_article: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(args.rounds):
        for name, sign in runs.items():
            start = time.process_time()
            for _ in range(args.repeat):
                for n in normalized:
                    sign(n)
            per_article[name].append((time.process_time() - start) / (args.repeat * len(normalized)))
        before, after = (per_article[name][-1] for name in runs)
        print(f"round {r + 1}: before {before * 1e6:6.1f} us   after {after * 1e6:6.1f} us   "
              f"ratio {before / after:5.1f}x")
    print()
    for name, seconds in per_article.items():
        median = statistics.median(seconds)
        print(f"{name:32} median {median * 1e6:7.1f} us per article  {1 / median:9.0f} articles/s of CPU time")
    ratios = [b / a for b, a in zip(*per_article.values(), strict=True)]
    print(f"median ratio before/after: {statistics.median(ratios):.1f}x "
          f"(min {min(ratios):.1f}x, max {max(ratios):.1f}x)")

    print(f"\nthe whole entities step with each signature, {args.rounds} alternating rounds of {args.step_repeat} x "
          f"{len(articles)} articles, CPU time")
    dictionary = ActorDictionary.load()
    shipped = steps.signature
    with_signature = {"before": lambda text, normalized=None: legacy_signature(normalized), "after": shipped}
    step_us: dict[str, list[float]] = {name: [] for name in with_signature}
    try:
        for a in articles:  # warm-up: the recognizer's model and per-word score blocks
            entities_step(a, dictionary)
        for r in range(args.rounds):
            for name, sign in with_signature.items():
                steps.signature = sign  # type: ignore[assignment]
                start = time.process_time()
                for _ in range(args.step_repeat):
                    for a in articles:
                        entities_step(a, dictionary)
                step_us[name].append((time.process_time() - start) / (args.step_repeat * len(articles)) * 1e6)
            print(f"round {r + 1}: step with before {step_us['before'][-1]:6.0f} us   with after "
                  f"{step_us['after'][-1]:6.0f} us   ratio {step_us['before'][-1] / step_us['after'][-1]:4.2f}x")
    finally:
        steps.signature = shipped
    before, after = statistics.median(step_us["before"]), statistics.median(step_us["after"])
    print(f"step median: with before {before:.0f} us ({1e6 / before:.0f} articles/s of CPU time), with after "
          f"{after:.0f} us ({1e6 / after:.0f} articles/s); saved {before - after:.0f} us per article")


if __name__ == "__main__":
    main()
