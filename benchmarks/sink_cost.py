"""The sink's CPU per message at a given flush size: one batch = rows of every table + one insert per table into chDB.

    python benchmarks/sink_cost.py [--sizes 10 20 40 80 160] [--rounds 16]

The stories of samples/corpus (cleaned, entities, stories steps, as the worker makes them), copied with fresh article
ids and ledger keys so every batch is new articles, are written in batches of each size through `write_rows` (what the
sink's warehouse thread runs) into a temporary chDB, alternating within one run with the insert as it was before
(a DESCRIBE of the table before each insert, rows passed row by row). Per flush: CPU of the whole process (chDB's
own threads, its merges among them, included: time.process_time) and of the calling thread alone, medians and minimums
over the rounds, per message. Not a test: figures depend on the machine and its load (printed beside them).
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

from schemas.records import RawRef, StoryArticle  # noqa: E402
from streams.inputs.paths import iter_documents  # noqa: E402
from streams.pipeline.dictionary import ActorDictionary  # noqa: E402
from streams.pipeline.offline import raw_page  # noqa: E402
from streams.pipeline.stages import Rejected  # noqa: E402
from streams.pipeline.stages.clean import CleanLimits  # noqa: E402
from streams.pipeline.stages.stories import StoryIndex  # noqa: E402
from streams.pipeline.steps import clean_step, entities_step, story_step  # noqa: E402
from streams.warehouse import rows as warehouse_rows  # noqa: E402
from streams.warehouse.client import Warehouse  # noqa: E402

CORPUS = ROOT / "samples" / "corpus"


def corpus_stories() -> list[StoryArticle]:
    limits, dictionary, index = CleanLimits(), ActorDictionary.load(), StoryIndex()
    out = []
    for doc in iter_documents([str(CORPUS)], max_bytes=limits.max_page_bytes):
        if doc.body:
            try:
                out.append(story_step(entities_step(clean_step(raw_page(doc), limits), dictionary), index))
            except Rejected:
                pass
    return out


class Messages:
    """Copies of the corpus stories, each a new article (its own id and ledger key), as a stream brings them."""

    def __init__(self, stories: list[StoryArticle]):
        self.stories, self.n = stories, 0

    def take(self, k: int) -> list[StoryArticle]:
        out = []
        for _ in range(k):
            story = self.stories[self.n % len(self.stories)]
            self.n += 1
            raw = RawRef(topic="raw", partition=0, offset=self.n, page_id=f"sink-cost-{self.n}")
            article = story.article.model_copy(update={"article_id": f"{story.article.article_id}-{self.n}",
                                                       "raw": raw})
            out.append(story.model_copy(update={"article": article}))
        return out


def insert_before(warehouse: Warehouse, table: str, rows: list[dict]) -> None:
    """The insert as it was: clickhouse-connect DESCRIBEs the table first, rows go row by row."""
    columns = warehouse.columns(table)
    warehouse.client.insert(table, [[row[c] for c in columns] for row in rows], column_names=columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 40, 80, 160], help="messages per flush")
    parser.add_argument("--rounds", type=int, default=16, help="flushes of each variant per size (alternated)")
    args = parser.parse_args()
    stories = corpus_stories()
    messages = Messages(stories)
    rows_per_message = warehouse_rows.batch_rows(messages.take(len(stories)))
    print(f"{len(stories)} corpus stories; rows per message: " + ", ".join(
        f"{t} {len(r) / len(stories):.1f}" for t, r in rows_per_message.items() if r))
    with tempfile.TemporaryDirectory(prefix="sink-cost-") as tmp:
        warehouse = Warehouse(f"chdb://{tmp}/ch")
        warehouse.migrate()
        now = Warehouse.insert_rows
        before = insert_before
        variants = {"before": before, "now": now}

        def flush(items: list[StoryArticle], insert) -> None:
            Warehouse.insert_rows = insert  # write_rows calls warehouse.insert_rows per table
            try:
                warehouse_rows.write_rows(warehouse, warehouse_rows.batch_rows(items))
            finally:
                Warehouse.insert_rows = now

        for name in variants:  # warm-up: the tables' columns known, chDB's first parts written
            flush(messages.take(10), variants[name])
        print(f"{'size':>5} | {'variant':>7} | process CPU ms/msg median (min) | calling thread ms/msg median (min) "
              "| process CPU ms per flush (median)")
        for size in args.sizes:
            cpu: dict[str, list[float]] = {name: [] for name in variants}
            own: dict[str, list[float]] = {name: [] for name in variants}
            names = list(variants)
            for r in range(args.rounds):
                for name in names[r % 2:] + names[:r % 2]:
                    items = messages.take(size)
                    t0, c0 = time.process_time(), time.thread_time()
                    flush(items, variants[name])
                    cpu[name].append((time.process_time() - t0) * 1000)
                    own[name].append((time.thread_time() - c0) * 1000)
            load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            for name in names:
                process_ms, thread_ms = statistics.median(cpu[name]) / size, statistics.median(own[name]) / size
                print(f"{size:>5} | {name:>7} | {process_ms:6.2f} ({min(cpu[name]) / size:5.2f}){'':19} | "
                      f"{thread_ms:6.2f} ({min(own[name]) / size:5.2f}){'':22} | "
                      f"{statistics.median(cpu[name]):7.1f}   load {load}", flush=True)
        warehouse.close()


if __name__ == "__main__":
    main()
