"""The entities step's linking (extract_entities given the recognizer's names) and the recognizer (recognize,
recognize_many) of this tree against another tree's, in one process, alternately: CPU microseconds per article.

    git archive main | tar -x -C /tmp/base   # a tree to compare with
    python benchmarks/entities_parts_ab.py --base /tmp/base [--rounds 8] [--batch 16]

The other tree's streams/pipeline/ner/model.py and streams/pipeline/stages/entities.py are loaded as modules of
their own beside this tree's (everything they import comes from this tree), so both run on the same articles,
mentions and names, interleaved round by round: on a loaded shared machine that is what makes the ratio mean
something. Both must give the same entities and names (checked first). Articles: the sample corpus (7 articles,
repeated: names seen before) and, when ../shared/ner is present, ANERcorp's development sentences as ~1,800-
character articles (distinct news text). "cold": the names kept across articles emptied before each article
(this tree's _NameLinks and both trees' memos), as if no name had been seen before.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.inputs.paths import iter_documents  # noqa: E402
from streams.pipeline.arabic import normalize_with_map  # noqa: E402
from streams.pipeline.dictionary import ActorDictionary  # noqa: E402
from streams.pipeline.ner import linking  # noqa: E402
from streams.pipeline.ner import model as this_model  # noqa: E402
from streams.pipeline.ner.data import anercorp, data_dir  # noqa: E402
from streams.pipeline.offline import raw_page  # noqa: E402
from streams.pipeline.offsets import original_index  # noqa: E402
from streams.pipeline.stages import Rejected  # noqa: E402
from streams.pipeline.stages import entities as this_entities  # noqa: E402
from streams.pipeline.stages.candidates import find_candidates  # noqa: E402
from streams.pipeline.stages.clean import CleanLimits  # noqa: E402
from streams.pipeline.steps import clean_step  # noqa: E402

ARTICLE_CHARS = 1800


def _module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        sys.exit(f"entities_parts_ab: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def corpora() -> dict[str, list[str]]:
    limits = CleanLimits()
    sample = []
    for doc in iter_documents([ROOT / "samples" / "corpus"], max_bytes=limits.max_page_bytes):
        try:
            sample.append(clean_step(raw_page(doc), limits).text)
        except Rejected:
            pass
    out = {"sample corpus": sample}
    directory = data_dir()
    if directory is not None:
        articles, lines = [], []
        for words, _ in anercorp(directory)[1]:
            lines.append(" ".join(words))
            if sum(map(len, lines)) > ARTICLE_CHARS:
                articles.append("\n".join(lines))
                lines = []
        out["ANERcorp dev"] = articles
    return out


def _forget(*modules: ModuleType) -> None:
    """Empty what both trees keep about names across articles."""
    this_entities._last_links = None
    linking._alias_key.cache_clear()
    for module in modules:
        if hasattr(module, "_last_links"):  # the other tree's own _NameLinks too
            module._last_links = None
        for name in ("_name_words", "_is_title_word", "_normalized", "_title_chars", "_trailing_links"):
            cached = getattr(module, name, None)
            if cached is not None and hasattr(cached, "cache_clear"):
                cached.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other source tree (a checkout or archive)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16, help="texts per recognize_many call")
    args = parser.parse_args()
    model_path = args.base / "streams" / "pipeline" / "ner" / "model.py"
    entities_path = args.base / "streams" / "pipeline" / "stages" / "entities.py"
    if not (model_path.is_file() and entities_path.is_file()):
        sys.exit(f"entities_parts_ab: {args.base} is not a source tree (no {model_path.name} / {entities_path.name})")
    base_model = _module("base_model", model_path)
    base_entities = _module("base_entities", entities_path)
    dictionary = ActorDictionary.load()
    this_recognizer, base_recognizer = this_model.Recognizer.load(), base_model.Recognizer.load()

    for name, texts in corpora().items():
        compare(name, texts, args, dictionary, this_recognizer, base_recognizer, base_entities)


def compare(name: str, texts: list[str], args: argparse.Namespace, dictionary: ActorDictionary,
            this_recognizer, base_recognizer, base_entities: ModuleType) -> None:
    """Both trees' parts over one corpus, alternately; prints CPU microseconds per article."""
    rows = []
    for text in texts:
        norm, index = normalize_with_map(text)
        normalized = norm, original_index(text, index)
        mentions = this_entities.extract_mentions(text, dictionary, normalized)
        rows.append((text, normalized, mentions, find_candidates(text, mentions, normalized),
                     this_recognizer.recognize(text, normalized)))
    batches = [rows[k:k + args.batch] for k in range(0, len(rows), args.batch)]
    repeat = max(1, 200 // len(rows))

    def linking_this(cold: bool = False) -> None:
        for _ in range(repeat):
            for text, normalized, mentions, candidates, spans in rows:
                if cold:
                    _forget(this_entities)
                this_entities.extract_entities(text, mentions, candidates, dictionary, this_recognizer,
                                               normalized, spans=spans)

    def linking_base(cold: bool = False) -> None:
        for _ in range(repeat):
            for text, normalized, mentions, candidates, spans in rows:
                if cold:
                    _forget(base_entities)
                base_recognizer.recognize = lambda text, normalized=None, spans=spans: spans
                base_entities.extract_entities(text, mentions, candidates, dictionary, base_recognizer,
                                               normalized)
        del base_recognizer.recognize

    def one_by_one(recognizer) -> None:
        for _ in range(repeat):
            for text, normalized, *_ in rows:
                recognizer.recognize(text, normalized)

    def batched(recognizer) -> None:
        for _ in range(repeat):
            for batch in batches:
                recognizer.recognize_many([r[0] for r in batch], [r[1] for r in batch])

    for text, normalized, mentions, candidates, spans in rows:  # same output, and everything warm
        assert base_recognizer.recognize(text, normalized) == spans
        base_recognizer.recognize = lambda text, normalized=None, spans=spans: spans
        assert (this_entities.extract_entities(text, mentions, candidates, dictionary, this_recognizer,
                                               normalized, spans=spans)
                == base_entities.extract_entities(text, mentions, candidates, dictionary, base_recognizer,
                                                  normalized)), text[:80]
        del base_recognizer.recognize
    assert [this_recognizer.recognize_many([r[0] for r in b], [r[1] for r in b]) for b in batches] == [
        base_recognizer.recognize_many([r[0] for r in b], [r[1] for r in b]) for b in batches]
    count = repeat * len(rows)
    mean = sum(len(r[0]) for r in rows) / len(rows)
    print(f"{name}: {len(rows)} articles (mean {mean:.0f} characters), each part {repeat}x per round, "
          f"{args.rounds} alternating rounds, best round, CPU time; same entities and names in both trees")
    for label, base, this in [
            ("extract_entities, names given", linking_base, linking_this),
            ("extract_entities, cold", lambda: linking_base(True), lambda: linking_this(True)),
            ("recognize, one by one", lambda: one_by_one(base_recognizer), lambda: one_by_one(this_recognizer)),
            (f"recognize_many, {args.batch} a call", lambda: batched(base_recognizer),
             lambda: batched(this_recognizer))]:
        base_times, this_times = [], []
        for _ in range(args.rounds):
            start = time.process_time()
            base()
            base_times.append(time.process_time() - start)
            start = time.process_time()
            this()
            this_times.append(time.process_time() - start)
        b, t = min(base_times) / count * 1e6, min(this_times) / count * 1e6
        print(f"  {label:34s} base {b:6.0f} us   this tree {t:6.0f} us   ratio {b / t:.2f}x")



if __name__ == "__main__":
    main()
