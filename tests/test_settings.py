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


def _float_settings() -> list[str]:
    return [name for name, field in Settings.model_fields.items() if field.annotation in (float, "float")]


def test_no_float_setting_takes_infinity_or_nan(monkeypatch, capsys):
    """NEWSSTREAM_SINK_FLUSH_SECONDS=inf passed validation and crashed the worker's sink at start (OverflowError)."""
    import pytest
    from pydantic import ValidationError

    names = _float_settings()
    assert "sink_flush_seconds" in names and "kafka_confirm_seconds" in names
    for name in names:
        for value in ("inf", "-inf", "nan", "1e309"):
            with pytest.raises(ValidationError):
                Settings(_env_file=None, **{name: value})
    monkeypatch.setenv("NEWSSTREAM_SINK_FLUSH_SECONDS", "inf")
    assert cli.main(["config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("newsstream: NEWSSTREAM_SINK_FLUSH_SECONDS")


def test_intervals_a_thread_sleeps_are_bounded():
    """A memory-trace interval of 1e20 s passed validation and killed the trace thread (time.sleep overflow)."""
    import pytest
    from pydantic import ValidationError

    for name in ("memory_trace_seconds", "kafka_confirm_seconds", "sink_flush_seconds"):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, **{name: 1e20})


def test_the_web_port_is_a_real_port(monkeypatch, capsys):
    """NEWSSTREAM_WEB_PORT=0 passed validation and `run` died in Faust with a traceback ("out of range for Port")."""
    monkeypatch.setenv("NEWSSTREAM_WEB_PORT", "0")
    assert cli.main(["config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("newsstream: NEWSSTREAM_WEB_PORT")
