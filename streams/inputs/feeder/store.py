"""What the feeder has sent, in SQLite next to the other local state, so a restart fetches nothing twice.

A URL is 'sent' once its page is on the raw topic; it counts as landed only when the warehouse's
ledger holds an outcome for it. Sent URLs that never landed (the local broker keeps nothing across
restarts) become eligible again after a grace period: see Feeder.reconcile.

URLs a source listed but the feeder has not yet sent or finally answered wait in `pending`: a feed
that answers 304 next time, a poll cap, a 5xx or a stop in between does not lose them.
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
            CREATE TABLE IF NOT EXISTS pending (canonical TEXT PRIMARY KEY, url TEXT NOT NULL, source TEXT NOT NULL,
                                                found_at REAL NOT NULL, rank INTEGER NOT NULL,
                                                attempts INTEGER NOT NULL DEFAULT 0);
            CREATE INDEX IF NOT EXISTS pending_by_source ON pending (source, found_at, rank);
        """)

    def seen(self, canonical: str) -> bool:
        return self.db.execute("SELECT 1 FROM pages WHERE canonical = ?", (canonical,)).fetchone() is not None

    def mark_sent(self, canonical: str, url: str, source: str, at: float | None = None) -> None:
        self.db.execute("INSERT OR REPLACE INTO pages (canonical, url, source, sent_at, landed) VALUES (?, ?, ?, ?, 0)",
                        (canonical, url, source, at if at is not None else time.time()))
        self.db.execute("DELETE FROM pending WHERE canonical = ?", (canonical,))
        self.db.commit()

    def mark_final(self, canonical: str, url: str, source: str) -> None:
        """Seen, with nothing to wait for in the ledger: refused by robots.txt or the guard, gone (4xx), or
        oversized (its dead letter is the outcome; the ledger only records pages that reached the raw topic)."""
        self.db.execute("INSERT OR REPLACE INTO pages (canonical, url, source, sent_at, landed) VALUES (?, ?, ?, ?, ?)",
                        (canonical, url, source, time.time(), FINAL))
        self.db.execute("DELETE FROM pending WHERE canonical = ?", (canonical,))
        self.db.commit()

    def mark_alias(self, canonical: str, url: str, source: str) -> None:
        """A redirect's target: the page was sent under the URL that led there, so this one is not fetched again.
        Final (nothing to wait for): if the first URL never lands, reconcile makes that one eligible again."""
        self.db.execute("INSERT OR IGNORE INTO pages (canonical, url, source, sent_at, landed) VALUES (?, ?, ?, ?, ?)",
                        (canonical, url, source, time.time(), FINAL))
        self.db.execute("DELETE FROM pending WHERE canonical = ?", (canonical,))
        self.db.commit()

    def add_pending(self, source: str, found: list[tuple[str, str]], keep: int) -> int:
        """(canonical, url) pairs a poll of `source` listed, in the source's order (newest first), minus those
        already seen; keeps the `keep` most recently listed of the source. Returns how many were already seen.

        A URL listed by two sources stays with the first (one fetch); one listed again moves to the front."""
        now = time.time()
        seen = 0
        listed: set[str] = set()
        for rank, (canonical, url) in enumerate(found):
            if canonical in listed:
                continue
            listed.add(canonical)
            if self.seen(canonical):
                seen += 1
                continue
            self.db.execute("""INSERT INTO pending (canonical, url, source, found_at, rank) VALUES (?, ?, ?, ?, ?)
                               ON CONFLICT (canonical) DO UPDATE SET found_at = excluded.found_at,
                               rank = excluded.rank WHERE pending.source = excluded.source""",
                            (canonical, url, source, now, rank))
        self.db.execute("""DELETE FROM pending WHERE source = ? AND canonical NOT IN (
                               SELECT canonical FROM pending WHERE source = ? ORDER BY found_at DESC, rank LIMIT ?)""",
                        (source, source, keep))
        self.db.commit()
        return seen

    def pending(self, source: str, limit: int) -> list[tuple[str, str]]:
        """(canonical, url) to fetch next for `source`: most recently listed first."""
        return self.db.execute("""SELECT canonical, url FROM pending WHERE source = ?
                                  ORDER BY found_at DESC, rank LIMIT ?""", (source, limit)).fetchall()

    def failed_attempt(self, canonical: str) -> int:
        """One more poll in which the page could not be fetched (5xx, timeout); returns the count so far."""
        self.db.execute("UPDATE pending SET attempts = attempts + 1 WHERE canonical = ?", (canonical,))
        self.db.commit()
        row = self.db.execute("SELECT attempts FROM pending WHERE canonical = ?", (canonical,)).fetchone()
        return row[0] if row else 0

    def drop_pending_except(self, sources: list[str]) -> int:
        """Pending URLs of sources no longer configured would wait forever: dropped."""
        marks = ",".join("?" * len(sources)) or "''"
        dropped = self.db.execute(f"DELETE FROM pending WHERE source NOT IN ({marks})", sources).rowcount
        self.db.commit()
        return dropped

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

    def requeue(self, canonicals: list[str], sources: list[str]) -> None:
        """Sent pages that never landed: those of `sources` wait in front of their source's pending URLs
        (found again now); all become unseen."""
        now = time.time()
        for canonical in canonicals:
            row = self.db.execute("SELECT url, source FROM pages WHERE canonical = ?", (canonical,)).fetchone()
            if row and row[1] in sources:
                self.db.execute("""INSERT INTO pending (canonical, url, source, found_at, rank) VALUES (?, ?, ?, ?, -1)
                                   ON CONFLICT (canonical) DO NOTHING""", (canonical, row[0], row[1], now))
        self.forget(canonicals)

    def validators(self, url: str) -> tuple[str | None, str | None]:
        row = self.db.execute("SELECT etag, last_modified FROM validators WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def set_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        self.db.execute("INSERT OR REPLACE INTO validators (url, etag, last_modified) VALUES (?, ?, ?)",
                        (url, etag, last_modified))
        self.db.commit()

    def close(self) -> None:
        self.db.close()
