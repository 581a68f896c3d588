"""Sites served over loopback HTTP for the feeder's tests: one way to start and stop them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web


@contextlib.asynccontextmanager
async def loopback_sites(make_site: Callable[[Any], Any]) -> AsyncIterator[Callable[[Any], Awaitable[Any]]]:
    """`start(routes)` builds `make_site(routes)`, serves its `handle` on 127.0.0.1 and sets its `base` URL; every
    site started is stopped on exit."""
    runners: list[web.AppRunner] = []

    async def start(routes):
        site = make_site(routes)
        app = web.Application()
        app.router.add_get("/{tail:.*}", site.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        tcp = web.TCPSite(runner, "127.0.0.1", 0)
        await tcp.start()
        site.base = f"http://127.0.0.1:{tcp._server.sockets[0].getsockname()[1]}"
        runners.append(runner)
        return site

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()
