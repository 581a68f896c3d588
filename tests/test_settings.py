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


def test_the_documented_defaults_are_the_defaults(monkeypatch):
    """docs/configuration.md gives each setting's default; one changed in the code alone would be documented wrong
    (NEWSSTREAM_SINK_FLUSH_SECONDS went from 1 to 2 s: fewer warehouse writes, each with a fixed CPU cost)."""
    import re
    from pathlib import Path

    from pydantic import AliasChoices

    for var in list(Settings.env_vars()):
        monkeypatch.delenv(var, raising=False)
    defaults = Settings(_env_file=None)
    fields = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        first = alias.choices[0] if isinstance(alias, AliasChoices) else None
        fields[first if isinstance(first, str) else f"NEWSSTREAM_{name.upper()}"] = name
    table = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text("utf-8")
    checked = 0
    for var, documented in re.findall(r"^\| `([A-Z0-9_]+)` \| `([^`]*)` \|", table, re.M):
        value = getattr(defaults, fields[var])
        if isinstance(value, bool):
            assert documented == str(value).lower(), var
        elif isinstance(value, int | float):
            assert float(documented) == value, var
        else:
            continue
        checked += 1
    assert checked > 20 and defaults.sink_flush_seconds == 2.0


def test_the_web_port_is_a_real_port(monkeypatch, capsys):
    """NEWSSTREAM_WEB_PORT=0 passed validation and `run` died in Faust with a traceback ("out of range for Port")."""
    monkeypatch.setenv("NEWSSTREAM_WEB_PORT", "0")
    assert cli.main(["config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("newsstream: NEWSSTREAM_WEB_PORT")


def test_the_entities_batch_characters_are_a_bounded_setting(monkeypatch, capsys):
    """NEWSSTREAM_ENTITIES_BATCH_CHARS: listed by `config`; 0, a float or a word is one line and exit 2."""
    import pytest
    from pydantic import ValidationError

    assert Settings(_env_file=None).entities_batch_chars == 1_000_000
    for bad in (0, -1, 100_000_001, "abc", "1e9"):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, entities_batch_chars=bad)
    assert cli.main(["config"]) == 0
    assert "NEWSSTREAM_ENTITIES_BATCH_CHARS=1000000\n" in capsys.readouterr().out
    monkeypatch.setenv("NEWSSTREAM_ENTITIES_BATCH_CHARS", "0")
    assert cli.main(["config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("newsstream: NEWSSTREAM_ENTITIES_BATCH_CHARS")


def test_every_command_raises_the_young_collection_threshold():
    """The young generation's threshold (streams/collector.py), set by the CLI before any command runs."""
    import gc

    from streams.collector import YOUNG_THRESHOLD

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, *before[1:])
        assert cli.main(["config"]) == 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
