"""Run the real ``ponder`` console script in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PONDER = Path(sys.executable).with_name("ponder")
CORPUS = REPO / "examples" / "corpus"

# What the first passage `corpus_search` finds in CORPUS for each query says, in one
# sentence: scripted answers cite it so the citation check can verify them.
# tests/test_corpus_claims.py keeps this table true.
CORPUS_CLAIMS = {
    "gather exceptions": "The first exception raised by any of the awaitables is immediately "
    "propagated to the code awaiting gather().",
    "gather": "If the gather() call itself is cancelled, all awaitables it is still waiting "
    "for are cancelled too.",
    "TaskGroup": "Prefer a TaskGroup when a failure of one task makes the others pointless.",
    "TaskGroup errors": "Prefer a TaskGroup when a failure of one task makes the others pointless.",
    "TaskGroup cancels siblings": "Prefer a TaskGroup when a failure of one task makes the "
    "others pointless.",
    "TaskGroup cancels": "An exception raised in the body of the async with block is treated "
    "the same way: the remaining tasks are cancelled.",
}


def env(home: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return {**clean, "PONDER_HOME": str(home), **extra}


def ponder(
    *args: str, home: Path, timeout: float = 600, **kw: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PONDER), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(home),
        cwd=REPO,
        **kw,
    )


def start(*args: str, home: Path) -> subprocess.Popen[str]:
    """``ponder ARGS`` started, not waited for (to be killed or interrupted mid-run)."""
    return subprocess.Popen(
        [str(PONDER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(home),
        cwd=REPO,
    )


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def finished_events(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The event stream of a run that must have ended well (exit 0, no traceback)."""
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return events(done.stdout)


def write_script(path: Path, script: dict[str, Any], **options: Any) -> Path:
    path.write_text(json.dumps({"script": script, **options}), encoding="utf-8")
    return path


def check_corpus_run(
    done: subprocess.CompletedProcess[str], tools: tuple[str, ...]
) -> dict[str, Any]:
    """The ``--json`` report of a finished corpus run, once its plans and citations hold up.

    Every plan version is a DAG over `tools` (ids unique, dependencies only on
    earlier steps), the citation check judged at least one citation, and every
    citation it kept quotes a file of the example corpus. (It may keep none: a
    small model's claims often fail the support test, and that is the check
    working.)
    """
    assert done.returncode in (0, 3, 4), done.stderr[-2000:]  # done, budget, unanswered
    assert "Traceback" not in done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["status"] in ("done", "budget_exhausted", "unanswered")
    assert report["plans"] and report["plans"][0]["steps"], "no plan steps"
    for plan in report["plans"]:
        ids = [s["id"] for s in plan["steps"]]
        assert len(set(ids)) == len(ids)
        for s in plan["steps"]:
            assert s["tool"] in tools
            assert set(s["depends_on"]) <= set(ids[: ids.index(s["id"])])
    check = report["citation_check"]
    assert check and check["checked"] >= 1, "the answer cites nothing"
    assert check["quoted"] == check["supported"] + check["unsupported"] + check["snippets"]
    assert bool(report["citations"]) == bool(check["supported"] + check["snippets"])
    files = {p.name for p in CORPUS.iterdir()}
    for c in report["citations"]:
        assert c["source"].split("#")[0] in files, c["source"]
        assert c["quote"].strip()
    return report
