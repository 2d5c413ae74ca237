"""Tampered checkpoints, as data: each rewrites a stored run so that loading it would run code.

A checkpoint is msgpack whose extension types name a ``(module, class)`` to
import and call on load. Each `Tamper` rewrites the newest checkpoint of a run
in a copy of its SQLite store (or its pending writes, or the serialization type
column) so that loading it would call ``os.system``, ``subprocess.Popen``,
``eval``, a method, a class Ponder never stores (`agent.store.RunStore`, whose
constructor creates files), or import an unknown module whose import alone
leaves a file. A canary path records any of that: it must never exist.

`run_tamper_suite()` builds one real run with the ``ponder`` CLI, then for
every tamper runs ``ponder show`` and ``ponder resume`` on a tampered copy and
counts the tampers that were refused with one clear line and ran nothing.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ormsgpack

from bench.cli_runner import CORPUS, PONDER, REPO, env, write_script
from tests.conftest import planning

__all__ = [
    "RUN_ID",
    "TAMPERS",
    "Raw",
    "Tamper",
    "TamperOutcome",
    "make_store",
    "make_store_with",
    "pack",
    "run_tamper",
    "run_tamper_suite",
    "unpack",
]

RUN_ID = "tampered"
# LangGraph's msgpack extension codes (langgraph.checkpoint.serde.jsonplus).
SINGLE_ARG, POS_ARGS, KW_ARGS, METHOD, PYDANTIC_V2 = 0, 1, 2, 3, 5


class Raw:
    """An extension value kept as bytes, so a checkpoint can be rewritten without loading it.

    A plain class on purpose: ormsgpack packs dataclasses natively and would
    never hand one to `pack`'s ``default``.
    """

    def __init__(self, code: int, data: bytes) -> None:
        self.code, self.data = code, data

    def inner(self) -> Any:
        return unpack(self.data)


def unpack(blob: bytes) -> Any:
    return ormsgpack.unpackb(blob, ext_hook=Raw, option=ormsgpack.OPT_NON_STR_KEYS)


def _default(obj: Any) -> Any:
    if isinstance(obj, Raw):
        return ormsgpack.Ext(obj.code, obj.data)
    raise TypeError(type(obj).__name__)


def pack(obj: Any) -> bytes:
    return ormsgpack.packb(obj, default=_default, option=ormsgpack.OPT_NON_STR_KEYS)


def ext(code: int, *parts: Any) -> Raw:
    return Raw(code, pack(list(parts)))


Canary = Path


@dataclass(frozen=True)
class Tamper:
    """Rewrites the newest checkpoint of `RUN_ID` in ``db``, aiming at ``canary``."""

    name: str
    rewrite: Callable[[sqlite3.Connection, Canary], None]


def _newest(db: sqlite3.Connection) -> tuple[str, dict[str, Any]]:
    row = db.execute(
        "SELECT checkpoint_id, checkpoint FROM checkpoints WHERE thread_id=? "
        "ORDER BY checkpoint_id DESC LIMIT 1",
        (RUN_ID,),
    ).fetchone()
    return row[0], unpack(row[1])


def _channel(channel: str, value: Callable[[Canary, Any], Any]) -> Callable[..., None]:
    """A tamper that replaces one channel value (``steps.s1`` for a nested one)."""

    def rewrite(db: sqlite3.Connection, canary: Canary) -> None:
        checkpoint_id, checkpoint = _newest(db)
        values = checkpoint["channel_values"]
        *path, last = channel.split(".")
        for key in path:
            values = values[key]
        values[last] = value(canary, values.get(last))
        db.execute(
            "UPDATE checkpoints SET checkpoint=? WHERE thread_id=? AND checkpoint_id=?",
            (pack(checkpoint), RUN_ID, checkpoint_id),
        )

    return rewrite


def _as_type(kind: str, payload: Callable[[Canary], bytes]) -> Callable[..., None]:
    """A tamper that swaps the serialization type of the newest checkpoint."""

    def rewrite(db: sqlite3.Connection, canary: Canary) -> None:
        checkpoint_id, _ = _newest(db)
        db.execute(
            "UPDATE checkpoints SET type=?, checkpoint=? WHERE thread_id=? AND checkpoint_id=?",
            (kind, payload(canary), RUN_ID, checkpoint_id),
        )

    return rewrite


def _pending_write(value: Callable[[Canary], Raw]) -> Callable[..., None]:
    """A tamper that plants a pending write on the newest checkpoint (loaded with it)."""

    def rewrite(db: sqlite3.Connection, canary: Canary) -> None:
        checkpoint_id, _ = _newest(db)
        db.execute(
            "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, "
            "idx, channel, type, value) VALUES (?, '', ?, 'planted', '', 0, 'answer', "
            "'msgpack', ?)",
            (RUN_ID, checkpoint_id, pack(value(canary))),
        )

    return rewrite


class _Touch:
    """Pickled, it would create the canary when unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (subprocess.call, (["touch", self.path],))


