"""Start a Faust worker for the topology, with the local broker when KAFKA_URL is unset."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys

from streams.broker import LocalBroker, bootstrap_servers, kafka_url
from streams.logs import logging_config
from streams.settings import Settings
from streams.topics import ensure_topics


def worker_address_file(settings: Settings):
    return settings.data_path / "worker.json"


def run_worker(settings: Settings) -> None:
    """Blocks until the worker stops (SIGTERM / Ctrl-C); stops the broker it started."""
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
        # started with NEWSSTREAM_SINK=false reach the embedded ClickHouse through it.
        address = worker_address_file(settings) if settings.run_sink else None
        if address:
            address.write_text(json.dumps({"web_url": f"http://{settings.web_host}:{settings.web_port}",
                                           "pid": os.getpid(), "kafka_url": url}))
        logging.getLogger("newsstream").setLevel(settings.log_level.upper())
        try:
            Worker(app, loglevel=settings.log_level, quiet=True,
                   logging_config=logging_config(settings.log_format, settings.log_level)).execute_from_commandline()
        except SystemExit:
            pass
        finally:
            if address:
                address.unlink(missing_ok=True)
    finally:
        if broker:
            broker.stop()
