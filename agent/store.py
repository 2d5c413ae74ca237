"""Where runs live: one SQLite file with LangGraph's checkpoints and an index of runs.

The checkpoints hold everything a run learned (so ``ponder resume`` redoes
nothing finished); the ``ponder_runs`` table holds what is needed to rebuild
the run's graph (task, model spec, tool options, settings) and its status.
The file is in WAL mode with a busy timeout so several processes can share it,
and checkpoints are read with a msgpack allowlist of Ponder's own types only:
a tampered checkpoint naming any other type is refused, and nothing is
unpickled.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from pydantic import BaseModel

from agent.checkpointing import checkpoint_serde
from agent.errors import ConfigError, RunNotFoundError
from agent.state import RunStatus

__all__ = [
    "RunRecord",
    "RunStore",
    "default_store_path",
]

_BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ponder_runs (
    run_id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    options TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
)
"""


class RunRecord(BaseModel):
    run_id: str
    task: str
    status: RunStatus
    options: dict[str, Any]
    created_at: float
    updated_at: float


def default_store_path(env: Mapping[str, str]) -> Path:
    """``$PONDER_HOME/runs.sqlite``, else the per-user data dir."""
    home = env.get("PONDER_HOME")
    if home:
        return Path(home).expanduser() / "runs.sqlite"
    from platformdirs import user_data_dir

    return Path(user_data_dir("ponder", appauthor=False)) / "runs.sqlite"


class RunStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the run store at {path}: {exc}",
                hint="pass --store PATH or set PONDER_HOME",
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        return db

    @asynccontextmanager
    async def checkpointer(self) -> AsyncIterator[AsyncSqliteSaver]:
        async with aiosqlite.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000) as conn:
            await conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode=WAL")
            saver = AsyncSqliteSaver(conn, serde=checkpoint_serde())
            await saver.setup()
            yield saver

    def save(self, run_id: str, task: str, options: Mapping[str, Any]) -> None:
        now = time.time()
        with self._connect() as db:
            db.execute(
                "INSERT INTO ponder_runs VALUES (?, ?, 'running', ?, ?, ?) "
                "ON CONFLICT(run_id) DO UPDATE SET status='running', "
                "updated_at=excluded.updated_at",
                (run_id, task, json.dumps(dict(options)), now, now),
            )

    def set_status(self, run_id: str, status: RunStatus) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE ponder_runs SET status=?, updated_at=? WHERE run_id=?",
                (status, time.time(), run_id),
            )

    def get(self, run_id: str) -> RunRecord:
        with self._connect() as db:
            row = db.execute("SELECT * FROM ponder_runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(f"no run {run_id!r} in {self.path}")
        return _record(row)

    def list(self, limit: int = 50) -> list[RunRecord]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM ponder_runs ORDER BY created_at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_record(r) for r in rows]


def _record(row: tuple[Any, ...]) -> RunRecord:
    run_id, task, status, options, created, updated = row
    return RunRecord(
        run_id=run_id,
        task=task,
        status=status,
        options=json.loads(options),
        created_at=created,
        updated_at=updated,
    )
