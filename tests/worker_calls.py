"""Short calls to a worker the test started itself (its web URL in hand), over the product's WorkerWarehouse."""

from __future__ import annotations

from collections.abc import Mapping

from streams.settings import Settings
from streams.warehouse.client import WorkerError, WorkerWarehouse, connect, worker_web_url
from streams.warehouse.sql_door import Answer

__all__ = ["WorkerError", "ask_worker", "post_worker", "query_worker", "worker_action"]


def ask_worker(web_url: str, query: str, timeout: float = 60.0, parameters: dict | None = None,
               token: str | None = None) -> Answer:
    return WorkerWarehouse(web_url, token, timeout).analyst(query, parameters)


def query_worker(web_url: str, query: str, timeout: float = 60.0, parameters: dict | None = None,
                 token: str | None = None) -> tuple[list[str], list[tuple]]:
    return WorkerWarehouse(web_url, token, timeout).query(query, parameters)


def post_worker(web_url: str, action: str, params: Mapping[str, str | None], timeout: float = 600.0,
                token: str | None = None) -> dict:
    return WorkerWarehouse(web_url, token, action_timeout=timeout).post(action, params)


def worker_action(settings: Settings, action: str, params: dict[str, str]) -> dict | None:
    """POST /<action> on the worker holding the embedded warehouse; None when no such worker runs."""
    warehouse = connect(settings) if settings.embedded_warehouse and worker_web_url(settings) else None
    return warehouse.post(action, params) if isinstance(warehouse, WorkerWarehouse) else None
