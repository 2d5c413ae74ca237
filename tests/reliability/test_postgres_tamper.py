"""Tampered checkpoints in the Postgres store are refused, as in SQLite, and run nothing.

LangGraph's Postgres saver keeps channel values in ``checkpoint_blobs`` (one row
per channel version) and pending writes in ``checkpoint_writes``; each tamper
rewrites those rows of a real run (made by ``ponder run``) in a copy of its
database, then ``ponder show`` and ``ponder resume`` must refuse it with one
line and leave no canary file. The serializer is the SQLite store's, whose
suite tries every tamper; this one tries one of each kind on Postgres's layout.
"""

from __future__ import annotations

import pickle
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.cli_runner import PONDER, REPO, env
from bench.postgres_server import PostgresServer
from tests.reliability import checkpoint_tamper as ct

pytestmark = pytest.mark.postgres

Rewrite = Callable[[psycopg.Connection[Any], Path], None]


def _steps(value: Callable[[Path], ct.Raw]) -> Rewrite:
    """Replace step ``s1`` in every stored version of the ``steps`` channel."""

    def rewrite(db: psycopg.Connection[Any], canary: Path) -> None:
        rows = db.execute(
            "SELECT version, blob FROM checkpoint_blobs WHERE thread_id=%s AND channel='steps'",
            (ct.RUN_ID,),
        ).fetchall()
        assert rows, "the run stored no steps"
        for version, blob in rows:
            steps = ct.unpack(blob)
            steps["s1"] = value(canary)
            db.execute(
                "UPDATE checkpoint_blobs SET blob=%s WHERE thread_id=%s AND channel='steps' "
                "AND version=%s",
                (ct.pack(steps), ct.RUN_ID, version),
            )

    return rewrite


def _steps_as(kind: str, payload: Callable[[Path], bytes]) -> Rewrite:
    def rewrite(db: psycopg.Connection[Any], canary: Path) -> None:
        db.execute(
            "UPDATE checkpoint_blobs SET type=%s, blob=%s WHERE thread_id=%s AND channel='steps'",
            (kind, payload(canary), ct.RUN_ID),
        )

    return rewrite


def _pending_write(db: psycopg.Connection[Any], canary: Path) -> None:
    (newest,) = db.execute(
        "SELECT checkpoint_id FROM checkpoints WHERE thread_id=%s "
        "ORDER BY checkpoint_id DESC LIMIT 1",
        (ct.RUN_ID,),
    ).fetchone()
    db.execute(
        "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
        "task_path, idx, channel, type, blob) VALUES (%s, '', %s, 'planted', '', 0, 'answer', "
        "'msgpack', %s)",
        (ct.RUN_ID, newest, ct.pack(ct.ext(ct.SINGLE_ARG, "os", "system", f"touch {canary}"))),
    )


TAMPERS: dict[str, Rewrite] = {
    "step_os_system": _steps(lambda c: ct.ext(ct.SINGLE_ARG, "os", "system", f"touch {c}")),
    "step_unlisted_ponder_class": _steps(lambda c: ct.ext(
        ct.PYDANTIC_V2, "agent.store", "RunStore", {"path": str(c)}, "model_validate")),
    "step_module_with_import_side_effect": _steps(lambda c: ct.ext(
        ct.PYDANTIC_V2, "ponder_canary_module", "Boom", {}, "model_validate")),
    "pending_write_os_system": _pending_write,
    "type_pickle": _steps_as("pickle", lambda c: pickle.dumps(ct._Touch(str(c)))),
    "type_json_lc_constructor": _steps_as("json", ct._lc_constructor),
}  # fmt: skip


@pytest.fixture(scope="module")
def clean_database(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The name of a database holding one finished run, `ct.RUN_ID`, made by `ponder run`."""
    home = tmp_path_factory.mktemp("pg-clean")
    url = postgres_server.create_database()
    ct.make_store_with(home, {"PONDER_STORE": url})
    return url.rsplit("/", 1)[1]


def _copy(server: PostgresServer, template: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url(), autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return server.url(name)


def _ponder(command: list[str], home: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PONDER), *command],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
        env=env(home, PONDER_STORE=url, PYTHONPATH=f"{REPO}:{home / 'modules'}"),
    )  # fmt: skip


def test_the_untampered_copy_loads(
    postgres_server: PostgresServer, clean_database: str, tmp_path: Path
) -> None:
    url = _copy(postgres_server, clean_database)
    shown = _ponder(["show", ct.RUN_ID, "--json"], tmp_path, url)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert '"status": "done"' in shown.stdout


@pytest.mark.parametrize("name", TAMPERS)
def test_tampered_postgres_checkpoint_is_refused_and_runs_nothing(
    name: str, postgres_server: PostgresServer, clean_database: str, tmp_path: Path
) -> None:
    url = _copy(postgres_server, clean_database)
    canary = tmp_path / "CANARY"
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / "ponder_canary_module.py").write_text(
        ct.CANARY_MODULE.format(canary=str(canary))
    )
    with psycopg.connect(url, autocommit=True) as db:
        TAMPERS[name](db, canary)
    for command in (["show", ct.RUN_ID, "--json"], ["resume", ct.RUN_ID, "--json"]):
        done = _ponder(command, tmp_path, url)
        errors = [ln for ln in done.stderr.splitlines() if ln.startswith("ponder: error [")]
        assert done.returncode == 1, (command, done.stdout[-500:], done.stderr[-1500:])
        assert len(errors) == 1 and "checkpoint" in errors[0], done.stderr[-1500:]
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert not canary.exists(), f"code ran from the checkpoint: {canary.read_text()!r}"
