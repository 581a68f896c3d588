"""Article-body quality and speed: the project's clean stage next to plain `trafilatura.extract`.

    python benchmarks/article_extraction.py /path/to/article-extraction-benchmark [--labeled samples/labeled]

The public set is scrapinghub/article-extraction-benchmark (html/*.html.gz + ground-truth.json; keep it
outside this repository). Its metric is ported from its evaluate.py: 4-token shingles, per-page TP/FP/FN
normalized to sum 1, precision and recall averaged over pages, F1 from those averages, exact-token accuracy,
and bootstrap standard deviations. Plain trafilatura is called exactly as the benchmark's own
extractors/run_trafilatura.py calls it (decoded UTF-8 text, include_comments=False); the clean stage gets the
page bytes, as it does in the pipeline, and its body (the text without the title line) is scored; a rejected
page scores as an empty body. The same two run on the labeled Arabic set, whose expected body is the label's.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.stages import Rejected  # noqa: E402
from streams.stages.clean import CleanLimits, clean_page  # noqa: E402

# --- the benchmark's metric (evaluate.py), unchanged in substance ---------------------------------

_TOKEN_RE = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)


def _tokenize(text: str) -> list[str]:
    return _TOKEN_RE.findall(text or "")


def _ngrams(text: str, n: int) -> list[tuple[str, ...]]:
    tokens = _tokenize(text)
    result = []
    for i in range(0, max(1, len(tokens) - n + 1)):
        shingle = tuple(tokens[i: i + n])
        if shingle:
            result.append(shingle)
    return result


def string_shingle_matching(true: str, pred: str, ngram_n: int = 4) -> tuple[float, float, float]:
    true_shingles, pred_shingles = Counter(_ngrams(true, ngram_n)), Counter(_ngrams(pred, ngram_n))
    tp = fp = fn = 0.0
    for key in set(true_shingles) | set(pred_shingles):
        t, p = true_shingles.get(key, 0), pred_shingles.get(key, 0)
        tp += min(t, p)
        fp += max(0, p - t)
        fn += max(0, t - p)
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s > 0 else (tp, fp, fn)


def precision_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fp == 0:
        return 0.0
    return tp / (tp + fp)


def recall_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fn == 0:
        return 0.0
    return tp / (tp + fn)


def metrics_from_tp_fp_fns(tp_fp_fns: list[tuple[float, float, float]]) -> dict[str, float]:
    precision = statistics.mean([precision_score(*x) for x in tp_fp_fns if x[0] + x[1] > 0])
    recall = statistics.mean([recall_score(*x) for x in tp_fp_fns if x[0] + x[2] > 0])
    return {"f1": 2 * precision * recall / (precision + recall), "precision": precision, "recall": recall}


def evaluate(truth: dict[str, str], prediction: dict[str, str], n_bootstrap: int, seed: int = 0) -> dict[str, float]:
    if truth.keys() != prediction.keys():
        raise ValueError("prediction keys do not match ground truth")
    tp_fp_fns = [string_shingle_matching(true=truth[k], pred=prediction[k]) for k in truth]
    accuracies = [float(_tokenize(truth[k]) == _tokenize(prediction[k])) for k in truth]
    metrics = metrics_from_tp_fp_fns(tp_fp_fns)
    metrics["accuracy"] = statistics.mean(accuracies)
    rng, samples = random.Random(seed), {}
    n = len(tp_fp_fns)
    for _ in range(n_bootstrap):
        idx = [rng.randint(0, n - 1) for _ in range(n)]
        for key, value in metrics_from_tp_fp_fns([tp_fp_fns[i] for i in idx]).items():
            samples.setdefault(key, []).append(value)
        samples.setdefault("accuracy", []).append(statistics.mean(accuracies[i] for i in idx))
    for key, values in samples.items():
        metrics[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return metrics


# --- the two extractors ----------------------------------------------------------------------------

def plain_trafilatura(page: bytes, as_utf8_text: bool) -> str:
    """As the benchmark's runner: UTF-8 text; on the labeled set (legacy charsets) trafilatura decodes the bytes."""
    return trafilatura.extract(page.decode("utf-8", "replace") if as_utf8_text else page, include_comments=False) or ""