def _lc_constructor(canary: Canary) -> bytes:
    return json.dumps(
        {"lc": 2, "type": "constructor", "id": ["os", "system"], "args": [f"touch {canary}"]}
    ).encode()


TAMPERS: tuple[Tamper, ...] = (
    Tamper("step_os_system", _channel("steps.s1", lambda c, _: ext(
        SINGLE_ARG, "os", "system", f"touch {c}"))),
    Tamper("step_subprocess_popen", _channel("steps.s1", lambda c, _: ext(
        POS_ARGS, "subprocess", "Popen", [["touch", str(c)]]))),
    Tamper("step_builtins_eval", _channel("steps.s1", lambda c, _: ext(
        POS_ARGS, "builtins", "eval", [f"__import__('os').system('touch {c}')"]))),
    Tamper("step_builtins_exec_kwargs", _channel("steps.s1", lambda c, _: ext(
        KW_ARGS, "builtins", "exec", {"source": f"open('{c}', 'w')"}))),
    Tamper("step_method_call", _channel("steps.s1", lambda c, _: ext(
        METHOD, "os", "system", f"touch {c}", "__call__"))),
    Tamper("answer_unlisted_ponder_class", _channel("answer", lambda c, _: ext(
        PYDANTIC_V2, "agent.store", "RunStore", {"path": str(c)}, "model_validate"))),
    Tamper("answer_module_with_import_side_effect", _channel("answer", lambda c, _: ext(
        PYDANTIC_V2, "ponder_canary_module", "Boom", {}, "model_validate"))),
    Tamper("step_record_renamed_to_popen", _channel("steps.s2", lambda c, old: ext(
        PYDANTIC_V2, "subprocess", "Popen", {"args": ["touch", str(c)]}, "model_validate"))),
    Tamper("task_string_os_system", _channel("task", lambda c, _: ext(
        SINGLE_ARG, "os", "system", f"touch {c}"))),
    Tamper("settings_os_system", _channel("settings", lambda c, _: ext(
        SINGLE_ARG, "os", "system", f"touch {c}"))),
    Tamper("pending_write_os_system", _pending_write(lambda c: ext(
        SINGLE_ARG, "os", "system", f"touch {c}"))),
    Tamper("type_pickle", _as_type("pickle", lambda c: pickle.dumps(_Touch(str(c))))),
    Tamper("type_json_lc_constructor", _as_type("json", _lc_constructor)),
    Tamper("not_msgpack_at_all", _as_type("msgpack", lambda c: b"\xc1\xff garbage")),
)  # fmt: skip

CANARY_MODULE = """
import pathlib
pathlib.Path({canary!r}).write_text("imported")
class Boom:
    def __init__(self, **kw):
        pathlib.Path({canary!r}).write_text("built")
"""


def make_store(home: Path) -> Path:
    """A finished run, `RUN_ID`, made by a real ``ponder run``; returns the store file."""
    make_store_with(home, {})
    return home / "runs.sqlite"


