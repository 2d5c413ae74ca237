"""``kill -9`` of ``ponder run`` at random points, then ``ponder resume``: nothing redone or lost.

Every trial runs the real CLI with a ``script:`` model (the planner streams for
2 s, the synthesizer answers after 1.2 s) and a plan of four ``python`` steps
that sleep for different times and print a fresh random token::

    s1 (0.4 s) ─┬─ s3 (0.3 s, uses {{s1}}) ─┐
    s2 (1.1 s) ─┴───────────────────────────┴─ s4 (0.4 s)

A seeded random choice picks where to strike, by reading the run's own event
stream: early in planning, while the plan streams in (steps already started),
after the k-th step finished (mid-wave), or while the answer is being written.
After the ``SIGKILL`` the SQLite store must pass ``PRAGMA integrity_check`` and
``ponder show`` must read it; the steps it shows as done are the checkpointed
results. ``ponder resume`` must then finish the run without starting any of
them again: no ``step_started`` event for them, and the same random token in
their output (a step run twice prints a new one). A checkpointed step missing
or different afterwards is a result lost.

`run_kill_trials()` runs the trials, several at a time, for the test and the report.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.testing import plan_step
from bench.cli_runner import PONDER, REPO, env, write_script

__all__ = [
    "KillOutcome",
    "Strike",
    "plan_strikes",
    "run_kill_trial",
    "run_kill_trials",
]

Phase = Literal["planning", "mid_wave", "synthesis"]
TASK = "Compute four tokens, the third after the first."
STEPS = ("s1", "s2", "s3", "s4")


def _code(step: str, sleep: float, extra: str = "") -> str:
    return f"import os, time\ntime.sleep({sleep})\nprint('{step}-' + os.urandom(6).hex())\n" + extra


def _step(sid: str, code: str, deps: tuple[str, ...] = ()) -> dict[str, Any]:
    return plan_step(sid, "python", {"code": code}, goal=f"token {sid}", after=deps)


PLAN = {
    "mode": "compute",
    "depth": "medium",
    "triage_reason": "four computations",
    "reasoning": "Run four small programs; the third needs the first one's output.",
    "steps": [
        _step("s1", _code("s1", 0.4)),
        _step("s2", _code("s2", 1.1)),
        _step("s3", _code("s3", 0.3, "print('after {{s1}}')"), ("s1",)),
        _step("s4", _code("s4", 0.4), ("s2", "s3")),
    ],
}
SYNTHESIS = {
    "claims": [{"text": f"Token {s}.", "cites": [f"{s}.1"]} for s in STEPS],
    "gaps": [],
}
MODEL = {
    "script": {"Planning": [PLAN], "Synthesis": [SYNTHESIS]},
    "role_latency_s": {"Planning": 2.0, "Synthesis": 1.2},
    "chunks": 10,
}


@dataclass(frozen=True)
class Strike:
    """When to kill: on the ``count``-th event of ``event`` (or the run's record), plus a delay."""

    trial: int
    aim: Literal["planning_early", "planning_streaming", "mid_wave", "synthesis"]
    event: str  # "recorded" (the run row exists), "step_started" or "step_finished"
    count: int
    delay_s: float


def plan_strikes(trials: int, seed: int) -> list[Strike]:
    """Seeded random strikes, cycling through the aims so every phase is hit."""
    rng = random.Random(seed)
    strikes = []
    for i in range(trials):
        aim = ("planning_early", "planning_streaming", "mid_wave", "synthesis")[i % 4]
        if aim == "planning_early":
            strike = Strike(i, aim, "recorded", 1, rng.uniform(0.0, 0.8))
        elif aim == "planning_streaming":
            strike = Strike(i, aim, "step_started", 1, rng.uniform(0.0, 0.3))
        elif aim == "mid_wave":
            strike = Strike(i, aim, "step_finished", rng.randint(1, 3), rng.uniform(0.0, 0.25))
        else:
            strike = Strike(i, aim, "step_finished", 4, rng.uniform(0.1, 0.9))
        strikes.append(strike)
    return strikes


@dataclass
class KillOutcome:
    trial: int
    aim: str
    phase: str = ""  # where the run really was, from the events it got out
    checkpointed: list[str] = field(default_factory=list)
    redone: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    store_ok: bool = False
    resumed: bool = False
    problems: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def _events(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def _wait_recorded(store: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if store.exists():
            try:
                with sqlite3.connect(store, timeout=1) as db:
                    if db.execute("SELECT 1 FROM ponder_runs").fetchone():
                        return
            except sqlite3.Error:
                pass  # the run is creating the file right now
        time.sleep(0.02)


def _show(home: Path, run_id: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [str(PONDER), "show", run_id, "--json"],
        capture_output=True, text=True, env=env(home), cwd=REPO, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout) if done.returncode == 0 else {}


def _done_steps(report: dict[str, Any]) -> dict[str, str]:
    """Checkpointed finished steps of the last plan, with their output (the random token)."""
    if not report.get("plans"):
        return {}
    return {s["id"]: s["summary"] for s in report["plans"][-1]["steps"] if s["status"] == "done"}


def _strike(proc: subprocess.Popen[str], strike: Strike, store: Path) -> list[str]:
    """Read the live event stream until the strike's moment, then SIGKILL; return the lines."""
    lines: list[str] = []
    assert proc.stdout is not None
    if strike.event == "recorded":
        _wait_recorded(store, time.monotonic() + 30)
    else:
        seen = 0
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("{") and json.loads(line).get("type") == strike.event:
                seen += 1
                if seen >= strike.count:
                    break
    time.sleep(strike.delay_s)
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    return lines + rest.splitlines(keepends=True)


def _phase(events: list[dict[str, Any]]) -> Phase:
    kinds = [e["type"] for e in events]
    if "plan" not in kinds:
        return "planning"
    return "synthesis" if kinds.count("step_finished") >= len(STEPS) else "mid_wave"


def run_kill_trial(strike: Strike, home: Path) -> KillOutcome:
    started = time.monotonic()
    out = KillOutcome(strike.trial, strike.aim)
    options = {k: v for k, v in MODEL.items() if k != "script"}
    script = write_script(home / "model.json", MODEL["script"], **options)
    run_id = f"kill{strike.trial}"
    store = home / "runs.sqlite"
    proc = subprocess.Popen(
        [str(PONDER), "run", TASK, "--model", f"script:{script}", "--search", "none",
         "--events", "jsonl", "--run-id", run_id, "--timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env(home), cwd=REPO,
    )  # fmt: skip
    try:
        before = _events(_strike(proc, strike, store))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out.phase = _phase(before)
    if proc.returncode != -signal.SIGKILL:
        out.problems.append(f"the run ended on its own ({proc.returncode}) before the kill")
    # The store must still be a sound SQLite file that Ponder can read.
    with sqlite3.connect(store) as db:
        out.store_ok = db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    if not out.store_ok:
        out.problems.append("PRAGMA integrity_check failed after the kill")
    code, saved = _show(home, run_id)
    if code != 0:
        out.problems.append(f"ponder show failed after the kill ({code})")
    checkpointed = _done_steps(saved)
    out.checkpointed = sorted(checkpointed)
    resumed = subprocess.run(
        [str(PONDER), "resume", run_id, "--events", "jsonl"],
        capture_output=True, text=True, env=env(home), cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    out.resumed = resumed.returncode == 0
    if not out.resumed:
        out.problems.append(f"ponder resume failed ({resumed.returncode}): {resumed.stderr[-300:]}")
    restarted = {e["step_id"] for e in _events(resumed.stdout.splitlines())
                 if e["type"] == "step_started"}  # fmt: skip
    code, final = _show(home, run_id)
    after = _done_steps(final)
    changed = {s for s in checkpointed if s in after and after[s] != checkpointed[s]}
    out.redone = sorted(s for s in checkpointed if s in restarted or s in changed)
    out.lost = sorted(s for s in checkpointed if s not in after)
    if out.redone:
        out.problems.append(f"finished steps ran again after resume: {out.redone}")
    if out.lost:
        out.problems.append(f"checkpointed results lost: {out.lost}")
    if final.get("status") != "done" or sorted(after) != list(STEPS):
        out.problems.append(f"the resumed run ended {final.get('status')} with {sorted(after)}")
    elif len(final.get("citations") or []) != len(STEPS):
        out.problems.append("the resumed run's answer does not cite every step")
    out.wall_s = round(time.monotonic() - started, 2)
    return out


def run_kill_trials(trials: int = 20, seed: int = 20251123, workers: int = 4) -> dict[str, Any]:
    """Run the trials, `workers` at a time; counts and per-trial outcomes."""
    strikes = plan_strikes(trials, seed)
    with tempfile.TemporaryDirectory(prefix="ponder-kill-") as tmp:
        homes = [Path(tmp) / f"trial{s.trial}" for s in strikes]
        for home in homes:
            home.mkdir()
        with ThreadPoolExecutor(workers) as pool:
            outcomes = list(pool.map(run_kill_trial, strikes, homes))
    phases: dict[str, int] = {}
    for o in outcomes:
        phases[o.phase] = phases.get(o.phase, 0) + 1
    return {
        "kills": len(outcomes),
        "resumed_clean": sum(o.ok for o in outcomes),
        "steps_checkpointed": sum(len(o.checkpointed) for o in outcomes),
        "steps_redone": sum(len(o.redone) for o in outcomes),
        "results_lost": sum(len(o.lost) for o in outcomes),
        "stores_intact": sum(o.store_ok for o in outcomes),
        "phases": phases,
        "outcomes": outcomes,
        "failures": {f"trial{o.trial}-{o.aim}": o.problems for o in outcomes if not o.ok},
    }
