"""`process --jobs`: cleaning children started up front, as many as asked; a bad count is one line, exit 2."""

from __future__ import annotations

import gc
import multiprocessing
import subprocess
import sys

import pytest

from streams.pipeline import budget as budget_module
from streams.pipeline.budget import CleanBudget
from tests.conftest import CORPUS, ROOT


def test_prestart_starts_every_child_before_the_first_page():
    before = len(multiprocessing.active_children())
    with CleanBudget(30.0, workers=2) as budget:
        budget.prestart()
        assert len(multiprocessing.active_children()) - before == 2
    assert len(multiprocessing.active_children()) == before


def test_prestart_without_a_budget_starts_nothing():
    with CleanBudget(0) as budget:
        budget.prestart()
        assert budget._pool is None


@pytest.fixture
def forking(monkeypatch):
    """The fork path, as `process` takes it (the suite's own threads would otherwise make the budget spawn)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(budget_module, "_start_method", lambda: "fork")


def test_forked_children_do_not_collect_what_they_inherit(forking):
    gc.unfreeze()
    try:
        with CleanBudget(30.0) as budget:
            budget.prestart()
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_children_forked_while_the_gc_is_off_collect_cycles(forking):
    """`process` forks its cleaning children with the cyclic GC off (its start-up); each child turns it on."""
    gc.disable()
    try:
        with CleanBudget(30.0) as budget:
            budget.prestart()
            assert budget._workers().schedule(gc.isenabled).result(timeout=60) is True
    finally:
        gc.enable()
        gc.unfreeze()


def test_process_runs_with_the_gc_on_after_its_start_up(tmp_path):
    """The start-up runs without cyclic GC; the pages are processed with it on, the start-up's objects frozen."""
    spies = ("import streams.pipeline.offline as o; lines = o.process_documents; seen = []\n"
             "def spy(*a, **k):\n"
             "    for n, line in enumerate(lines(*a, **k)):\n"
             "        seen.append((gc.isenabled(), gc.get_freeze_count() > 0)) if n == 0 else None; yield line\n"
             "o.process_documents = spy\n"
             "import streams.pipeline.budget as b; start = b.CleanBudget.prestart; before = []\n"
             "def prestart(self): before.append(gc.isenabled()); start(self)\n"
             "b.CleanBudget.prestart = prestart\n")
    assert _process_with(spies, "before, seen, gc.isenabled()", tmp_path) == "0 [False] [(True, True)] True"


def _process_with(spies: str, shown: str, tmp_path) -> str:
    """`newsstream process` over the corpus in a fresh interpreter after `spies` ran; prints its exit code and `shown`."""
    code = ("import gc, sys; from streams.cli.commands import main\n" + spies
            + f"code = main(['process', '--out', {str(tmp_path / 'out.jsonl')!r}, {str(CORPUS)!r}])\n"
            + f"print(code, {shown})")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")[-2]


def test_process_loads_the_recognizer_before_the_gc_is_on(tmp_path):
    """Its model's containers are frozen with the dictionary's objects instead of walked by the first collections of
    the entities step (~50-130 ms of collections per run measured on the labeled set before, ~8-26 ms after)."""
    spies = ("import streams.pipeline.ner.model as m; load = m.Recognizer.load.__func__; seen = []\n"
             "def spy(cls, *a, **k): seen.append(gc.isenabled()); return load(cls, *a, **k)\n"
             "m.Recognizer.load = classmethod(spy)\n")
    assert _process_with(spies, "seen", tmp_path) == "0 [False]"


@pytest.mark.parametrize("jobs, message", [("0", "0 is out of range (1 to 64)"), ("x", "not a whole number: 'x'"),
                                           ("65", "65 is out of range")])
def test_a_bad_job_count_is_one_line(jobs, message):
    result = subprocess.run([sys.executable, "-m", "streams.cli", "process", "--jobs", jobs, "--out", "-", str(CORPUS)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_process_imports_neither_scipy_nor_aiokafka(tmp_path):
    # Start-up is most of a short `process` run: datasketch's import pulls scipy (1.1-1.7 s), aiokafka 0.1-0.3 s.
    code = ("import sys; from streams.cli.commands import main; "
            f"code = main(['process', '--out', {str(tmp_path / 'out.jsonl')!r}, {str(CORPUS)!r}]); "
            "print(code, sorted(m for m in ('scipy', 'datasketch', 'aiokafka') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.stdout.split("\n")[-2] == "0 []", result.stderr
    assert (tmp_path / "out.jsonl").read_text().count("\n") == len(list(CORPUS.iterdir()))


def test_forked_children_inherit_the_language_model_loaded_once(forking, monkeypatch, tmp_path):
    from py3langid import langid

    monkeypatch.setattr(langid, "IDENTIFIER", None)
    monkeypatch.setenv("NEWSSTREAM_CACHE_DIR", str(tmp_path))
    try:
        with CleanBudget(30.0, workers=2) as budget:
            budget.prestart()
            assert langid.IDENTIFIER is not None  # loaded in this process before the fork
    finally:
        gc.unfreeze()
    assert len(list(tmp_path.glob("langid-*"))) == 1
