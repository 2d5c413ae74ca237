"""Switch a SQLite file to WAL when several connections open it at once.

Why: ``PRAGMA journal_mode=WAL`` needs an exclusive lock the first time, and
SQLite answers "database is locked" at once, without its busy handler, when two
connections race to make that switch on a new file (seen when ``ponder eval``
opened one corpus index from concurrent runs). WAL is stored in the file, so a
file already in WAL needs no switch; otherwise the switch is retried, bounded.
"""

from __future__ import annotations

import random
import sqlite3
import time

__all__ = ["use_wal"]


def use_wal(conn: sqlite3.Connection, *, timeout_s: float) -> None:
    """Put ``conn``'s database in WAL mode, retrying a locked switch for up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() == "wal":
                return
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(random.uniform(0.01, 0.05))