def make_store_with(home: Path, extra_env: dict[str, str]) -> None:
    """`make_store` with extra environment (``PONDER_STORE`` names another store)."""
    step = {"tool": "corpus_search", "depends_on": []}
    script = write_script(
        home / "model.json",
        {
            "Planning": [
                planning(
                    {**step, "id": "s1", "goal": "errors", "input": {"query": "TaskGroup errors"}},
                    {**step, "id": "s2", "goal": "gather", "input": {"query": "gather"}},
                )
            ],
            "Synthesis": [
                {
                    "claims": [
                        {
                            "text": "Prefer a TaskGroup when a failure of one task makes the "
                            "others pointless.",
                            "cites": ["s1.1"],
                        },
                        {
                            "text": "If the gather() call itself is cancelled, all awaitables it "
                            "is still waiting for are cancelled too.",
                            "cites": ["s2.1"],
                        },
                    ],
                    "gaps": [],
                }
            ],
        },
    )
    done = subprocess.run(
        [str(PONDER), "run", "How do TaskGroup and gather treat errors?",
         "--model", f"script:{script}", "--corpus", str(CORPUS), "--tools", "corpus_search",
         "--run-id", RUN_ID, "--json"],
        capture_output=True, text=True, env=env(home, **extra_env), cwd=REPO, timeout=120,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"could not make the run to tamper with: {done.stderr[-500:]}")


@dataclass(frozen=True)
class TamperOutcome:
    name: str
    refused: bool
    ran_code: bool
    problems: tuple[str, ...]
    details: tuple[str, ...] = ()


def run_tamper(tamper: Tamper, clean_home: Path, work: Path) -> TamperOutcome:
    """Tamper with a copy of the clean store; `ponder show` and `ponder resume` must refuse it."""
    home = work / tamper.name
    shutil.copytree(clean_home, home)
    canary = home / "CANARY"
    modules = home / "modules"
    modules.mkdir()
    (modules / "ponder_canary_module.py").write_text(CANARY_MODULE.format(canary=str(canary)))
    with sqlite3.connect(home / "runs.sqlite") as db:
        tamper.rewrite(db, canary)
    # The canary module could be imported, if anything did; the repo stays first on the path.
    extra = {"PYTHONPATH": os.pathsep.join([str(REPO), str(modules)])}
    problems: list[str] = []
    details: list[str] = []
    for command in (["show", RUN_ID, "--json"], ["resume", RUN_ID, "--json"]):
        done = subprocess.run(
            [str(PONDER), *command],
            capture_output=True, text=True, env=env(home, **extra), cwd=REPO, timeout=120,
            check=False,
        )  # fmt: skip
        errors = [ln for ln in done.stderr.splitlines() if ln.startswith("ponder: error [")]
        details.append(f"{command[0]}: exit {done.returncode}: {errors[-1] if errors else ''}")
        if done.returncode != 1:
            problems.append(f"ponder {command[0]} exited {done.returncode}, not refusing")
        elif len(errors) != 1 or "checkpoint" not in errors[0]:
            problems.append(f"ponder {command[0]}: no one-line checkpoint error: {errors}")
        if "Traceback" in done.stderr or "internal error" in done.stderr:
            problems.append(f"ponder {command[0]} crashed instead of refusing")
    ran = canary.exists()
    if ran:
        problems.append(f"code ran from the checkpoint: {canary.read_text()!r}")
    return TamperOutcome(tamper.name, not problems, ran, tuple(problems), tuple(details))


def run_tamper_suite(tampers: tuple[Tamper, ...] = TAMPERS) -> dict[str, Any]:
    """Every tamper against one real run: ``{"tried", "refused", "code_ran", "failures"}``."""
    with tempfile.TemporaryDirectory(prefix="ponder-tamper-") as tmp:
        clean = Path(tmp) / "clean"
        clean.mkdir()
        make_store(clean)
        outcomes = [run_tamper(t, clean, Path(tmp)) for t in tampers]
    return {
        "tried": len(outcomes),
        "refused": sum(o.refused for o in outcomes),
        "code_ran": sum(o.ran_code for o in outcomes),
        "failures": {o.name: list(o.problems) for o in outcomes if not o.refused},
    }
