"""The worker API's one check: every route but /health and /metrics needs the bearer token and a local Host.

A random token lives in the data directory (mode 0600, made at first start) and the CLI reads it from there,
so `newsstream sql` needs no set-up; compose passes NEWSSTREAM_WEB_TOKEN instead. The Host and Origin checks
stop a web page in the operator's browser (a link, a form, DNS rebinding) from using the API.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import stat
from pathlib import Path

from aiohttp import web

from streams.errors import UserError
from streams.settings import Settings

OPEN_PATHS = frozenset({"/health", "/metrics"})
TOKEN_FILE = "worker-token"


def token_path(settings: Settings) -> Path:
    return settings.data_path / TOKEN_FILE


def _read_private(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UserError(f"{path} is readable by other users (mode {mode:04o}); run `chmod 600 {path}`")
    token = path.read_text().strip()
    if len(token) < 16:
        raise UserError(f"{path} holds no usable token; delete it and restart the worker")
    return token


def server_token(settings: Settings) -> str:
    """The worker's token: NEWSSTREAM_WEB_TOKEN, else the data directory's file, created (0600) when missing."""
    if settings.web_token is not None:
        token = settings.web_token.get_secret_value()
        if len(token) < 16:
            raise UserError("NEWSSTREAM_WEB_TOKEN is shorter than 16 characters")
        return token
    path = token_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written whole under a private name, then linked into place: a reader never sees a half-written file,
        # and of two processes starting at once (worker, demo, tests) one token wins.
        draft = path.with_name(f".{TOKEN_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return _read_private(path)


def client_token(settings: Settings) -> str | None:
    """What the CLI sends: NEWSSTREAM_WEB_TOKEN, else the data directory's file; None when neither exists."""
    if settings.web_token is not None:
        return settings.web_token.get_secret_value()
    path = token_path(settings)
    return _read_private(path) if path.exists() else None


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """Host names the API answers to (any port: Docker maps ports): loopback, the bind address, configured ones.

    DNS rebinding sends the attacker's own name as Host, so the name alone is what must be checked.
    """
    names = {"localhost", "127.0.0.1", "::1"}
    if settings.web_host not in ("0.0.0.0", "::", ""):
        names.add(settings.web_host)
    for item in settings.web_allowed_hosts.split(","):
        if item.strip():
            names.add(_hostname(item.strip()))
    return frozenset(n.lower() for n in names)


# A Host header (or an Origin's authority) is a name or [IPv6] and an optional numeric port, nothing else:
# urlsplit would read `evil.example@localhost` as localhost and ignore a path, a fragment or a bad port.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::[0-9]{1,5})?")


def _hostname(host_header: str) -> str:
    """`name:port`, `[v6]:port` or a bare name -> the name, lower-case ('' when it is anything else)."""
    match = _HOST.fullmatch(host_header.strip())
    return match.group(1).strip("[]").lower() if match else ""


def refusal(method: str, path: str, headers, token: str, hosts: frozenset[str]) -> tuple[int, str] | None:
    """None when the request may reach its view; else (HTTP status, one-line reason)."""
    if path in OPEN_PATHS:
        return None
    host = headers.get("Host") or ""
    if _hostname(host) not in hosts:
        return 403, f"Host {host[:100]!r} is not one this worker answers (NEWSSTREAM_WEB_ALLOWED_HOSTS)"
    origin = headers.get("Origin")
    if origin is not None:
        scheme, _, authority = origin.partition("://")  # an Origin is scheme://host[:port], no path, no user
        if scheme.lower() not in ("http", "https") or _hostname(authority) not in hosts:
            return 403, "cross-origin requests are refused"
    given = headers.get("Authorization") or ""
    scheme, _, credential = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), token.encode()):
        return 401, ("missing or wrong token (Authorization: Bearer <token>; "
                     "the CLI reads NEWSSTREAM_DATA_DIR/worker-token)")
    return None


def middleware(settings: Settings):
    """aiohttp middleware over every route: new endpoints are protected unless added to OPEN_PATHS."""
    token = server_token(settings)
    hosts = allowed_hosts(settings)

    @web.middleware
    async def require_token(request: web.Request, handler):
        problem = refusal(request.method, request.path, request.headers, token, hosts)
        if problem:
            status, reason = problem
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return web.json_response({"error": reason}, status=status, headers=headers)
        return await handler(request)

    return require_token
