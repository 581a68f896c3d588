"""Worker subprocesses on the real local broker, for the integration tests and the load script."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from streams.runtime.broker import free_port
from streams.settings import Settings
from streams.runtime.webauth import server_token


class WorkerProcess:
    """`newsstream run` in a subprocess with its own web port and log file."""

    def __init__(self, data: Path, kafka_url: str | None, name: str = "worker", **env: str):
        """`kafka_url` None: the worker starts (and supervises) the local broker itself."""
        self.port = free_port()
        # The worker's API token (streams.runtime.webauth): made here so the URL can carry it, as the CLI would read it.
        self.token = server_token(Settings(_env_file=None, data_dir=data))
        self.web = f"http://newsstream:{self.token}@127.0.0.1:{self.port}"
        self.plain_web = f"http://127.0.0.1:{self.port}"
        self.log_path = data / f"{name}.log"
        self.env = os.environ | {"KAFKA_URL": kafka_url, "NEWSSTREAM_DATA_DIR": str(data),
                                 "NEWSSTREAM_WEB_PORT": str(self.port), "NEWSSTREAM_SINK_FLUSH_SECONDS": "0.5",
                                 "NEWSSTREAM_GROUP_SESSION_TIMEOUT": "6"} | env
        self.env.pop("CLICKHOUSE_URL", None)
        if kafka_url is None:
            self.env.pop("KAFKA_URL")
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "streams.cli", "run"], env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no flush, no commit, no goodbye to the group."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def tree_cpu(root: int, descendants_only: bool = False) -> float:
    """CPU seconds (user + system) used so far by a live process (all its threads) and its live descendants (/proc);
    `descendants_only`: without the root's own. For benchmarks that time a worker's whole process tree."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += cpu.get(pid, 0.0) if not (descendants_only and pid == root) else 0.0
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total
