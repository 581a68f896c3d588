"""`newsstream process` finds the same mentions and stories on the sample corpus and the labeled set as recorded in
tests/data/process_golden.json: speed work (parallel cleaning, caches, the hand-written LSH index) must not change
them. A deliberate change of cleaning, matching or grouping re-records the file:

    python -m tests.test_process_golden --update
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CORPUS, ROOT

LABELED = ROOT / "samples" / "labeled"
GOLDEN = ROOT / "tests" / "data" / "process_golden.json"


def outcomes(*args: str, env: dict[str, str] | None = None) -> list[dict]:
    """What the run decided per page, by file name (a whole `process`, as users run it)."""
    result = subprocess.run([sys.executable, "-m", "streams.cli", "process", "--out", "-", *args,
                             str(CORPUS), str(LABELED)], capture_output=True, cwd=ROOT, timeout=600,
                            env=os.environ | (env or {}))
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return [{"file": Path(line["source"]).name, "status": line["status"], "reason": line["reason"],
             "article_id": line["article_id"], "story_id": line["story_id"], "duplicate_of": line["duplicate_of"],
             "mentions": [[m["actor_id"], m["surface"], m["start"], m["end"]] for m in line["mentions"]]}
            for line in lines]


def test_mentions_and_stories_are_the_recorded_ones_with_one_or_several_cleaning_processes(tmp_path):
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    env = {"NEWSSTREAM_DATA_DIR": str(tmp_path / "data")}
    assert sum(len(o["mentions"]) for o in golden) > 100 and any(o["duplicate_of"] for o in golden)
    for jobs in ("1", "3"):
        assert outcomes("--jobs", jobs, env=env) == golden, (
            f"--jobs {jobs}: mentions or stories changed; if intended: python -m tests.test_process_golden --update")


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    GOLDEN.write_text(json.dumps(outcomes(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")
