"""Score per module and the surviving mutants of the last mutmut run (benchmarks/mutation.sh), from mutants/.

mutmut keeps one verdict per mutant in mutants/<module>.py.meta; each mutant is a copy of one function in
mutants/<module>.py, so a survivor is shown as the line(s) it changed. Killed = the tests failed (or timed out,
or crashed); the score is killed / (killed + survived + no tests); "not checked" mutants are counted apart.

    .venv/bin/python benchmarks/mutation_report.py [--sample FRACTION] [--survivors FILE]
    .venv/bin/python benchmarks/mutation_report.py --sample 0.25 --names     # the sample's mutant names, for mutmut
    .venv/bin/python benchmarks/mutation_report.py --sample 0.25 --apart 'streams/pipeline/stages/entities.py'
    .venv/bin/python benchmarks/mutation_report.py --sample 0.25 --names --only 'streams/pipeline/stages/e*.py'

A full run is hours on a shared 2-core machine; `--sample F` takes the same fraction F of every module's mutants,
chosen by a hash of the mutant's name (so the same mutants on every machine and every run), and scores only those.
`--apart GLOB` (module paths, repeatable) adds a second total without those modules, and `--names` leaves their
mutants out (modules being rewritten: run them later); `--only GLOB` keeps just the matching modules.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import fnmatch
import hashlib
import json
from collections import Counter
from pathlib import Path

try:
    from mutmut.stats import status_by_exit_code
except ImportError:
    raise SystemExit("mutation_report.py: mutmut is not installed: pip install mutmut==3.8.1") from None

ROOT = Path(__file__).resolve().parents[1]
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def function_sources(path: Path) -> dict[str, str]:
    """Every top-level function (mutants, originals) of a mutated module by name."""
    text = path.read_text("utf-8")
    lines = text.splitlines()
    return {node.name: "\n".join(lines[node.lineno - 1:node.end_lineno]) for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "__mutmut_" in node.name}


def changed_lines(original: str, mutant: str) -> str:
    """The mutant's changed line(s), as `-old` / `+new`, function header lines left out."""
    diff = difflib.unified_diff(original.splitlines()[1:], mutant.splitlines()[1:], lineterm="", n=0)
    lines = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return " / ".join(line[0] + line[1:].strip() for line in lines)[:300]


def in_sample(name: str, fraction: float) -> bool:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) < fraction * 2**32


def matches(module: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(module, glob) for glob in globs)


def matches_any(glob: str, modules: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(module, glob) for module in modules)


def metas(root: Path, only: list[str] | None = None) -> list[tuple[str, Path]]:
    """Every mutated module's path (as in pyproject's only_mutate) and its mutmut meta file; `only` globs filter."""
    found = [(meta.with_suffix("").relative_to(root / "mutants").as_posix(), meta)
             for meta in sorted((root / "mutants").rglob("*.py.meta"))]
    return [(module, meta) for module, meta in found if not only or matches(module, only)]


def collect(root: Path, fraction: float = 1.0,
            only: list[str] | None = None) -> tuple[dict[str, Counter], list[tuple[str, str, str]]]:
    per_module: dict[str, Counter] = {}
    survivors = []
    for module, meta in metas(root, only):
        module_file = meta.with_suffix("")
        data = json.loads(meta.read_text("utf-8"))
        codes = data.get("exit_code_by_key", {})
        if not codes:
            continue
        counts = per_module.setdefault(module, Counter())
        sources = None
        for name, code in sorted(codes.items(), key=lambda kv: (kv[0].rsplit("_", 1)[0], int(kv[0].rsplit("_", 1)[1]))):
            if not in_sample(name, fraction):
                continue
            status = status_by_exit_code.get(code, f"exit {code}")
            counts["killed" if status in KILLED else status] += 1
            if status in ("survived", "no tests"):
                if sources is None:
                    sources = function_sources(module_file)
                function = name.rsplit(".", 1)[1]
                original = sources.get(function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig", "")
                survivors.append((name, status, changed_lines(original, sources.get(function, ""))))
    return per_module, survivors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--survivors", type=Path, help="also write every survivor with its changed line to FILE")
    parser.add_argument("--sample", type=float, default=1.0, help="score only this fraction of each module's mutants")
    parser.add_argument("--names", action="store_true", help="print the sample's mutant names without a verdict")
    parser.add_argument("--apart", action="append", default=[], metavar="GLOB",
                        help="module path glob: total also without these modules; --names leaves them out")
    parser.add_argument("--only", action="append", default=[], metavar="GLOB",
                        help="module path glob: only these modules (scores and --names)")
    args = parser.parse_args()
    if not 0 < args.sample <= 1:
        parser.error(f"--sample must be a fraction in (0, 1], not {args.sample}")
    if not (ROOT / "mutants").is_dir():
        raise SystemExit("mutation_report.py: no mutation results in mutants/: run benchmarks/mutation.sh first")
    modules = [module for module, _ in metas(ROOT)]
    for glob in args.apart + args.only:
        if not matches_any(glob, modules):  # a typo would silently score (or run) everything, or nothing
            parser.error(f"{glob!r} matches no mutated module (they are paths such as {modules[0]})")
    if args.names:
        for module, meta in metas(ROOT, args.only):
            if matches(module, args.apart):
                continue
            for name, code in json.loads(meta.read_text("utf-8")).get("exit_code_by_key", {}).items():
                if code is None and in_sample(name, args.sample):
                    print(name)
        return
    per_module, survivors = collect(ROOT, args.sample, args.only)
    total, kept = Counter(), Counter()
    print(f"{'module':48} {'mutants':>7} {'killed':>7} {'survived':>8} {'no tests':>8} {'unchecked':>9} {'score':>6}")
    for module, counts in per_module.items():
        total.update(counts)
        if not matches(module, args.apart):
            kept.update(counts)
        row(module + (" (apart)" if matches(module, args.apart) else ""), counts)
    row("all", total)
    if args.apart:
        row("all without the modules apart", kept)
    if args.survivors:
        args.survivors.write_text("".join(f"{name}\t{status}\t{change}\n" for name, status, change in survivors),
                                  "utf-8")
        print(f"{len(survivors)} survivors written to {args.survivors}")


def row(name: str, counts: Counter) -> None:
    judged = counts["killed"] + counts["survived"] + counts["no tests"]
    score = f"{100 * counts['killed'] / judged:5.1f}%" if judged else "    -"
    print(f"{name:48} {sum(counts.values()):7d} {counts['killed']:7d} {counts['survived']:8d} "
          f"{counts['no tests']:8d} {counts['not checked']:9d} {score:>6}")


if __name__ == "__main__":
    main()
