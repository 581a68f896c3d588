"""A web port another process takes while `newsstream run` starts its worker: the worker cannot bind it and exits;
the supervisor gives it another port (as for a port busy before start) instead of ending the whole run."""

from __future__ import annotations

import socket

import streams.runtime.worker as worker
from streams.settings import Settings


class Child:
    def __init__(self, code: int | None):
        self.code = self.returncode = code

    def poll(self) -> int | None:
        return self.code

    def send_signal(self, signum) -> None:
        self.code = self.returncode = 0

    def wait(self, timeout=None) -> int | None:
        return self.code


def _run(monkeypatch, tmp_path, port_given: bool, first_exit: int = 1) -> tuple[list[int], int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free when the worker starts ...
    taken: list[socket.socket] = []
    settings = Settings(_env_file=None, data_dir=str(tmp_path), web_host="127.0.0.1", web_port=port)
    supervisor = worker.Supervisor(settings, "kafka://127.0.0.1:1", port_given=port_given)
    ports: list[int] = []

    def popen(cmd, env, **_):
        ports.append(int(env["NEWSSTREAM_WEB_PORT"]))
        if len(ports) == 1:  # ... and taken by another process while it starts
            taken.append(socket.socket())
            taken[0].bind(("127.0.0.1", port))
            taken[0].listen()
        if len(ports) > 1:
            supervisor.stopping = True  # the second child runs until the run is stopped
        return Child(first_exit if len(ports) == 1 else None)

    monkeypatch.setattr(worker, "_kafka_reachable", lambda url: False)
    monkeypatch.setattr(worker.subprocess, "Popen", popen)
    try:
        code = supervisor.run()
    finally:
        for sock in taken:
            sock.close()
    return ports, code


def test_a_port_taken_during_start_gives_the_worker_another(monkeypatch, tmp_path):
    ports, code = _run(monkeypatch, tmp_path, port_given=False)
    assert len(ports) == 2 and ports[1] != ports[0] and code == 0


def test_a_port_the_user_chose_is_not_replaced(monkeypatch, tmp_path):
    ports, code = _run(monkeypatch, tmp_path, port_given=True)
    assert len(ports) == 1 and code == 1  # NEWSSTREAM_WEB_PORT=N busy: the worker's own error is the answer


def test_a_worker_that_fails_for_another_reason_is_not_restarted(monkeypatch, tmp_path):
    ports, code = _run(monkeypatch, tmp_path, port_given=False, first_exit=0)  # a clean exit: nothing to retry
    assert len(ports) == 1 and code == 0


def test_a_worker_killed_beside_the_local_broker_says_so(monkeypatch, tmp_path, capsys):
    """kill -9 of the worker under `newsstream run` (local broker) ended the run without a line of its own."""
    settings = Settings(_env_file=None, data_dir=str(tmp_path), web_host="127.0.0.1", web_port=6066)
    supervisor = worker.Supervisor(settings, None)

    class Broker:
        url, process = "kafka://127.0.0.1:1", None

        def stop(self) -> None:
            pass

    def start_broker(port=None):
        supervisor.broker = Broker()  # type: ignore[assignment]
        return None

    monkeypatch.setattr(supervisor, "_start_broker", start_broker)
    monkeypatch.setattr(worker, "WORKED_SECONDS", 0.0)  # it ran a while before the kill
    monkeypatch.setattr(worker.subprocess, "Popen", lambda cmd, env, **_: Child(-9))
    assert supervisor.run() == -9
    assert "newsstream run: the worker exited (code -9) after 0s; stopping. Start `newsstream run` again" \
        in capsys.readouterr().err
