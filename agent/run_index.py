"""The runs and batches tables, written once for both run stores.

Why: SQLite and Postgres keep the same two tables (``ponder_runs``: what rebuilds a
run's graph, its status and lease; ``ponder_batches``: what ``ponder batch --resume``
needs) and speak the same DB-API; they differ only in the connection, the parameter
mark, the error a taken key raises and how a place is named in a message. A store
gives those four; `RunIndex` does the rest.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from pydantic import BaseModel

from agent.errors import ConfigError, RunNotFoundError
from agent.lease import live_status, this_process
from agent.state import RunStatus

__all__ = ["COLUMNS", "RunIndex", "RunRecord", "record_from_row"]

COLUMNS = "run_id, task, status, options, created_at, updated_at, owner, heartbeat_at"


class RunRecord(BaseModel):
    """One run in the index; ``status`` is as a reader should see it (see `agent.lease`)."""

    run_id: str
    task: str
    status: RunStatus
    options: dict[str, Any]
    created_at: float
    updated_at: float
    owner: str = ""
    heartbeat_at: float = 0.0


def record_from_row(row: tuple[Any, ...]) -> RunRecord:
    """A `RunRecord` from a ``ponder_runs`` row in `COLUMNS` order, its lease applied."""
    run_id, task, status, options, created, updated, owner, heartbeat_at = row
    return RunRecord(
        run_id=run_id,
        task=task,
        status=live_status(status, owner, heartbeat_at, time.time()),
        options=json.loads(options),
        created_at=created,
        updated_at=updated,
        owner=owner,
        heartbeat_at=heartbeat_at,
    )


class RunIndex(ABC):
    """The index half of a `agent.store.Store`, over any DB-API connection."""

    _mark: ClassVar[str] = "?"  # the driver's parameter mark ("%s" for psycopg)
    _taken: ClassVar[type[Exception]]  # what inserting a taken primary key raises

    @abstractmethod
    def _index(self) -> AbstractContextManager[Any]:
        """A connection in autocommit mode, closed after use."""

    @abstractmethod
    def _place(self) -> str:
        """Where the store lives, as a message names it (no secrets)."""

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._index() as conn:
            cursor = conn.execute(sql.replace("?", self._mark), params)
            return list(cursor.fetchall()) if cursor.description else []

    def save(self, run_id: str, task: str, options: Mapping[str, Any]) -> None:
        now = time.time()
        self._run(
            f"INSERT INTO ponder_runs ({COLUMNS}) VALUES (?, ?, 'running', ?, ?, ?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET status='running', "
            "updated_at=excluded.updated_at, owner=excluded.owner, "
            "heartbeat_at=excluded.heartbeat_at",
            (run_id, task, json.dumps(dict(options)), now, now, this_process(), now),
        )

    def beat(self, run_id: str) -> None:
        self._run(
            "UPDATE ponder_runs SET heartbeat_at=? WHERE run_id=? AND owner=?",
            (time.time(), run_id, this_process()),
        )

    def set_status(self, run_id: str, status: RunStatus) -> None:
        self._run(
            "UPDATE ponder_runs SET status=?, updated_at=? WHERE run_id=?",
            (status, time.time(), run_id),
        )

    def get(self, run_id: str) -> RunRecord:
        rows = self._run(f"SELECT {COLUMNS} FROM ponder_runs WHERE run_id=?", (run_id,))
        if not rows:
            raise RunNotFoundError(f"no run {run_id!r} in {self._place()}")
        return record_from_row(rows[0])

    def list(self, limit: int = 50) -> list[RunRecord]:
        rows = self._run(
            f"SELECT {COLUMNS} FROM ponder_runs ORDER BY created_at DESC LIMIT ?", (limit,)
        )
        return [record_from_row(r) for r in rows]

    def save_batch(self, batch_id: str, manifest: Mapping[str, Any]) -> None:
        try:
            self._run(
                "INSERT INTO ponder_batches VALUES (?, ?, ?)",
                (batch_id, json.dumps(dict(manifest)), time.time()),
            )
        except self._taken as exc:
            raise ConfigError(
                f"a batch {batch_id!r} already exists in {self._place()}",
                hint=f"continue it with `ponder batch --resume {batch_id}`",
            ) from exc

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        rows = self._run("SELECT manifest FROM ponder_batches WHERE batch_id=?", (batch_id,))
        if not rows:
            raise RunNotFoundError(f"no batch {batch_id!r} in {self._place()}")
        manifest: dict[str, Any] = json.loads(rows[0][0])
        return manifest
