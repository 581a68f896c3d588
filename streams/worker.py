"""Start a Faust worker for the topology, with the local broker when KAFKA_URL is unset."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys

from streams.broker import LocalBroker, bootstrap_servers, kafka_url
from streams.data_dir import choose_web_port, claim_data_dir
from streams.logs import logging_config
from streams.settings import Settings
from streams.topics import ensure_topics


def worker_address_file(settings: Settings):
    return settings.data_path / "worker.json"


def run_worker(settings: Settings) -> int:
    """Blocks until the worker stops (SIGTERM / Ctrl-C); stops the broker it started; returns the exit code."""
    lock = claim_data_dir(settings)  # before anything is started or written: a second sink worker is refused
    settings = choose_web_port(settings)
    try:
        return _run(settings, holds_data_dir=lock is not None)
    finally:
        if lock:
            lock.release()


def _run(settings: Settings, holds_data_dir: bool) -> int:
    from faust.worker import Worker

    from streams.topology import create_app

    settings.data_path.mkdir(parents=True, exist_ok=True)
    broker = None
    url = kafka_url(settings)
    if url is None:
        broker = LocalBroker(settings.data_path).start()
        url = broker.url
        print(f"local broker (Tansu) on {url}", file=sys.stderr)
    try:
        asyncio.run(ensure_topics(bootstrap_servers(url), settings))
        app = create_app(settings, url)
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
        except SystemExit as exc:  # Faust's exit status is the command's (a failed start is not a success)
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            if address:
                address.unlink(missing_ok=True)
        return 0
    finally:
        if broker:
            broker.stop()
