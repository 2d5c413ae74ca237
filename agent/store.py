"""Where runs live: LangGraph's checkpoints plus an index of runs, in SQLite or Postgres.

SQLite (one file) is the embedded default; a ``postgresql://`` URL (``--store``
or ``PONDER_STORE``) selects `agent.postgres_store.PostgresRunStore`, which
offers the same `Store` interface to many processes and machines.

The checkpoints hold everything a run learned (so ``ponder resume`` redoes
nothing finished); the ``ponder_runs`` table holds what is needed to rebuild
the run's graph (task, model spec, tool options, settings) and its status.
The file is in WAL mode with a busy timeout so several processes can share it,
and checkpoints are read with a msgpack allowlist of Ponder's own types only:
a tampered checkpoint naming any other type is refused, and nothing is
unpickled.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Protocol

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agent._internal.sqlite_wal import use_wal
from agent.checkpointing import checkpoint_serde
from agent.errors import ConfigError
from agent.run_index import COLUMNS, RunIndex, RunRecord, record_from_row
from agent.state import RunStatus

__all__ = [
    "COLUMNS",
    "RunRecord",
    "RunStore",
    "Store",
    "default_store_path",
    "is_postgres_url",
    "open_store",
    "record_from_row",
]

_BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ponder_runs (
    run_id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    options TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    heartbeat_at REAL NOT NULL DEFAULT 0
)
"""
# Stores made before the lease existed get its columns (a running row there reads
# as interrupted: heartbeat 0 is long past).
_LEASE_COLUMNS = {"owner": "TEXT NOT NULL DEFAULT ''", "heartbeat_at": "REAL NOT NULL DEFAULT 0"}
_BATCHES = """
CREATE TABLE IF NOT EXISTS ponder_batches (
    batch_id TEXT PRIMARY KEY,
    manifest TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""


def default_store_path(env: Mapping[str, str]) -> Path:
    """``$PONDER_HOME/runs.sqlite``, else the per-user data dir."""
    home = env.get("PONDER_HOME")
    if home:
        return Path(home).expanduser() / "runs.sqlite"
    from platformdirs import user_data_dir

    return Path(user_data_dir("ponder", appauthor=False)) / "runs.sqlite"


class Store(Protocol):
    """What every run store offers: a checkpointer for graphs and an index of runs."""

    @property
    def local_dir(self) -> Path:
        """A folder on this machine for caches (the corpus index)."""
        ...

    def checkpointer(self) -> AbstractAsyncContextManager[BaseCheckpointSaver[str]]: ...
    def save(self, run_id: str, task: str, options: Mapping[str, Any]) -> None: ...
    def set_status(self, run_id: str, status: RunStatus) -> None: ...
    def beat(self, run_id: str) -> None:
        """Refresh this process's lease on a run it is running."""
        ...

    def get(self, run_id: str) -> RunRecord: ...
    def list(self, limit: int = 50) -> list[RunRecord]: ...
    def save_batch(self, batch_id: str, manifest: Mapping[str, Any]) -> None:
        """Keep what ``ponder batch --resume`` needs (tasks, options); refuse a taken id."""
        ...

    def get_batch(self, batch_id: str) -> dict[str, Any]: ...


def is_postgres_url(spec: str) -> bool:
    return spec.startswith(("postgresql://", "postgres://"))


def open_store(spec: str | None, env: Mapping[str, str]) -> Store:
    """The store named by ``spec`` (a file or ``postgresql://`` URL), else ``PONDER_STORE``,
    else the default SQLite file."""
    spec = spec or env.get("PONDER_STORE") or None
    if spec and is_postgres_url(spec):
        from agent.postgres_store import PostgresRunStore

        return PostgresRunStore(spec, local_dir=default_store_path(env).parent)
    return RunStore(Path(spec).expanduser() if spec else default_store_path(env))


class RunStore(RunIndex):
    """The SQLite store: one file, shared by processes on one machine."""

    _taken = sqlite3.IntegrityError

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._index() as db:
                use_wal(db, timeout_s=_BUSY_TIMEOUT_MS / 1000)
                db.execute(_SCHEMA)
                db.execute(_BATCHES)
                have = {row[1] for row in db.execute("PRAGMA table_info(ponder_runs)")}
                for name, kind in _LEASE_COLUMNS.items():
                    if name not in have:
                        db.execute(f"ALTER TABLE ponder_runs ADD COLUMN {name} {kind}")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the run store at {path}: {exc}",
                hint="pass --store PATH or set PONDER_HOME",
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        return db

    @contextmanager
    def _index(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    def _place(self) -> str:
        return str(self.path)

    @property
    def local_dir(self) -> Path:
        return self.path.parent

    @asynccontextmanager
    async def checkpointer(self) -> AsyncIterator[AsyncSqliteSaver]:
        async with aiosqlite.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000) as conn:
            await conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            # the file is already WAL (set by __init__, stored in the file); switching
            # again from here could race another process's switch, see sqlite_wal
            saver = AsyncSqliteSaver(conn, serde=checkpoint_serde())
            await saver.setup()
            yield saver
