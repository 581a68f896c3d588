"""Article-body quality and speed: the project's clean stage next to plain `trafilatura.extract`.

    python benchmarks/article_extraction.py /path/to/article-extraction-benchmark [--labeled samples/labeled]
    python benchmarks/article_extraction.py --wcxb /path/to/wcxb [--limit N]

The public set is scrapinghub/article-extraction-benchmark (html/*.html.gz + ground-truth.json; keep it
outside this repository). Its metric is ported from its evaluate.py: 4-token shingles, per-page TP/FP/FN
normalized to sum 1, precision and recall averaged over pages, F1 from those averages, exact-token accuracy,
and bootstrap standard deviations. Plain trafilatura is called exactly as the benchmark's own
extractors/run_trafilatura.py calls it (decoded UTF-8 text, include_comments=False); the clean stage gets the
page bytes, as it does in the pipeline, and its body (the text without the title line) is scored; a rejected
page scores as an empty body. The same two run on the labeled Arabic set, whose expected body is the label's.

--wcxb scores the article pages of the WCXB dev split (Murrough-Foley/web-content-extraction-benchmark, dev/,
CC-BY-4.0; keep it outside this repository) with its own word-level F1, plus exact titles, publication days and
pages cut after their intro (recall < 0.2 at precision >= 0.8) or rejected.
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

from streams.pipeline.stages import Rejected  # noqa: E402
from streams.pipeline.stages.clean import CleanLimits, clean_page  # noqa: E402

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


# --- WCXB (dev split, article pages) ---------------------------------------------------------------

_WORD_RE = re.compile(r"\w+")


def word_prf(predicted: str, reference: str) -> tuple[float, float, float]:
    """WCXB's evaluate.py word_f1: bag-of-words precision, recall, F1 over lower-cased \\w+ tokens."""
    pred, ref = Counter(_WORD_RE.findall(predicted.lower())), Counter(_WORD_RE.findall(reference.lower()))
    if not ref:
        return (1.0, 1.0, 1.0) if not pred else (0.0, 0.0, 0.0)
    if not pred:
        return 0.0, 0.0, 0.0
    overlap = sum((pred & ref).values())
    p, r = overlap / sum(pred.values()), overlap / sum(ref.values())
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def load_wcxb(path: Path, limit: int | None) -> list[tuple[str, bytes, dict]]:
    """(file id, page bytes, ground truth with url) for the dev split's article pages."""
    pages = []
    for gt_file in sorted((path / "dev" / "ground-truth").glob("*.json")):
        data = json.loads(gt_file.read_text(encoding="utf-8"))
        kind = (data.get("_internal") or {}).get("page_type") or {}
        if (kind.get("primary") if isinstance(kind, dict) else kind) != "article":
            continue
        with gzip.open(path / "dev" / "html" / f"{gt_file.stem}.html.gz", "rb") as f:
            pages.append((gt_file.stem, f.read(), {**data["ground_truth"], "url": data.get("url")}))
        if limit and len(pages) >= limit:
            break
    return pages


def _wcxb_clean(page: bytes, url: str | None) -> tuple[str, str, str | None, str | None]:
    try:
        article = clean_page(page, url=url, source="benchmark", limits=CleanLimits())
    except Rejected as exc:
        return "", "", None, exc.reason
    body = article.text.split("\n", 1)[1] if "\n" in article.text else ""
    day = article.published_local().date().isoformat()
    return article.title, body, day if article.published_source != "fetched" else None, None


def _wcxb_plain(page: bytes, url: str | None) -> tuple[str, str, str | None, str | None]:
    doc = trafilatura.bare_extraction(page.decode("utf-8", "replace"), url=url, with_metadata=True,
                                      include_comments=False)
    if doc is None:
        return "", "", None, "nothing"
    return doc.title or "", doc.text or "", (doc.date or "")[:10] or None, None


def run_wcxb(pages: list[tuple[str, bytes, dict]], verbose: bool) -> None:
    extractors = {"plain trafilatura": _wcxb_plain, "clean stage": _wcxb_clean}
    print(f"\nWCXB dev split, article pages: {len(pages)}")
    print(f"{'':<18} {'F1':>6} {'prec':>6} {'recall':>6} {'titles':>7} {'dates':>7} {'cut':>4} {'rejected':>8} {'pages/s':>8}")
    for name, fn in extractors.items():
        scores, titles, dated, days, cut, rejected, elapsed = [], 0, 0, 0, [], [], 0.0
        for key, page, truth in pages:
            started = time.perf_counter()
            title, body, day, why = fn(page, truth["url"])
            elapsed += time.perf_counter() - started
            p, r, f = word_prf(body, truth.get("main_content") or "")
            scores.append((p, r, f))
            titles += " ".join(title.split()).lower() == " ".join((truth.get("title") or "").split()).lower()
            if truth.get("publish_date"):
                dated += 1
                days += day == str(truth["publish_date"])[:10]
            if why:
                rejected.append(f"{key}:{why}")
            elif r < 0.2 and p >= 0.8:
                cut.append(key)
        n = len(pages)
        mean = [statistics.mean(s[i] for s in scores) for i in range(3)]
        print(f"{name:<18} {mean[2]:6.3f} {mean[0]:6.3f} {mean[1]:6.3f} {titles:>4}/{n} {days:>3}/{dated} "
              f"{len(cut):>4} {len(rejected):>8} {n / elapsed:8.1f}")
        if verbose:
            print(f"  cut after intro: {cut}\n  rejected: {rejected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", type=Path, nargs="?", help="checkout of scrapinghub/article-extraction-benchmark")
    parser.add_argument("--wcxb", type=Path, help="checkout of the WCXB benchmark: score its dev article pages instead")
    parser.add_argument("-v", "--verbose", action="store_true", help="WCXB: list the cut and rejected pages")
    parser.add_argument("--labeled", type=Path, default=ROOT / "samples" / "labeled", help="the labeled Arabic set")
    parser.add_argument("--limit", type=int, help="only the first N benchmark pages")
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds; each page's best round counts")
    args = parser.parse_args()
    if args.wcxb:
        if not (args.wcxb / "dev" / "ground-truth").is_dir():
            parser.error(f"{args.wcxb}: no dev/ground-truth folder (a WCXB checkout holds dev/ and test/)")
        run_wcxb(load_wcxb(args.wcxb, args.limit), args.verbose)
        return
    if args.benchmark is None:
        parser.error("give the article-extraction-benchmark checkout, or --wcxb DIR")
    run(*load_benchmark(args.benchmark, args.limit), args.n_bootstrap,
        f"article-extraction-benchmark ({args.benchmark})", as_utf8_text=True,
        repeat=args.repeat)
    run(*load_labeled(args.labeled), args.n_bootstrap, f"labeled Arabic set ({args.labeled})", as_utf8_text=False,
        repeat=args.repeat)


if __name__ == "__main__":
    main()