def clean_stage(page: bytes, url: str | None) -> str:
    try:
        article = clean_page(page, url=url, source="benchmark", limits=CleanLimits())
    except Rejected:
        return ""
    return article.text.split("\n", 1)[1] if "\n" in article.text else ""


def run(pages: dict[str, tuple[bytes, str | None]], truth: dict[str, str], n_bootstrap: int, label: str,
        as_utf8_text: bool, repeat: int) -> None:
    """Score both extractors; time them page by page, alternating, best of `repeat` (a shared machine is noisy)."""
    extractors = {"plain trafilatura": lambda b, u: plain_trafilatura(b, as_utf8_text), "clean stage": clean_stage}
    predictions = {name: {} for name in extractors}
    best = {name: {} for name in extractors}
    for fn in extractors.values():
        fn(*next(iter(pages.values())))  # warm-up: imports, caches
    for _ in range(repeat):
        for key, (body, url) in pages.items():
            for name, fn in extractors.items():
                started = time.perf_counter()
                predictions[name][key] = fn(body, url)
                elapsed = time.perf_counter() - started
                best[name][key] = min(elapsed, best[name].get(key, elapsed))
    print(f"\n{label}: {len(pages)} pages")
    print(f"{'':<18} {'F1':<14} {'precision':<14} {'recall':<14} {'accuracy':<14} {'pages/s':>8}")
    for name in extractors:
        m, elapsed = evaluate(truth, predictions[name], n_bootstrap), sum(best[name].values())
        print(f"{name:<18} {m['f1']:.3f} ± {m['f1_std']:.3f}  {m['precision']:.3f} ± {m['precision_std']:.3f}  "
              f"{m['recall']:.3f} ± {m['recall_std']:.3f}  {m['accuracy']:.3f} ± {m['accuracy_std']:.3f}  "
              f"{len(pages) / elapsed:8.1f}")
    ratio = sum(best["clean stage"].values()) / sum(best["plain trafilatura"].values())
    print(f"clean stage time / plain trafilatura time: {ratio:.2f} (best of {repeat} per page)")


def load_benchmark(path: Path, limit: int | None) -> tuple[dict, dict]:
    ground = json.loads((path / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(ground)[:limit] if limit else sorted(ground)
    pages = {}
    for key in keys:
        with gzip.open(path / "html" / f"{key}.html.gz", "rb") as f:
            pages[key] = (f.read(), ground[key].get("url"))
    return pages, {key: ground[key].get("articleBody", "") for key in keys}


def load_labeled(path: Path) -> tuple[dict, dict]:
    pages, truth = {}, {}
    for html in sorted(path.glob("*.html")):
        label = json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
        pages[html.stem] = (html.read_bytes(), label["url"])
        truth[html.stem] = "\n".join(label["body"])
    return pages, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", type=Path, help="checkout of scrapinghub/article-extraction-benchmark")
    parser.add_argument("--labeled", type=Path, default=ROOT / "samples" / "labeled", help="the labeled Arabic set")
    parser.add_argument("--limit", type=int, help="only the first N benchmark pages")
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds; each page's best round counts")
    args = parser.parse_args()
    run(*load_benchmark(args.benchmark, args.limit), args.n_bootstrap,
        f"article-extraction-benchmark ({args.benchmark})", as_utf8_text=True,
        repeat=args.repeat)
    run(*load_labeled(args.labeled), args.n_bootstrap, f"labeled Arabic set ({args.labeled})", as_utf8_text=False,
        repeat=args.repeat)


if __name__ == "__main__":
    main()
