"""Model faults through the real ``ponder`` CLI: the real OpenAI SDK against a faked API, and
``script:`` models.

Each case is one ``ponder run`` process over the example corpus. Provider
cases point ``--model openai:fake --base-url`` at `FakeOpenAI` on loopback, so
the SDK itself raises on a 429, a 500, a dropped connection or a timeout, and a
tool call can arrive cut off mid-JSON. Script cases load `ScriptedChatModel`
from JSON (``--model script:PATH``). A case is survived when the process either
finishes ``done`` with a cited answer (and, where the case says so, the plan the
model meant), or exits 1 with one ``ponder: error [CODE]:`` line and no traceback, and
in both cases ends within its ``--timeout`` plus a generous margin.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.cli_runner import CORPUS, PONDER, REPO, env, write_script
from tests.conftest import planning
from tests.reliability.fake_openai import FakeOpenAI

__all__ = ["CLI_FAULTS", "CliFault", "CliOutcome", "run_cli_fault", "run_cli_fault_suite"]

TIMEOUT_S = 12.0
MARGIN_S = 30.0


def corpus_step(sid: str, query: str) -> dict[str, Any]:
    return {
        "id": sid,
        "goal": f"find {query}",
        "tool": "corpus_search",
        "input": {"query": query},
        "depends_on": [],
    }


PLAN = planning(corpus_step("s1", "TaskGroup errors"), corpus_step("s2", "gather exceptions"))
# Claims the passages s1.1 (TaskGroup versus gather) and s2.1 (how gather handles
# exceptions) really state, so the citation check keeps both.
SYNTHESIS = {
    "claims": [
        {"text": "When a task fails, its siblings are cancelled.", "cites": ["s1.1"]},
        {"text": "gather propagates the first exception immediately.", "cites": ["s2.1"]},
    ],
    "gaps": [],
}


def cut_after_first_step(reply: dict[str, Any]) -> str:
    """The reply's JSON cut off right after its first step: still valid as a partial parse."""
    text = json.dumps(reply)
    first = json.dumps(reply["steps"][0] if "steps" in reply else reply["claims"][0])
    end = text.index(first) + len(first)
    return text[: end + 2]  # '..., {first step}, ' and nothing more


@dataclass(frozen=True)
class CliFault:
    name: str
    via: Literal["http", "script"]
    script: dict[str, list[Any]]
    expect: Literal["recovered", "failed"] = "recovered"
    error: str = ""
    plan_steps: int | None = None  # steps the accepted first plan must have
    citations: int | None = None  # citations the accepted answer must have
    requests: int | None = None  # model requests the run must take (no needless re-asks)
    extra: tuple[str, ...] = field(default=())


def _http(name: str, planning_replies: list[dict[str, Any]], **kw: Any) -> CliFault:
    script = {"Planning": planning_replies, "Synthesis": [{"args": SYNTHESIS}]}
    script.update(kw.pop("script", {}))
    return CliFault(name, "http", script, **kw)


OK = {"args": PLAN}

CLI_FAULTS: tuple[CliFault, ...] = (
    _http("http_429_then_ok", [{"status": 429, "headers": {"retry-after": "0.2"}}, OK]),
    _http("http_503_then_ok", [{"status": 503, "headers": {"retry-after-ms": "100"}}, OK]),
    _http("http_dropped_connection_then_ok", [{"drop": True}, OK]),
    _http(
        "http_cut_off_tool_call_then_ok",
        [{"raw_args": cut_after_first_step(PLAN)}, OK],
        plan_steps=2,
    ),
    _http(
        "http_raw_newline_in_json_string",
        [{"raw_args": json.dumps({**PLAN, "reasoning": "first NL then"}).replace("NL", "\n")}],
        requests=2,
    ),
    _http("http_malformed_tool_call_then_ok", [{"raw_args": "{reasoning: 'x', steps: }"}, OK]),
    _http("http_prose_instead_of_call_then_ok", [{"text": "Sure! Here is my plan: ..."}, OK]),
    _http(
        "http_cut_off_synthesis_then_ok",
        [OK],
        script={"Synthesis": [{"raw_args": cut_after_first_step(SYNTHESIS)}, {"args": SYNTHESIS}]},
        citations=2,
    ),
    _http(
        "http_500_persistent",
        [{"status": 500}] * 3,
        expect="failed",
        error="model call failed (server_error)",
    ),
    _http(
        "http_hang_past_the_timeout",
        [{"hang": True}] * 3,
        expect="failed",
        error="did not reply within",
    ),
    CliFault(
        "script_text_not_json_then_ok",
        "script",
        {"Planning": ["not json at all", PLAN], "Synthesis": [SYNTHESIS]},
    ),
    CliFault(
        "script_cycle_then_ok",
        "script",
        {
            "Planning": [
                planning(
                    {**corpus_step("s1", "a"), "depends_on": ["s2"]},
                    {**corpus_step("s2", "b"), "depends_on": ["s1"]},
                ),
                PLAN,
            ],
            "Synthesis": [SYNTHESIS],
        },
        plan_steps=2,
    ),
    CliFault(
        "script_unknown_tool_always",
        "script",
        {"Planning": [planning({**corpus_step("s1", "a"), "tool": "rm_rf"})] * 3},
        expect="failed",
        error="Planning was still invalid after 3 tries",
    ),
)


