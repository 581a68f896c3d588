"""Start a Faust worker for the topology, with the local broker when KAFKA_URL is unset.

`newsstream run` is a small supervisor around the worker process:
- with the local broker, it starts Tansu, and when Tansu dies (it keeps messages in memory, so what it held is
  gone) it restarts it on the same port, restarts the worker (topics are recreated, consumers join afresh),
  and the new worker re-sends from the raw archive every page that entered before the restart and has no
  outcome. Each restart is a log line and the `newsstream_broker_restarts` metric;
- with an external Kafka, a worker that exits because Kafka went away is started again (with backoff) once
  Kafka answers, each time with a log line and `newsstream_broker_restarts`; a lost connection while running
  is reported by the worker itself (`newsstream_broker_up`).
The worker process dies with its supervisor (Linux: PR_SET_PDEATHSIG), so a SIGKILL stops both, as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from streams.pipeline.topics import ensure_topics
from streams.runtime.broker import LocalBroker, _die_with_parent, _reachable, free_port, kafka_url
from streams.runtime.data_dir import choose_web_port, claim_data_dir, port_free
from streams.runtime.kafka import KafkaClients, bootstrap_servers
from streams.runtime.logs import logging_config
from streams.settings import Settings

log = logging.getLogger("newsstream.supervisor")

SUPERVISED = "NEWSSTREAM_SUPERVISED"
HOLDS_DATA_DIR = "NEWSSTREAM_HOLDS_DATA_DIR"  # the supervisor holds the data directory's lock for its worker
BROKER_STARTED_AT = "NEWSSTREAM_BROKER_STARTED_AT"  # set when the worker's broker started empty: heal from the archive
BROKER_RESTARTS = "NEWSSTREAM_BROKER_RESTARTS"
STOP_TIMEOUT = 60.0
WORKED_SECONDS = 30.0  # a worker that exits after running this long is restarted (with an external Kafka)
STOP_TIMEOUT_BROKER_GONE = 15.0  # a worker whose broker died cannot commit anything: do not wait long


def on_local_broker(settings: Settings) -> Settings:
    """The settings of a worker on the local broker: its consumer groups use the local session timeout (Tansu
    answers a group join only once half of it has passed, so it bounds time to ready)."""
    return settings.model_copy(update={"group_session_timeout": settings.local_group_session_timeout})


def _kafka_reachable(url: str) -> bool:
    for server in bootstrap_servers(url).split(","):
        host, _, port = server.rpartition(":")
        if host and port.isdigit() and _reachable(host.strip("[]"), int(port), timeout=2.0):
            return True
    return False


PORT_RETRIES = 3  # a web port taken by another process while the worker started: another port, this many times


class Supervisor:
    def __init__(self, settings: Settings, external_url: str | None, holds_data_dir: bool = False,
                 port_given: bool = False):
        self.settings = settings
        self.external_url = external_url
        self.holds_data_dir = holds_data_dir
        self.port_given = port_given  # NEWSSTREAM_WEB_PORT was set: a busy one is the user's answer, not retried
        self.port_retries = 0
        self.child_broker_started_at: datetime | None = None
        self.port_was_free = True  # the web port was free when the worker's process was started
        self.broker: LocalBroker | None = None
        self.child: subprocess.Popen | None = None
        self.restarts = 0
        self.stopping = False

    @property
    def url(self) -> str:
        if self.external_url:
            return self.external_url
        if self.broker is None:
            raise RuntimeError("no Kafka: no external URL and the local broker is not started")
        return self.broker.url

    def _start_child(self, broker_started_at: datetime | None) -> None:
        self.child_broker_started_at = broker_started_at
        self.port_was_free = port_free(self.settings.web_host, self.settings.web_port)
        (self.settings.data_path / RESTART_MARKER).unlink(missing_ok=True)
        env = os.environ | {SUPERVISED: "1", "KAFKA_URL": self.url, BROKER_RESTARTS: str(self.restarts),
                            HOLDS_DATA_DIR: "1" if self.holds_data_dir else "0",
                            "NEWSSTREAM_WEB_PORT": str(self.settings.web_port)}  # the port chosen above
        if self.external_url is None:  # the child sees a KAFKA_URL, but it is the broker started here
            env["NEWSSTREAM_GROUP_SESSION_TIMEOUT"] = str(self.settings.local_group_session_timeout)
        env.pop(BROKER_STARTED_AT, None)
        if broker_started_at is not None:
            env[BROKER_STARTED_AT] = broker_started_at.isoformat()
        self.child_started = time.monotonic()
        self.child = subprocess.Popen([sys.executable, "-m", "streams.cli", "run"], env=env,
                                      preexec_fn=_die_with_parent)

    def _restart_asked(self) -> dict | None:
        marker = self.settings.data_path / RESTART_MARKER
        try:
            asked = json.loads(marker.read_text())
        except (OSError, ValueError):
            return None
        marker.unlink(missing_ok=True)
        return asked

    def _stop_child(self, timeout: float = STOP_TIMEOUT) -> int | None:
        if self.child is None:
            return None
        if self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(timeout)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
        return self.child.returncode

    def _lost_its_port(self, code: int, worked: bool) -> bool:
        """The worker failed at start and its web port is taken now: another process bound it between the choice
        and the worker's bind (its log shows Faust's "address already in use")."""
        return (code != 0 and not worked and not self.port_given and self.port_retries < PORT_RETRIES
                and self.port_was_free and not port_free(self.settings.web_host, self.settings.web_port))

    def _start_broker(self, port: int | None = None) -> datetime:
        for attempt in range(20):
            try:
                self.broker = LocalBroker(self.settings.data_path, port=port).start()
                break
            except (RuntimeError, TimeoutError):
                if attempt == 19:
                    raise
                time.sleep(0.5)  # the dead broker's port may take a moment to free
        return datetime.now(UTC)

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        started_at = None
        if self.external_url is None:
            started_at = self._start_broker()
            print(f"local broker (Tansu) on {self.url}", file=sys.stderr)
        # Kafka that answered once and went away is waited for; one that never answered is a wrong KAFKA_URL (or not
        # up yet: compose starts workers once Kafka is healthy, and restarts them): the worker's one line, no loop.
        kafka_answered = self.external_url is not None and _kafka_reachable(self.external_url)
        try:
            self._start_child(started_at)
            wait = 1.0
            while True:
                time.sleep(0.2)
                if self.stopping:
                    return self._stop_child() or 0
                if (self.broker is not None and self.broker.process is not None
                        and self.broker.process.poll() is not None):
                    self.restarts += 1
                    code = self.broker.process.returncode
                    print(f"newsstream run: the local broker exited (code {code}); restarting it on port "
                          f"{self.broker.port} and the worker with it (broker restart {self.restarts}); pages "
                          f"without an outcome are re-sent from the archive", file=sys.stderr, flush=True)
                    self._stop_child(STOP_TIMEOUT_BROKER_GONE)
                    self.broker.stop()
                    started_at = self._start_broker(self.broker.port)
                    self._start_child(started_at)
                    continue
                assert self.child is not None  # started before the loop, and again after each restart
                code = self.child.poll()
                if code is None:
                    wait = 1.0
                    continue
                if self.stopping:
                    return code
                asked = self._restart_asked()
                if asked is not None:
                    self.restarts += 1
                    print(f"newsstream run: {asked['reason']}; worker restarted (restart {self.restarts})",
                          file=sys.stderr, flush=True)
                    self._start_child(datetime.fromisoformat(asked["broker_started_at"]))
                    continue
                worked = time.monotonic() - self.child_started > WORKED_SECONDS
                if self._lost_its_port(code, worked):
                    self.port_retries += 1
                    taken, port = self.settings.web_port, free_port()
                    print(f"newsstream run: web port {taken} was taken while the worker started; it serves /health "
                          f"and /metrics on {port}", file=sys.stderr, flush=True)
                    self.settings = self.settings.model_copy(update={"web_port": port})
                    self._start_child(self.child_broker_started_at)
                    continue
                kafka_answered = kafka_answered or worked
                if self.external_url is not None and (worked or kafka_answered
                                                      and not _kafka_reachable(self.external_url)):
                    # A worker that ran a while, or lost Kafka, is started again; one that fails at start (a bad
                    # setting, a busy port) is not: its exit code and message are the answer.
                    self.restarts += 1
                    print(f"newsstream run: the worker exited (code {code}) after "
                          f"{time.monotonic() - self.child_started:.0f}s; starting it again in {wait:.0f}s "
                          f"(restart {self.restarts})", file=sys.stderr, flush=True)
                    deadline = time.monotonic() + wait
                    while time.monotonic() < deadline and not self.stopping:
                        time.sleep(0.2)
                    wait = min(wait * 2, 30.0)
                    if not self.stopping:
                        self._start_child(None)
                    continue
                if code != 0 and worked and not self.stopping:  # killed (OOM, kill -9): say so, and what next
                    print(f"newsstream run: the worker exited (code {code}) after "
                          f"{time.monotonic() - self.child_started:.0f}s; stopping. Start `newsstream run` again: "
                          "archived pages without an outcome are sent again", file=sys.stderr, flush=True)
                return code
        finally:
            self._stop_child()
            if self.broker is not None:
                self.broker.stop()


RESTART_MARKER = "worker-restart.json"  # the worker asks its supervisor for a restart that heals from the archive


async def _raw_end_offsets(settings: Settings, url: str) -> dict[int, int]:
    offsets = await KafkaClients(settings, url).offsets([settings.topic("raw-html")], request_timeout_ms=5000)
    return {partition: end for (_, partition), (end, _) in offsets.items()}


class BrokerWatchdog(threading.Thread):
    """A lost connection to Kafka is reported (log line, metrics) and retried, never a silent stall. When Kafka
    answers again, missing topics are recreated; if it came back without the messages it held (the raw topic's
    end offsets went back), the consumers' positions point past its new messages, so the worker asks its
    supervisor for a restart (fresh consumers, and the pages without an outcome re-sent from the archive).
    A thread of its own: it must keep watching while the worker's event loop is busy or still starting."""

    def __init__(self, settings: Settings, url: str, metrics, interval: float = 2.0, sample_every: int = 1):
        super().__init__(name="broker-watchdog", daemon=True)
        self.settings, self.url, self.metrics, self.interval = settings, url, metrics, interval
        self.sample_every = sample_every
        self.log = logging.getLogger("newsstream")

    def _sample(self) -> dict[int, int] | None:
        try:
            return asyncio.run(_raw_end_offsets(self.settings, self.url))
        except Exception:
            return None

    def run(self) -> None:
        down_since = None
        seen: dict[int, int] = {}
        tick = 0
        while True:
            up = _kafka_reachable(self.url)
            if not up and down_since is None:
                down_since = time.monotonic()
                self.metrics.broker_up.set(0)
                self.metrics.broker_losses.inc()
                self.log.error("lost the connection to Kafka at %s; retrying", self.url)
            elif up and down_since is not None:
                self.log.warning("Kafka at %s answers again after %.0fs", self.url, time.monotonic() - down_since)
                down_since = None
                self.metrics.broker_up.set(1)
                now = self._sample()
                if now is not None and any(now.get(p, 0) < end for p, end in seen.items()):
                    self._restart(f"Kafka at {self.url} came back without the messages it held (raw-html end "
                                  f"offsets {seen} -> {now})")
                    return
                try:
                    asyncio.run(ensure_topics(KafkaClients(self.settings, self.url)))
                except Exception:
                    self.log.exception("could not recreate the topics on %s", self.url)
            elif up and tick % self.sample_every == 0:
                now = self._sample()
                if now:
                    seen = {p: max(end, seen.get(p, 0)) for p, end in now.items()}
            tick += 1
            time.sleep(self.interval)

    def _restart(self, why: str) -> None:
        self.log.error("%s: restarting the worker; pages without an outcome are re-sent from the archive", why)
        marker = self.settings.data_path / RESTART_MARKER
        marker.write_text(json.dumps({"reason": why, "broker_started_at": datetime.now(UTC).isoformat()}))
        os.kill(os.getpid(), signal.SIGTERM)  # a clean stop: the sink writes and commits what it holds


