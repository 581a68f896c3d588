"""The worker API's one check (streams.runtime.webauth) and its token file, without a worker."""

from __future__ import annotations

import os
import stat

import pytest

from streams.errors import UserError
from streams.settings import Settings
from streams.runtime.webauth import OPEN_PATHS, allowed_hosts, client_token, refusal, server_token, token_path

TOKEN = "t" * 43


def settings(tmp_path, **kw) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, web_port=6066, **kw)


def headers(**kw):
    base = {"Host": "127.0.0.1:6066", "Authorization": f"Bearer {TOKEN}"}
    return {k: v for k, v in (base | {k.replace("_", "-").title(): v for k, v in kw.items()}).items() if v is not None}


def check(tmp_path, path="/sql", method="GET", **kw):
    return refusal(method, path, headers(**kw), TOKEN, allowed_hosts(settings(tmp_path)))


def test_token_file_is_made_once_private_and_read_by_the_cli(tmp_path):
    s = settings(tmp_path)
    assert client_token(s) is None, "no token before the first start"
    token = server_token(s)
    assert len(token) >= 32 and stat.S_IMODE(token_path(s).stat().st_mode) == 0o600
    assert server_token(s) == token, "the next start keeps it"
    assert client_token(s) == token, "the CLI finds it with no set-up"


def test_a_token_file_others_can_read_is_refused(tmp_path):
    s = settings(tmp_path)
    server_token(s)
    os.chmod(token_path(s), 0o644)
    with pytest.raises(UserError, match="chmod 600"):
        client_token(s)


def test_token_from_environment_wins_and_must_be_long(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTREAM_WEB_TOKEN", "x" * 20)
    assert server_token(settings(tmp_path)) == "x" * 20 and not token_path(settings(tmp_path)).exists()
    monkeypatch.setenv("NEWSSTREAM_WEB_TOKEN", "short")
    with pytest.raises(UserError, match="shorter"):
        server_token(settings(tmp_path))


def test_right_token_and_local_host_pass(tmp_path):
    assert check(tmp_path) is None
    assert check(tmp_path, host="localhost:6066", origin="http://localhost:6066") is None


@pytest.mark.parametrize("path", ["/sql", "/reconcile", "/replay", "/reprocess", "/actors-sync", "/graph", "/x"])
def test_every_route_but_health_and_metrics_needs_the_token(tmp_path, path):
    assert check(tmp_path, path=path, authorization=None)[0] == 401
    assert check(tmp_path, path=path, authorization="Bearer wrong")[0] == 401
    assert check(tmp_path, path=path, authorization=f"Basic {TOKEN}")[0] == 401


def test_health_and_metrics_stay_open(tmp_path):
    assert OPEN_PATHS == {"/health", "/metrics"}
    for path in OPEN_PATHS:
        assert check(tmp_path, path=path, authorization=None, host="evil.example") is None


def test_foreign_host_and_origin_are_refused(tmp_path):
    """DNS rebinding sends the attacker's name as Host; a web page's request carries its Origin."""
    assert check(tmp_path, host="evil.example:6066")[0] == 403
    assert check(tmp_path, host="127.0.0.1:32768") is None, "Docker publishes the port elsewhere"
    assert check(tmp_path, host="127.0.0.1.evil.example")[0] == 403
    assert check(tmp_path, host=None)[0] == 403
    assert check(tmp_path, origin="http://evil.example")[0] == 403
    assert check(tmp_path, origin="null")[0] == 403


def test_compose_names_its_host(tmp_path):
    hosts = allowed_hosts(settings(tmp_path, web_host="0.0.0.0", web_allowed_hosts="worker:6066, Worker-2"))
    assert {"worker", "worker-2", "127.0.0.1", "::1"} <= hosts and "0.0.0.0" not in hosts
    assert refusal("GET", "/sql", headers(host="[::1]:6066"), TOKEN, hosts) is None


@pytest.mark.parametrize("host", ["evil.example@localhost", "evil.example@127.0.0.1:6066", "localhost/evil.example",
                                  "localhost#evil", "localhost?x", "localhost:abc", "localhost:6066:1", "[::1]x",
                                  "localhost\\evil.example"])
def test_a_host_header_is_a_name_and_a_port_and_nothing_else(tmp_path, host):
    """urlsplit read `evil.example@localhost` as localhost (userinfo dropped) and ignored paths, fragments and a
    port that is not a number (sec-review: each got 200 through the worker); a Host header has none of those."""
    assert check(tmp_path, host=host)[0] == 403
    assert check(tmp_path, origin=f"http://{host}")[0] == 403
