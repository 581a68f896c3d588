"""ClickHouse through clickhouse-connect: one code path, the URL picks server (http[s]://) or chDB (chdb:///dir)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect

from schemas import MIGRATIONS_DIR

DEFAULT_DATABASE = "newsstream"
_MIGRATION_NAME = re.compile(r"^(\d+)_.*\.sql$")


def split_statements(sql: str) -> list[str]:
    """Statements of a migration file: separated by ';' at a line end; '--' comment lines dropped."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


_DDL_NAME = re.compile(r"^((?:CREATE (?:TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS|ALTER TABLE) [\w.]+)", re.I)
_RENAME = re.compile(r"^RENAME TABLE (\w+) TO (\w+)$", re.I)
_ENGINE = re.compile(r"ENGINE = (Replacing|Aggregating|)MergeTree(?:\(([^)]*)\))?")


def on_cluster(statement: str, cluster: str) -> str:
    """The same DDL for a replicated cluster: ON CLUSTER, and each MergeTree engine as its Replicated twin.

    Replicas of one shard then hold the same data and every query sees all of it. Sharding further means
    Distributed tables over these, keyed by cityHash64(article_id) so a replay lands on the same shard.
    """
    statement = _DDL_NAME.sub(lambda m: f"{m.group(1)} ON CLUSTER '{cluster}'", statement, count=1)
    if statement.upper().startswith("RENAME TABLE"):  # RENAME names its cluster at the end
        statement = f"{statement} ON CLUSTER '{cluster}'"

    def replicated(m: re.Match) -> str:
        args = ["'/clickhouse/tables/{shard}/{database}/{table}'", "'{replica}'"] + ([m.group(2)] if m.group(2) else [])
        return f"ENGINE = Replicated{m.group(1)}MergeTree({', '.join(args)})"

    return _ENGINE.sub(replicated, statement)


def migrations(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, str, str]]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        if m := _MIGRATION_NAME.match(path.name):
            found.append((int(m.group(1)), path.name, path.read_text("utf-8")))
    return found


class Warehouse:
    def __init__(self, url: str):
        self.url = url
        self.embedded = url.startswith("chdb://")
        if self.embedded:
            Path(url.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
            bootstrap = clickhouse_connect.get_client(dsn=url)
            bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {DEFAULT_DATABASE}")
            self.client = clickhouse_connect.get_client(dsn=url, database=DEFAULT_DATABASE)
        else:
            database = urlsplit(url).path.strip("/") or DEFAULT_DATABASE
            self.client = clickhouse_connect.get_client(dsn=url, database=database)
        self._columns: dict[str, list[str]] = {}

    def migrate(self, cluster: str | None = None) -> list[str]:
        """Apply the numbered migrations not yet recorded in `schema_migrations`; return their names.
        With `cluster`, every statement runs ON CLUSTER with Replicated engines (see on_cluster)."""
        ddl = (lambda sql: on_cluster(sql, cluster)) if cluster else (lambda sql: sql)
        self.client.command(ddl(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version UInt32, name String, applied_at DateTime64(3, 'UTC')) "
            "ENGINE = ReplacingMergeTree ORDER BY version"
        ))
        done = {row[0] for row in self.client.query("SELECT version FROM schema_migrations").result_rows}
        applied = []
        for version, name, sql in migrations():
            if version in done:
                continue
            for statement in split_statements(sql):
                if self._rename_done(statement):
                    continue
                self.client.command(ddl(statement))
            self.client.insert("schema_migrations", [[version, name, datetime.now(UTC)]],
                               column_names=["version", "name", "applied_at"])
            applied.append(name)
        self._columns.clear()
        return applied

    def _rename_done(self, statement: str) -> bool:
        """A RENAME cannot be written idempotently in SQL: it is skipped once its source is gone or its target
        exists (a migration interrupted after it and run again)."""
        m = _RENAME.match(statement)
        if not m:
            return False
        rows = self.client.query("SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN "
                                 "({a:String}, {b:String})", parameters={"a": m.group(1), "b": m.group(2)}).result_rows
        names = {r[0] for r in rows}
        return m.group(1) not in names or m.group(2) in names

    def columns(self, table: str) -> list[str]:
        """Column names as the DDL declares them: rows are checked against these, never a hand-kept list."""
        if table not in self._columns:
            result = self.client.query(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
                "ORDER BY position", parameters={"t": table})
            self._columns[table] = [r[0] for r in result.result_rows]
            if not self._columns[table]:
                raise LookupError(f"table {table!r} does not exist; run `newsstream migrate`")
        return self._columns[table]

    def insert_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        columns = self.columns(table)
        missing = set(columns) - rows[0].keys()
        extra = rows[0].keys() - set(columns)
        if missing or extra:
            raise ValueError(f"rows for {table} do not match its DDL: missing {sorted(missing)}, extra {sorted(extra)}")
        self.client.insert(table, [[row[c] for c in columns] for row in rows], column_names=columns)

    def query(self, sql: str, parameters: dict | None = None, readonly: bool = False) -> tuple[list[str], list[tuple]]:
        try:
            result = self.client.query(sql, parameters=parameters, settings={"readonly": 1} if readonly else None)
        finally:
            if readonly and self.embedded:
                self._drop_sticky_readonly()
        return list(result.column_names), [tuple(r) for r in result.result_rows]

    def _drop_sticky_readonly(self) -> None:
        """chDB keeps `readonly=1` for the session after a refused write statement, so every later insert would
        fail too: reopen the client when that happened."""
        if self.client.query("SELECT getSetting('readonly')").result_rows[0][0]:
            self.client.close()
            self.client = clickhouse_connect.get_client(dsn=self.url, database=DEFAULT_DATABASE)

    def close(self) -> None:
        self.client.close()
