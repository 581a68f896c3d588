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
