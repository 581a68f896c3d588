"""The CLI dispatcher turns a UserError into one line on stderr and a non-zero exit."""

from __future__ import annotations

from streams import cli
from streams.errors import UserError


def test_user_error_is_one_line_and_non_zero(monkeypatch, capsys):
    def boom(args):
        raise UserError("no such file: nosuch.yaml")

    monkeypatch.setattr(cli, "cmd_config", boom)
    code = cli.main(["config"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "newsstream: no such file: nosuch.yaml\n"


import pytest  # noqa: E402


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-inf", "1e999"])
def test_reconcile_refuses_a_grace_that_is_not_a_finite_non_negative_number(value, capsys, tmp_path, monkeypatch):
    """A negative grace would count every page still in flight as lost; nan/inf crashed in timedelta."""
    monkeypatch.setenv("NEWSSTREAM_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["reconcile", "--grace", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--grace" in err and "Traceback" not in err


def test_reconcile_without_a_broker_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTREAM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KAFKA_URL", raising=False)
    assert cli.main(["reconcile", "--grace", "0"]) == 2
    assert capsys.readouterr().err == "newsstream: no broker: set KAFKA_URL or start one with `newsstream run`\n"
