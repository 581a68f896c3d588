"""Documents per second for each stage alone (the entities step: dictionary matching, the named-entity
recognizer, linking, title patterns and MinHash) and for the whole offline path, person-mention precision and
recall on the labeled set (samples/labeled/mentions.json), and peak memory.

    python benchmarks/throughput.py [--repeat 20] [PATH ...]

Figures vary with the machine and its load: compare ratios from one run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from streams.pipeline.dictionary import ActorDictionary  # noqa: E402
from streams.ops.evaluation import evaluate  # noqa: E402
from streams.inputs.paths import iter_documents  # noqa: E402
from streams.pipeline.offline import process_documents, raw_page  # noqa: E402
from streams.pipeline.stages import Rejected  # noqa: E402
from streams.pipeline.stages.clean import CleanLimits  # noqa: E402
from streams.pipeline.stages.entities import extract_mentions  # noqa: E402
from streams.pipeline.arabic import normalize_with_map  # noqa: E402
from streams.pipeline.stages.stories import SCHEME, StoryIndex, signature  # noqa: E402
from streams.pipeline.ner.model import shipped as shipped_recognizer  # noqa: E402
from streams.pipeline.steps import clean_step, entities_many, entities_step, story_step  # noqa: E402
from streams.collector import set_thresholds  # noqa: E402
from streams.settings import Settings  # noqa: E402


def rate(label: str, n: int, seconds: float) -> None:
    print(f"{label:<38} {n:>6} docs  {seconds:8.3f} s  {n / seconds:10.1f} docs/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=[str(ROOT / "samples" / "corpus")])
    parser.add_argument("--repeat", type=int, default=20, help="times the input set is repeated")
    parser.add_argument("--step-rounds", type=int, default=5,
                        help="rounds of the batched entities step; the best (least CPU) is reported")
    args = parser.parse_args()
    set_thresholds()  # the garbage collector as every newsstream command sets it

    limits = CleanLimits()
    docs = list(iter_documents(args.paths, max_bytes=limits.max_page_bytes)) * args.repeat
    pages = [raw_page(d) for d in docs if d.body is not None]
    load_start = time.perf_counter()
    dictionary = ActorDictionary.load()
    load_seconds = time.perf_counter() - load_start
    print(f"{len(pages)} pages ({len(pages) // args.repeat} distinct x {args.repeat}); "
          f"dictionary {len(dictionary.actors)} actors, compiled in {load_seconds * 1000:.0f} ms\n")

    clean_step(pages[0], limits)  # warm-up: the language model loads on first use
    start = time.perf_counter()
    for page in pages:
        trafilatura.extract(page.body())
    rate("plain trafilatura.extract (reference)", len(pages), time.perf_counter() - start)

    start = time.perf_counter()
    articles = []
    for page in pages:
        try:
            articles.append(clean_step(page, limits))
        except Rejected:
            pass
    rate("clean", len(pages), time.perf_counter() - start)

    texts = [a.text for a in articles] * 10  # matching is fast: more rounds for a steadier figure
    start = time.perf_counter()
    for text in texts:
        extract_mentions(text, dictionary)
    matching = time.perf_counter() - start
    rate("entities: matching alone", len(texts), matching)

    recognizer = shipped_recognizer()
    for text in texts[:len(articles)]:  # warm-up: each distinct word's score block is computed once, then cached
        recognizer.recognize(text)
    start = time.perf_counter()
    for text in texts:
        recognizer.recognize(text)
    recognizing = time.perf_counter() - start
    rate("entities: recognizer alone", len(texts), recognizing)

    normalized = [normalize_with_map(text)[0] for text in texts]  # the step hands the signature its normal form
    signature(texts[0], normalized=normalized[0])  # warm-up: its tables are built on first use
    start = time.process_time()
    for text, norm in zip(texts, normalized, strict=True):
        signature(text, normalized=norm)
    signing = time.process_time() - start
    rate("entities: MinHash signature alone, CPU", len(texts), signing)

    step_articles = articles * 10
    start, cpu_start = time.perf_counter(), time.process_time()
    extracted = [entities_step(a, dictionary) for a in step_articles]
    single, single_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rate("entities: step, one article a call", len(step_articles), single)
    # As the worker and `process` run it: entities_many over batches (a worker's batch is the events waiting, up to
    # this size; process's batches are full).
    # The best of several rounds: on a shared machine a round can run at half speed (other tenants).
    size = Settings().entities_batch_size
    batches = [step_articles[i:i + size] for i in range(0, len(step_articles), size)]
    rounds = []
    for _ in range(args.step_rounds):
        start, cpu_start = time.perf_counter(), time.process_time()
        for batch in batches:
            entities_many(batch, dictionary)
        rounds.append((time.perf_counter() - start, time.process_time() - cpu_start))
    step, step_cpu = min(rounds, key=lambda r: r[1])
    rate(f"entities: step, batches of {size}", len(step_articles), step)
    rate(f"entities: step, batches of {size}, CPU", len(step_articles), step_cpu)
    print(f"  (best of {len(rounds)} rounds; CPU us an article each round: "
          + ", ".join(f"{cpu / len(step_articles) * 1e6:.0f}" for _, cpu in rounds) + ")")
    extracted = extracted[:len(articles)]

    start = time.perf_counter()
    index = StoryIndex()
    for item in extracted:
        story_step(item, index)
    rate("stories", len(extracted), time.perf_counter() - start)

    start = time.perf_counter()
    n = sum(1 for _ in process_documents(docs, limits=limits, dictionary=dictionary))
    rate("whole offline path (process)", n, time.perf_counter() - start)

    quality = evaluate(dictionary)
    print(f"\nperson mentions on the labeled set ({quality.articles} articles, {quality.labeled} labeled mentions): "
          f"precision {quality.precision:.3f}, recall {quality.recall:.3f}; chrome leaks: {len(quality.chrome_leaks)}")
    for article, actor, found, labeled in quality.errors:
        print(f"  {article}: {actor} found {found}, labeled {labeled}")
    chars = sum(len(a.text) for a in articles) / max(1, len(articles))
    print(f"matching alone: {len(texts) / matching:.0f} articles/s on one core (mean {chars:.0f} characters; "
          f"target >= 2000)")
    print(f"entities step (matching, recognizer {recognizer.version}, linking, title patterns, MinHash), in batches of "
          f"{size} as the pipeline runs it: {len(step_articles) / step:.0f} articles/s on one core (target >= 1500); "
          f"{len(step_articles) / step_cpu:.0f} articles/s of CPU time ({step_cpu / len(step_articles) * 1e6:.0f} us "
          f"an article); one article a call: {len(step_articles) / single_cpu:.0f} articles/s of CPU time")
    print(f"MinHash signature alone ({SCHEME}): {len(texts) / signing:.0f} articles/s of CPU time "
          f"({signing / len(texts) * 1e6:.0f} us per article)")

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\npeak memory (max RSS): {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
