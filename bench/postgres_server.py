"""A throwaway PostgreSQL server in a temporary folder, on loopback only.

`initdb` and `postgres` refuse to run as root, so when the tests run as root
the folder is handed to the ``postgres`` system user and every server command
runs through ``runuser``. The server listens on 127.0.0.1 at a free port (and
a Unix socket inside its folder); `stop()` and `start()` let fault tests take
it away mid-batch and bring it back on the same port and data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from contextlib import suppress
from pathlib import Path

from bench.local_server import free_port

__all__ = ["BIN", "PostgresServer", "postgres_available"]

BIN = Path("/usr/lib/postgresql/15/bin")
_USER = "postgres"  # the Debian package's system user, used when running as root


def postgres_available() -> bool:
    return (BIN / "initdb").exists() and (BIN / "pg_ctl").exists()


class PostgresServer:
    """``with PostgresServer() as pg: pg.url`` — trust auth, loopback only."""

    def __init__(self, *, fsync: bool = False) -> None:
        self.fsync = fsync
        self.root = Path(tempfile.mkdtemp(prefix="ponder-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", _USER, "--", *args] if self._as_root else list(args)

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            self._cmd(*args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr[-2000:]}{done.stdout[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://ponder@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        if self._as_root:
            shutil.chown(self.root, _USER)
        self._run(
            str(BIN / "initdb"), "-D", str(self.data), "-U", "ponder", "--auth=trust",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
            f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=200"
        )
        self._run(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> PostgresServer:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with suppress(RuntimeError, subprocess.TimeoutExpired):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
