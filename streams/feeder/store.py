"""What the feeder has sent, in SQLite next to the other local state, so a restart fetches nothing twice.

A URL is 'sent' once its page is on the raw topic; it counts as landed only when the warehouse's
ledger holds an outcome for it. Sent URLs that never landed (the local broker keeps nothing across
restarts) become eligible again after a grace period: see Feeder.reconcile.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


FINAL = 2  # `landed`: 0 waits for a ledger outcome, 1 has one, FINAL needs none


class SeenStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS pages (canonical TEXT PRIMARY KEY, url TEXT NOT NULL, source TEXT NOT NULL,
                                              sent_at REAL NOT NULL, landed INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS validators (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT);
        """)

    def seen(self, canonical: str) -> bool:
        return self.db.execute("SELECT 1 FROM pages WHERE canonical = ?", (canonical,)).fetchone() is not None

    def mark_sent(self, canonical: str, url: str, source: str, at: float | None = None) -> None:
        self.db.execute("INSERT OR REPLACE INTO pages (canonical, url, source, sent_at, landed) VALUES (?, ?, ?, ?, 0)",
                        (canonical, url, source, at if at is not None else time.time()))
        self.db.commit()

    def mark_final(self, canonical: str, url: str, source: str) -> None:
        """Seen, with nothing to wait for in the ledger: refused by robots.txt or the guard, gone (4xx), or
        oversized (its dead letter is the outcome; the ledger only records pages that reached the raw topic)."""
        self.db.execute("INSERT OR REPLACE INTO pages (canonical, url, source, sent_at, landed) VALUES (?, ?, ?, ?, ?)",
                        (canonical, url, source, time.time(), FINAL))
        self.db.commit()

    def unlanded(self, older_than: float) -> list[tuple[str, str]]:
        """(canonical, url) of pages sent before `older_than` (epoch seconds) whose outcome was not yet seen."""
        return self.db.execute("SELECT canonical, url FROM pages WHERE landed = 0 AND sent_at < ?",
                               (older_than,)).fetchall()

    def mark_landed(self, canonicals: list[str]) -> None:
        self.db.executemany("UPDATE pages SET landed = 1 WHERE canonical = ?", [(c,) for c in canonicals])
        self.db.commit()

    def forget(self, canonicals: list[str]) -> None:
        """Make pages eligible again: they were sent but no outcome ever reached the warehouse."""
        self.db.executemany("DELETE FROM pages WHERE canonical = ?", [(c,) for c in canonicals])
        self.db.commit()

    def validators(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute("SELECT etag, last_modified FROM validators WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def set_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        self.db.execute("INSERT OR REPLACE INTO validators (url, etag, last_modified) VALUES (?, ?, ?)",
                        (url, etag, last_modified))
        self.db.commit()

    def close(self) -> None:
        self.db.close()
