"""The data directory's one sink worker: a lock that refuses a second one, and the web port each worker serves on.

Kept apart from the worker's start-up so that the rule is one small, unit-tested part.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
from pathlib import Path

from streams.errors import UserError, make_directory
from streams.runtime.broker import free_port
from streams.settings import Settings


def worker_lock_file(settings: Settings) -> Path:
    return settings.data_path / "worker.lock"


class WorkerLock:
    """An exclusive lock on DATA_DIR/worker.lock, held for the life of the worker that writes worker.json.

    The kernel drops a flock when its process dies, so a crashed worker never leaves a stale lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """Who holds it, for the refusal message."""
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays (removing it would race a new holder)
            self._fd = None


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def choose_web_port(settings: Settings) -> Settings:
    """The web port to serve on: NEWSSTREAM_WEB_PORT when set (busy: a UserError), else 6066 or a free one."""
    if port_free(settings.web_host, settings.web_port):
        return settings
    if "web_port" in settings.model_fields_set:
        raise UserError(f"NEWSSTREAM_WEB_PORT={settings.web_port} is in use on {settings.web_host}; "
                        "choose another or leave it unset for a free one")
    port = free_port()
    print(f"web port {settings.web_port} is in use; this worker serves /health and /metrics on {port}", file=sys.stderr)
    return settings.model_copy(update={"web_port": port})


def claim_data_dir(settings: Settings) -> WorkerLock | None:
    """The lock of the worker that writes worker.json (NEWSSTREAM_SINK=true); None when this worker needs none.

    With the embedded warehouse a second such worker would fight over chDB's directory: it is refused before
    it touches anything. With a server warehouse several may run; only the lock holder writes worker.json.
    """
    if not settings.run_sink:
        return None
    make_directory(settings.data_path, f"NEWSSTREAM_DATA_DIR={settings.data_dir}")
    lock = WorkerLock(worker_lock_file(settings))
    if lock.acquire():
        return lock
    if settings.embedded_warehouse:
        raise UserError(f"a worker (pid {lock.holder()}) already runs on {settings.data_path}; add workers with "
                        "NEWSSTREAM_SINK=false, or give this one another NEWSSTREAM_DATA_DIR")
    return None
