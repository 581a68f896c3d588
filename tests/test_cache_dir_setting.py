"""NEWSSTREAM_CACHE_DIR reaches every cache the product writes through the one settings object, not through a
second Settings() read from the environment behind the caller's back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from streams.pipeline.dictionary import ActorDictionary, DictionaryWatcher
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _other_cache(monkeypatch, tmp_path: Path) -> Path:
    """The environment names another cache directory: the settings object passed in must win."""
    env_cache = tmp_path / "from-environment"
    monkeypatch.setenv("NEWSSTREAM_CACHE_DIR", str(env_cache))
    return env_cache


def test_dictionary_from_settings_caches_where_the_settings_say(monkeypatch, tmp_path):
    env_cache = _other_cache(monkeypatch, tmp_path)
    settings = Settings(cache_dir=tmp_path / "configured")
    dictionary = ActorDictionary.from_settings(settings)
    assert dictionary.actors
    assert list((tmp_path / "configured").glob("actors-*.pickle"))
    assert not env_cache.exists()


def test_dictionary_watcher_reloads_into_the_given_cache(monkeypatch, tmp_path):
    env_cache = _other_cache(monkeypatch, tmp_path)
    watcher = DictionaryWatcher(None, cache_dir=tmp_path / "configured")
    assert watcher.dictionary.actors
    assert list((tmp_path / "configured").glob("actors-*.pickle"))
    assert not env_cache.exists()


def test_clean_budget_loads_the_language_model_from_the_given_cache(tmp_path):
    # A fresh interpreter: the language model is loaded once per process.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from schemas.records import RawPage\n"
        "from streams.pipeline.budget import CleanBudget\n"
        "from streams.pipeline.stages.clean import CleanLimits\n"
        "html = '<html><body><article><h1>T</h1>' + '<p>' + 'word ' * 80 + '</p>' * 3 + '</article></body></html>'\n"
        "page = RawPage(url='https://example.org/a', source='example.org', html=html)\n"
        "with CleanBudget(0, cache_dir=Path(sys.argv[1])) as budget:\n"
        "    budget.clean(page, CleanLimits())\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NEWSSTREAM_CACHE_DIR": str(tmp_path / "env")}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "configured")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "configured").glob("langid-*"))
    assert not (tmp_path / "env").exists()


def test_an_empty_cache_dir_variable_means_unset_not_the_current_folder(monkeypatch, tmp_path):
    """compose passes an unset variable as "": Path("") is the current folder, where 75 MB of cache would land."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for empty in ("", "  "):
        monkeypatch.setenv("NEWSSTREAM_CACHE_DIR", empty)
        assert Settings(_env_file=None).cache_dir == tmp_path / "xdg" / "newsstream"
    monkeypatch.setenv("NEWSSTREAM_CACHE_DIR", str(tmp_path / "mine"))
    assert Settings(_env_file=None).cache_dir == tmp_path / "mine"