def run_worker(settings: Settings) -> int:
    """Blocks until the worker stops (SIGTERM / Ctrl-C); stops the broker it started. Returns the exit code."""
    settings.data_path.mkdir(parents=True, exist_ok=True)
    if os.environ.get(SUPERVISED):  # the supervisor claimed the data directory and chose the web port
        if (supervised_url := kafka_url(settings)) is None:
            raise RuntimeError(f"{SUPERVISED} is set but KAFKA_URL is not: the supervisor always passes both")
        return _run_faust(settings, supervised_url, holds_data_dir=os.environ.get(HOLDS_DATA_DIR) == "1")
    lock = claim_data_dir(settings)  # before anything is started or written: a second sink worker is refused
    port_given = "web_port" in settings.model_fields_set
    settings = choose_web_port(settings)
    try:
        url = kafka_url(settings)
        if url is None or settings.kafka_url:
            return Supervisor(settings, url, holds_data_dir=lock is not None, port_given=port_given).run()
        # A second worker on the broker another `run` started: that run supervises the broker.
        return _run_faust(on_local_broker(settings), url, holds_data_dir=lock is not None)
    finally:
        if lock:
            lock.release()


def _run_faust(settings: Settings, url: str, holds_data_dir: bool) -> int:
    from streams.runtime.warehouse_thread import WarehouseThread, holds_warehouse
    from streams.warehouse.client import worker_address_file  # here, not at the top: the supervisor, which starts
    # the broker and this worker's process, does not need clickhouse_connect (~0.06-0.1 s CPU before it starts them)

    # Before the heavy imports: the warehouse (chDB, migrations) opens while they run and the groups join.
    warehouse_thread = WarehouseThread(settings)
    if holds_warehouse(settings):
        warehouse_thread.open_early()

    if settings.memory_trace is not None:
        from streams.runtime.memory_trace import MemoryTrace

        MemoryTrace(settings.memory_trace, settings.memory_trace_seconds).start()
    from faust.worker import Worker

    from streams.pipeline.topology import create_app

    started = os.environ.get(BROKER_STARTED_AT)
    asyncio.run(ensure_topics(KafkaClients(settings, url)))
    app = create_app(settings, url, broker_started_at=datetime.fromisoformat(started) if started else None,
                     broker_restarts=int(os.environ.get(BROKER_RESTARTS, "0") or 0), warehouse_thread=warehouse_thread)
    BrokerWatchdog(settings, url, app.metrics).start()
    # The address file names the worker that holds the warehouse: `sql`, `reconcile` and workers
    # started with NEWSSTREAM_SINK=false reach the embedded ClickHouse through it. Only the holder of the
    # data directory's lock writes (and removes) it, so a refused or extra worker never hides the first.
    address = worker_address_file(settings) if holds_data_dir else None
    if address:
        address.write_text(json.dumps({"web_url": f"http://{settings.web_host}:{settings.web_port}",
                                       "pid": os.getpid(), "kafka_url": url}))
    logging.getLogger("newsstream").setLevel(settings.log_level.upper())
    try:
        Worker(app, loglevel=settings.log_level, quiet=True,
               logging_config=logging_config(settings.log_format, settings.log_level)).execute_from_commandline()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        if address:
            address.unlink(missing_ok=True)
    return 0
