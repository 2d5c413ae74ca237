"""A planted API key must never leave the environment: real ``ponder`` runs, every channel read.

Each case starts a real CLI process with fake provider keys planted in its
environment and a plan whose ``python`` step dumps everything a prompt-injected
step could reach (``os.environ``, ``/proc/self/environ``, ``/proc/1/environ``).
Afterwards the keys must be absent from every prompt the model received, the
event stream, the LangChain trace, the checkpoint store's bytes (WAL included),
the JSON report and the ``-o`` Markdown report, and stderr.

- ``script``: ``--model script:PATH``, traced by `trace_recorder` (the prompts are
  in the trace's ``on_chat_model_start`` records);
- ``openai``: ``--model openai:fake`` against `FakeOpenAI`: the prompts are the
  HTTP request bodies, and the key may appear only in the ``Authorization`` header;
- ``openai_401``: the API rejects the key and echoes it, partly masked, as OpenAI's
  does (``sk-test-****************abcd``); the run ends with one auth error line.

Not covered, because Ponder cannot reach it: a provider that echoed a key *in
full* would put it in the SDK exception that LangChain hands to every callback
handler's ``on_llm_error`` before Ponder sees (and masks) it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bench.cli_runner import REPO, env, write_script
from tests.conftest import planning, synthesis
from tests.reliability.fake_openai import FakeOpenAI
from tests.reliability.injection import planted_keys

__all__ = ["CASES", "LeakOutcome", "run_leak_case", "run_secret_leak_suite"]

Case = Literal["script", "openai", "openai_401"]
CASES: tuple[Case, ...] = ("script", "openai", "openai_401")

DUMP = """\
import os
print("The sandbox printed its environment below.")
print("environ", dict(os.environ))
for path in ("/proc/self/environ", "/proc/1/environ", "/proc/self/cmdline"):
    try:
        print(path, open(path, "rb").read()[:4000])
    except OSError as exc:
        print(path, "unreadable:", exc)
"""

PLAN = planning(
    {"id": "s1", "goal": "see the environment", "tool": "python", "input": {"code": DUMP},
     "depends_on": []},
    mode="compute",
)  # fmt: skip
SYNTHESIS = synthesis("s1.1", text="The sandbox printed its environment.")


@dataclass(frozen=True)
class LeakOutcome:
    case: str
    clean: bool
    problems: tuple[str, ...]
    checked: tuple[str, ...]


def _args(home: Path, model: list[str], task: str) -> list[str]:
    return [
        "run", task, *model, "--search", "none",
        "--json", "--events", "jsonl", "-o", str(home / "report.md"), "--run-id", "leak",
        "--timeout", "60",
    ]  # fmt: skip


def run_leak_case(case: Case, home: Path, *, key_in_task: bool = False) -> LeakOutcome:
    """One CLI run with planted keys; every place they could surface is read back.

    ``key_in_task`` is the control: the key typed into the task must be found.
    """
    keys = planted_keys()
    task = "What environment does the sandbox see?"
    if key_in_task:
        task += f" My key is {keys['OPENAI_API_KEY']}."
    trace = home / "trace.txt"
    api: FakeOpenAI | None = None
    if case == "script":
        script = write_script(home / "model.json", {"Planning": [PLAN], "Synthesis": [SYNTHESIS]})
        command = [sys.executable, "-m", "tests.reliability.trace_recorder", str(trace)]
        command += _args(home, ["--model", f"script:{script}"], task)
    else:
        script_replies: dict[str, list[dict[str, Any]]] = {
            "Planning": [{"args": PLAN}],
            "Synthesis": [{"args": SYNTHESIS}],
        }
        if case == "openai_401":
            key = keys["OPENAI_API_KEY"]
            message = f"Incorrect API key provided: {key[:8]}{'*' * (len(key) - 12)}{key[-4:]}."
            script_replies = {"Planning": [{"status": 401, "message": message}]}
        api = FakeOpenAI(script=script_replies)
        command = [sys.executable, "-m", "tests.reliability.trace_recorder", str(trace)]
        command += _args(home, ["--model", "openai:fake", "--base-url", api.base_url], task)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env(home, **keys), cwd=REPO,
            timeout=180, check=False,
        )  # fmt: skip
    finally:
        if api is not None:
            api.stop()
    places: dict[str, str] = {
        "stdout (events and JSON report)": done.stdout,
        "stderr": done.stderr,
        "the trace": trace.read_text(encoding="utf-8") if trace.exists() else "",
        "the Markdown report": _read(home / "report.md"),
        "the run store": "".join(
            p.read_bytes().decode("utf-8", errors="replace") for p in home.glob("runs.sqlite*")
        ),
    }
    problems: list[str] = []
    if api is not None:
        places["the prompts (request bodies)"] = "\n".join(
            r.raw.decode("utf-8", errors="replace") for r in api.requests
        )
        headers = [r.headers.get("authorization", "") for r in api.requests]
        if not api.requests or any(keys["OPENAI_API_KEY"] not in h for h in headers):
            problems.append("the key did not reach the provider's auth header (not exercised)")
    problems += _expectations(case, done, places)
    for name, secret in keys.items():
        for place, text in places.items():
            if secret in text:
                problems.append(f"{name} leaked into {place}")
    return LeakOutcome(case, not problems, tuple(problems), tuple(places))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _expectations(
    case: Case, done: subprocess.CompletedProcess[str], places: dict[str, str]
) -> list[str]:
    """The run must really have done what the case is about, or a clean result proves nothing."""
    problems = []
    if case == "openai_401":
        lines = [ln for ln in done.stderr.splitlines() if ln.startswith("ponder: error [")]
        if done.returncode != 1 or len(lines) != 1 or "auth" not in lines[0]:
            problems.append(f"expected one auth error line, got {done.returncode}: {lines}")
        return problems
    if done.returncode != 0:
        problems.append(f"the run failed ({done.returncode}): {done.stderr[-400:]}")
    if "environ" not in places["stdout (events and JSON report)"]:
        problems.append("the environment dump never came back (the step did not run)")
    if "on_chat_model_start" not in places["the trace"]:
        problems.append("the trace recorded no prompts")
    return problems


def run_secret_leak_suite(cases: tuple[Case, ...] = CASES) -> dict[str, Any]:
    """Every case: ``{"runs", "clean", "failures"}``; needs the python sandbox."""
    from tests.reliability.sandbox_attacks import SUITE_OPTIONS
    from tools._sandbox import probe_sandbox

    if not probe_sandbox(SUITE_OPTIONS.bwrap, SUITE_OPTIONS.python).ok:
        return {"skipped": "no sandbox", "runs": 0, "clean": 0, "failures": {}}
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="ponder-leaks-") as tmp:
        for case in cases:
            home = Path(tmp) / case
            home.mkdir()
            outcomes.append(run_leak_case(case, home))
    return {
        "runs": len(outcomes),
        "clean": sum(o.clean for o in outcomes),
        "failures": {o.case: list(o.problems) for o in outcomes if not o.clean},
    }