@dataclass(frozen=True)
class CliOutcome:
    name: str
    survived: bool
    exit_code: int
    wall_s: float
    problems: tuple[str, ...]
    stderr_tail: str
    requests: int = 0


def run_cli_fault(fault: CliFault, home: Path) -> CliOutcome:
    """One ``ponder run`` process with this fault; judged from its exit, output and report."""
    api = FakeOpenAI(script=fault.script) if fault.via == "http" else None
    if api is not None:
        model = ["--model", "openai:fake", "--base-url", api.base_url]
    else:
        path = write_script(home / "model.json", fault.script)
        model = ["--model", f"script:{path}"]
    args = [
        str(PONDER), "run", "How do TaskGroup and gather treat errors?", *model,
        "--corpus", str(CORPUS), "--tools", "corpus_search", "--json",
        "--timeout", str(TIMEOUT_S), "--run-id", "fault", *fault.extra,
    ]  # fmt: skip
    started = time.monotonic()
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            env=env(home),
            cwd=REPO,
            timeout=TIMEOUT_S + MARGIN_S,
            check=False,
        )
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code, out, err = -9, "", f"LIVENESS: still running after {exc.timeout:.0f}s"
    finally:
        if api is not None:
            api.stop()
    wall = time.monotonic() - started
    problems = _judge(fault, code, out, err)
    if api is not None and fault.requests is not None and len(api.requests) != fault.requests:
        problems.append(f"{len(api.requests)} model requests, expected {fault.requests}")
    return CliOutcome(
        fault.name,
        not problems,
        code,
        round(wall, 2),
        tuple(problems),
        err[-600:],
        len(api.requests) if api is not None else 0,
    )


def _judge(fault: CliFault, code: int, out: str, err: str) -> list[str]:
    problems = []
    if "Traceback" in err or "Traceback" in out:
        problems.append("a traceback was printed")
    if fault.expect == "failed":
        lines = [ln for ln in err.splitlines() if ln.startswith("ponder: error [")]
        if code != 1:
            problems.append(f"exit code {code}, expected 1")
        if len(lines) != 1 or fault.error not in lines[0]:
            problems.append(f"no one-line error holding {fault.error!r}: {err[-300:]!r}")
        return problems
    if code != 0:
        return [*problems, f"exit code {code}: {err[-300:]!r}"]
    report = json.loads(out)
    if report["status"] != "done":
        problems.append(f"status {report['status']}")
    if not report["citations"]:
        problems.append("the answer cites nothing")
    if fault.plan_steps is not None:
        got = len(report["plans"][0]["steps"])
        if got != fault.plan_steps:
            problems.append(
                f"the accepted plan has {got} steps, the model meant {fault.plan_steps}"
            )
    if fault.citations is not None and len(report["citations"]) != fault.citations:
        problems.append(f"{len(report['citations'])} citations, the model meant {fault.citations}")
    return problems


def run_cli_fault_suite(faults: tuple[CliFault, ...] = CLI_FAULTS) -> dict[str, Any]:
    """Every CLI fault, four processes at a time: ``{"injected", "survived", "failures"}``."""
    with tempfile.TemporaryDirectory(prefix="ponder-cli-faults-") as tmp:
        homes = [Path(tmp) / f.name for f in faults]
        for home in homes:
            home.mkdir()
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(run_cli_fault, faults, homes))
    return {
        "injected": len(outcomes),
        "survived": sum(o.survived for o in outcomes),
        "failures": {o.name: list(o.problems) for o in outcomes if not o.survived},
    }
