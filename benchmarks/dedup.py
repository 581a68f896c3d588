"""Near-duplicate stories: precision/recall on labeled pairs, the parameter sweep, lookup rate, memory.

    python benchmarks/dedup.py [--seeds DIR] [--index-size N]

Pairs come from benchmarks/dedup_pairs.py (seed articles + the edits of the issue, seeded). Every figure for
the chosen parameters goes through the real code path: `signature` (entities stage) and `assign_story`
(stories stage) on a fresh index holding the first article of the pair. Targets: precision >= 0.97,
recall >= 0.95, lookup >= 5,000 articles/s.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_pairs import DEFAULT_SEEDS, Pair, build_pairs, seed_articles  # noqa: E402
from schemas.records import Article  # noqa: E402
from streams.pipeline.arabic import fingerprint_text  # noqa: E402
from streams.pipeline.stages import stories  # noqa: E402
from streams.pipeline.dictionary import ActorDictionary  # noqa: E402
from streams.pipeline.stages.entities import extract_mentions  # noqa: E402
from streams.pipeline.stages.stories import StoryIndex, assign_story, lead_persons, shingles, signature  # noqa: E402

DAY = datetime(2016, 11, 24, tzinfo=timezone.utc)


def article(article_id: str, text: str, published_at: datetime = DAY) -> Article:
    return Article(article_id=article_id, source="bench", url=None, canonical_url=None, site="s", title=text[:40],
                   text=text, lang="ar", published_at=published_at, published_source="metadata", fetched_at=None,
                   charset="utf-8", fingerprint=hashlib.sha256(fingerprint_text(text).encode()).hexdigest())


def scores(labels: list[bool], predicted: list[bool]) -> tuple[float, float]:
    tp = sum(p and l for p, l in zip(predicted, labels))
    fp = sum(p and not l for p, l in zip(predicted, labels))
    fn = sum(l and not p for p, l in zip(predicted, labels))
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def sweep(pairs: list[Pair]) -> None:
    """Exact Jaccard per kind, then MinHash+LSH decisions for shingle sizes, signature sizes and thresholds."""
    labels = [p.duplicate for p in pairs]
    light = [p.duplicate and not p.heavy for p in pairs]
    print("\nexact Jaccard of word-shingle sets, by kind (min / median):")
    kinds = sorted({p.kind for p in pairs})
    print(f"  {'kind':38s}" + "".join(f"   k={k}      " for k in (2, 3, 4, 5)))
    for kind in kinds:
        row = []
        for k in (2, 3, 4, 5):
            js = [len(a & b) / len(a | b) for p in pairs if p.kind == kind
                  for a, b in [(shingles(p.a, k), shingles(p.b, k))]]
            row.append(f"{min(js):.2f} / {np.median(js):.2f}")
        print(f"  {kind:38s}" + "".join(f"  {r:11s}" for r in row))

    print("\nMinHash + LSH sweep: precision / recall (all duplicates) / recall (light edits) / heavy missed")
    for k in (2, 3, 4):
        for num_perm, bands, rows in ((128, 64, 2), (126, 42, 3), (128, 32, 4), (128, 16, 8), (256, 64, 4)):
            sigs = [(np.array(signature(p.a, num_perm, k)), np.array(signature(p.b, num_perm, k))) for p in pairs]
            collide = [any((a[i * rows:(i + 1) * rows] == b[i * rows:(i + 1) * rows]).all() for i in range(bands))
                       for a, b in sigs]
            estimate = [float(np.mean(a == b)) for a, b in sigs]
            for threshold in (0.2, 0.25, 0.3, 0.4):
                predicted = [c and e >= threshold for c, e in zip(collide, estimate)]
                precision, recall = scores(labels, predicted)
                _, recall_light = scores([l for l in light], [p and not q.heavy for p, q in zip(predicted, pairs)])
                heavy_missed = sum(1 for p, q in zip(predicted, pairs) if q.heavy and not p) / sum(q.heavy for q in pairs)
                chosen = (k, num_perm, bands, rows, threshold) == (stories.SHINGLE_WORDS, stories.NUM_PERM,
                                                                   stories.BANDS, stories.ROWS, stories.THRESHOLD)
                print(f"  k={k} perm={num_perm:3d} b={bands:2d} r={rows} t={threshold:.2f}:  "
                      f"P={precision:.3f} R={recall:.3f} R_light={recall_light:.3f} heavy_missed={heavy_missed:.2f}"
                      + ("   <- chosen" if chosen else ""))


def persons_of(text: str, dictionary: ActorDictionary) -> tuple[str, ...]:
    return lead_persons(extract_mentions(text, dictionary))


def evaluate(pairs: list[Pair], dictionary: ActorDictionary, second_signal: bool) -> None:
    """The shipped parameters through the real code path: signature() then assign_story() on a fresh index;
    with `second_signal`, the lead persons of each text (entities stage) go along, as in the pipeline."""
    predicted = []
    for i, p in enumerate(pairs):
        index = StoryIndex()
        first = article(f"a{i}", p.a)
        persons_a, persons_b = (persons_of(p.a, dictionary), persons_of(p.b, dictionary)) if second_signal else ((), ())
        assign_story(first, signature(p.a), index, persons_a)
        predicted.append(assign_story(article(f"b{i}", p.b), signature(p.b), index, persons_b).duplicate_of
                         == first.article_id)
    labels = [p.duplicate for p in pairs]
    precision, recall = scores(labels, predicted)
    light = [(l, q) for l, q, p in zip(labels, predicted, pairs) if not p.heavy]
    _, recall_light = scores([l for l, _ in light], [q for _, q in light])
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for p, q in zip(pairs, predicted):
        by_kind[p.kind].append(q == p.duplicate)
    print(f"\nshipped: k={stories.SHINGLE_WORDS} num_perm={stories.NUM_PERM} bands={stories.BANDS} "
          f"rows={stories.ROWS} threshold={stories.THRESHOLD}"
          + (f", second signal (lead persons, {stories.SECOND_DAYS} days, {stories.SECOND_THRESHOLD})"
             if second_signal else ", LSH only")
          + f"  ({sum(labels)} duplicate pairs, "
          f"{len(labels) - sum(labels)} distinct pairs)")
    print(f"  precision {precision:.3f}   recall {recall:.3f}   recall on light edits {recall_light:.3f}")
    heavy = [p.duplicate == q for p, q in zip(pairs, predicted) if p.heavy]
    print(f"  heavy rewrites missed: {heavy.count(False)}/{len(heavy)} = {heavy.count(False) / len(heavy):.2f}")
    for kind, ok in sorted(by_kind.items()):
        print(f"    {kind:40s} correct {sum(ok)}/{len(ok)}")


def second_signal_thresholds(pairs: list[Pair], dictionary: ActorDictionary, seeds: Path, n_texts: int = 2000) -> None:
    """Where SECOND_THRESHOLD comes from: what each threshold recovers on the labeled pairs, against how similar
    distinct same-domain texts naming the same person get (bigram-chain texts: each one's best same-person match)."""
    persons = [(persons_of(p.a, dictionary), persons_of(p.b, dictionary)) for p in pairs]
    sigs = [(signature(p.a), signature(p.b)) for p in pairs]
    texts = synthetic_texts(n_texts, seeds)
    chain_persons = [set(persons_of(t, dictionary)) for t in texts]
    chain = np.array([signature(t) for t in texts], dtype=np.uint32)
    best = np.zeros(len(texts))
    for i, who in enumerate(chain_persons):
        others = [j for j, other in enumerate(chain_persons) if j != i and who & other]
        if others:
            best[i] = (np.count_nonzero(chain[others] == chain[i], axis=1) / chain.shape[1]).max()
    print(f"\nsecond signal: best same-person similarity among {n_texts:,} bigram-chain texts: "
          f"median {np.median(best):.3f}, 99th percentile {np.percentile(best, 99):.3f}, max {best.max():.3f}")
    for threshold in (0.10, 0.12, 0.15, 0.17):
        predicted = []
        for i, (p, (sa, sb), (pa, pb)) in enumerate(zip(pairs, sigs, persons)):
            index = StoryIndex(second_threshold=threshold)
            assign_story(article(f"a{i}", p.a), sa, index, pa)
            predicted.append(assign_story(article(f"b{i}", p.b), sb, index, pb).duplicate_of == f"a{i}")
        precision, recall = scores([p.duplicate for p in pairs], predicted)
        heavy_missed = sum(1 for p, q in zip(pairs, predicted) if p.heavy and not q)
        print(f"  threshold {threshold:.2f}: pairs precision {precision:.3f} recall {recall:.3f}, heavy missed "
              f"{heavy_missed}; chain texts with a same-person text at or above it: {(best >= threshold).mean():.1%}")


def synthetic_texts(n: int, seeds: Path) -> list[str]:
    """Distinct same-domain articles: 250-word walks of a word-bigram chain over the seed articles, so they share
    the formulaic phrases real Lavrov stories share (more than real ones do: the chain knows 13 articles)."""
    rng = random.Random(7)
    follow: dict[str, list[str]] = defaultdict(list)
    starts = []
    for d in seed_articles(seeds):
        for para in d.paragraphs:
            words = para.split()
            starts.append(words[0])
            for a, b in zip(words, words[1:]):
                follow[a].append(b)
    out = []
    for _ in range(n):
        word, words = rng.choice(starts), []
        while len(words) < 250:
            words.append(word)
            word = rng.choice(follow[word]) if follow.get(word) and rng.random() > 0.08 else rng.choice(starts)
        out.append(" ".join(words))
    return out


def throughput(n: int, seeds: Path, configs: list[tuple[int, int, int, float]], dictionary: ActorDictionary) -> None:
    texts = synthetic_texts(n + 5000, seeds)
    persons = [persons_of(t, dictionary) for t in texts]
    sigs_by_k = {}
    for k in sorted({c[0] for c in configs}):
        t0 = time.perf_counter()
        perms = max(b * r for kk, b, r, _ in configs if kk == k)
        sigs_by_k[k] = [signature(t, num_perm=perms, shingle_words=k) for t in texts]
        print(f"\nsignature (entities stage, {perms} permutations, k={k}): "
              f"{len(texts) / (time.perf_counter() - t0):,.0f} articles/s")
    sigs = [signature(t) for t in texts[:9000]]
    # A month of news: the index spread over 30 days of publication, the lookups on its last days.
    step = timedelta(days=30) / n
    articles = [article(f"x{i}", t, DAY + step * i) for i, t in enumerate(texts)]
    named = Counter(person for who in persons[:n] for person in who)
    top, count = named.most_common(1)[0] if named else ("nobody", 0)
    print(f"index of {n:,} distinct articles over 30 days (bigram-chain texts over the seeds: they share more phrases "
          f"than real articles do, so 'matched' is an upper bound of false matches); {count / n:.0%} lead with {top}, "
          f"so the second signal compares one of those with ~{count * (2 * stories.SECOND_DAYS + 1) / 30:,.0f} articles")
    for k, bands, rows, threshold in configs:
        cut = [s[:bands * rows] for s in sigs_by_k[k]]  # a prefix of the permutations: as independent as any
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        index = StoryIndex(window=timedelta(days=3650), bands=bands, rows=rows, threshold=threshold)
        for a, s, who in zip(articles[:n], cut[:n], persons[:n]):
            assign_story(a, s, index, who)
        gc.collect()
        used = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
        tracemalloc.stop()
        candidates = sum(len(index.lsh.query(s)) for s in cut[n:n + 1000]) / 1000
        t0 = time.perf_counter()
        for s in cut[n:]:
            index.near(s)
        lsh_rate = 5000 / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for a, s, who in zip(articles[n:], cut[n:], persons[n:]):
            index.near(s, a.published_at, who)
        lookup_rate = 5000 / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for a, s, who in zip(articles[n:], cut[n:], persons[n:]):
            assign_story(a, s, index, who)
        rate = 5000 / (time.perf_counter() - t0)
        matched = sum(1 for e in index.entries.values() if e.assignment.duplicate_of)
        chosen = "  <- shipped" if (k, bands, rows, threshold) == (stories.SHINGLE_WORDS, stories.BANDS, stories.ROWS,
                                                                  stories.THRESHOLD) else ""
        print(f"  k={k} b={bands:2d} r={rows} t={threshold:.2f}: LSH lookup {lsh_rate:6,.0f}/s, "
              f"with the second signal {lookup_rate:6,.0f}/s, "
              f"{candidates:5.1f} candidates/lookup, assign+insert {rate:6,.0f}/s, {used / n:6,.0f} bytes/article, "
              f"{matched} matched{chosen}")

    # Eviction keeps memory bounded: a 30-day window over 90 days of a live stream holds about a third of it.
    now = [DAY]
    index = StoryIndex(window=timedelta(days=30), clock=lambda: now[0])
    for i, (a, s) in enumerate(zip(articles[:9000], sigs[:9000])):
        now[0] = DAY + timedelta(days=i / 100)
        assign_story(a.model_copy(update={"published_at": now[0]}), s, index)
    print(f"  eviction: 9,000 articles over 90 days, 30-day window -> {len(index):,} indexed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS)
    parser.add_argument("--index-size", type=int, default=50_000)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--shipped-only", action="store_true", help="index figures for the shipped parameters only")
    args = parser.parse_args()
    from samples import require_seeds

    pairs = build_pairs(require_seeds(args.seeds, "with --seeds"))
    if not args.no_sweep:
        sweep(pairs)
    dictionary = ActorDictionary.load()
    evaluate(pairs, dictionary, second_signal=False)
    evaluate(pairs, dictionary, second_signal=True)
    second_signal_thresholds(pairs, dictionary, args.seeds)
    configs = [(3, 42, 3, 0.2), (3, 32, 4, 0.3), (3, 16, 8, 0.3), (2, 32, 4, 0.25)]
    throughput(args.index_size, args.seeds, configs[:1] if args.shipped_only else configs, dictionary)


if __name__ == "__main__":
    main()
