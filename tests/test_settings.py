"""Every setting is read once, by streams.settings, and listed by `newsstream config`."""

from __future__ import annotations

from streams.cli import commands as cli
from streams.pipeline.dictionary import ActorDictionary, default_cache_dir
from streams.settings import Settings
from tests.conftest import SMALL_DICTIONARY


def test_the_dictionary_cache_dir_is_a_setting(tmp_path, monkeypatch, capsys):
    """NEWSSTREAM_CACHE_DIR was read from os.environ in the dictionary module: `config` did not list it."""
    monkeypatch.setenv("NEWSSTREAM_CACHE_DIR", str(tmp_path / "cache"))
    assert Settings().cache_dir == tmp_path / "cache" == default_cache_dir()
    assert cli.main(["config"]) == 0
    assert f"NEWSSTREAM_CACHE_DIR={tmp_path / 'cache'}\n" in capsys.readouterr().out
    (tmp_path / "actors.yaml").write_text(SMALL_DICTIONARY, encoding="utf-8")
    ActorDictionary.load(tmp_path / "actors.yaml")
    assert [p.suffix for p in (tmp_path / "cache").iterdir()] == [".pickle"]


def test_the_cache_dir_defaults_to_the_xdg_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSSTREAM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert Settings().cache_dir == tmp_path / "newsstream"


def test_a_field_with_an_environment_alias_also_takes_its_own_name(monkeypatch):
    """Settings(run_sink=False) was silently ignored (only the alias NEWSSTREAM_SINK worked): a sink worker resulted."""
    monkeypatch.delenv("NEWSSTREAM_SINK", raising=False)
    assert Settings(run_sink=False).run_sink is False
    assert Settings().run_sink is True
