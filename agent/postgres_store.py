"""The Postgres run store: checkpoints and the runs index shared by many processes.

Checkpoints go through ``langgraph-checkpoint-postgres`` (its async saver on a
psycopg connection pool) with the same strict serializer as the SQLite store,
so a tampered checkpoint is refused the same way. Ponder's runs index is a
table of its own (``ponder_runs``). Setup runs under a Postgres advisory lock,
so many workers starting at once create the tables once and none fails.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agent.checkpointing import checkpoint_serde
from agent.errors import (
    ConfigError,
    MissingDependencyError,
    StoreUnavailableError,
)
from agent.run_index import RunIndex

try:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool
except ImportError as exc:  # pragma: no cover - depends on the install
    raise MissingDependencyError(
        f"the Postgres store needs {exc.name}", hint="pip install 'ponder[postgres]'"
    ) from exc

__all__ = ["PostgresRunStore", "redact"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ponder_runs (
    run_id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    options TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    heartbeat_at DOUBLE PRECISION NOT NULL DEFAULT 0
)
"""
_BATCHES = """
CREATE TABLE IF NOT EXISTS ponder_batches (
    batch_id TEXT PRIMARY KEY,
    manifest TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
)
"""
# One advisory lock key for Ponder's setup (any constant; it names no table).
_SETUP_LOCK = 0x504F4E44  # "POND"
_CONNECT_TIMEOUT_S = 10
_SETUP_WAIT_S = 120


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresRunStore(RunIndex):
    """A `Store` in one Postgres database; give it a ``postgresql://`` URL."""

    _mark = "%s"
    _taken = psycopg.errors.UniqueViolation

    def __init__(self, url: str, *, local_dir: Path) -> None:
        self.url = url
        self._local_dir = local_dir
        try:
            with self._connect() as conn:
                _take_setup_lock(conn)
                try:
                    conn.execute(_SCHEMA)
                    conn.execute(_BATCHES)
                    PostgresSaver(conn).setup()  # type: ignore[arg-type]
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))
        except psycopg.Error as exc:
            raise ConfigError(
                f"cannot open the Postgres run store at {redact(url)}: {_first_line(exc)}",
                hint="check that the server is up and the URL (user, host, port, database)",
            ) from exc

    @property
    def local_dir(self) -> Path:
        return self._local_dir

    def _place(self) -> str:
        return redact(self.url)

    def __repr__(self) -> str:
        return f"PostgresRunStore({redact(self.url)!r})"

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        return psycopg.connect(
            self.url,
            autocommit=True,
            prepare_threshold=0,
            row_factory=dict_row,
            connect_timeout=_CONNECT_TIMEOUT_S,
        )

    @contextmanager
    def _index(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """A connection for the runs index; an outage becomes `StoreUnavailableError`."""
        try:
            with psycopg.connect(
                self.url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
            ) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(
                f"the run store at {redact(self.url)} is unreachable: {_first_line(exc)}"
            ) from exc

    @asynccontextmanager
    async def checkpointer(self) -> AsyncIterator[AsyncPostgresSaver]:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=4,
            open=False,
            timeout=_CONNECT_TIMEOUT_S,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        try:
            await pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:  # PoolTimeout is one
            await pool.close()
            raise StoreUnavailableError(
                f"the run store at {redact(self.url)} is unreachable: {_first_line(exc)}"
            ) from exc
        try:
            yield AsyncPostgresSaver(pool, serde=checkpoint_serde())  # type: ignore[arg-type]
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(
                f"lost the run store at {redact(self.url)} mid-run: {_first_line(exc)}"
            ) from exc
        finally:
            await pool.close()


def _take_setup_lock(conn: psycopg.Connection[dict[str, Any]]) -> None:
    """Poll for the setup lock instead of blocking on it: LangGraph's migrations build
    indexes CONCURRENTLY, which wait for every open statement, so a session blocked
    in ``pg_advisory_lock`` would deadlock with the one holding the lock."""
    deadline = time.monotonic() + _SETUP_WAIT_S
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (_SETUP_LOCK,)).fetchone()
        if row is not None and row["got"]:
            return
        if time.monotonic() > deadline:
            raise ConfigError(f"another process held the store's setup lock for {_SETUP_WAIT_S}s")
        time.sleep(0.05)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
