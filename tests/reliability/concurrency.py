"""Many runs at once on one store: no state crosses between runs, no "database is locked".

Every run's task carries a token of its own (``tok07``); the model writes plans,
placeholders and claims from the token it reads in its prompt, and the tool
echoes its query. So any state that crossed from another run would show up as
a foreign token in a step input, an observation, a citation or the answer.

- `run_in_process`: N runs as asyncio tasks in one process, through one shared
  model, one shared tool and one `AsyncSqliteSaver` from `RunStore.checkpointer()`
  (or, with ``shared_saver=False``, a connection each on the same file);
- `run_processes`: N real ``ponder run`` processes on one ``--store`` file, with
  the corpus index in the same folder, each with its own ``script:`` model.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import subprocess
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.tools import StructuredTool

from agent.settings import Budgets, Settings
from agent.store import RunStore
from agent.testing import FunctionChatModel
from bench.cli_runner import CORPUS, PONDER, REPO, env, write_script
from graphs.research import build_research_graph

__all__ = ["foreign_tokens", "run_in_process", "run_processes"]

_TOKEN = re.compile(r"tok\d{2}")


def foreign_tokens(text: str, own: str) -> set[str]:
    return set(_TOKEN.findall(text)) - {own}


def _token_of(messages: list[BaseMessage]) -> str:
    found = _TOKEN.findall("\n".join(str(m.content) for m in messages if m.type == "human"))
    return found[0] if found else "tok??"


def _model() -> FunctionChatModel:
    def reply(messages: list[BaseMessage], role: str) -> Any:
        tok = _token_of(messages)
        if role == "Planning":
            return {
                "mode": "research", "depth": "medium", "triage_reason": "lookups",
                "reasoning": f"Look up {tok} twice, then follow the first lead.",
                "steps": [
                    {"id": "s1", "goal": f"{tok} alpha", "tool": "lookup",
                     "input": {"query": f"{tok} alpha"}, "depends_on": []},
                    {"id": "s2", "goal": f"{tok} beta", "tool": "lookup",
                     "input": {"query": f"{tok} beta"}, "depends_on": []},
                    {"id": "s3", "goal": f"{tok} follow-up", "tool": "lookup",
                     "input": {"query": "after {{s1}}"}, "depends_on": ["s1"]},
                ],
            }  # fmt: skip
        if role == "Synthesis":
            return {
                "claims": [{"text": f"The record for {tok}.", "cites": ["s1.1", "s2.1", "s3.1"]}],
                "gaps": [],
            }
        return f"answer for {tok}"

    return FunctionChatModel(fn=reply, latency_s=0.05, chunks=6)


def _tool(seed: int) -> StructuredTool:
    rng = random.Random(seed)

    async def lookup(query: str) -> str:
        await asyncio.sleep(rng.uniform(0.0, 0.3))  # interleave the runs' steps
        return f"Record for {query}: the answer to {query} is in this record."

    return StructuredTool.from_function(
        coroutine=lookup, name="lookup", description="lookup: one record by query"
    )


def _run_problems(tok: str, state: dict[str, Any]) -> list[str]:
    problems = []
    if state.get("status") != "done":
        problems.append(f"{tok}: status {state.get('status')}: {state.get('stop_reason')}")
    if tok not in state.get("task", ""):
        problems.append(f"{tok}: the task changed to {state.get('task')!r}")
    steps = state.get("steps") or {}
    if sorted(steps) != ["s1", "s2", "s3"]:
        problems.append(f"{tok}: steps {sorted(steps)}")
    for sid, record in steps.items():
        text = json.dumps(record.input) + record.observation.content
        if tok not in text or foreign_tokens(text, tok):
            problems.append(f"{tok}: step {sid} holds {foreign_tokens(text, tok) or 'no token'}")
    answer = state.get("answer")
    if answer is None:
        problems.append(f"{tok}: no answer")
    else:
        text = answer.markdown + "".join(c.quote for c in answer.citations)
        if tok not in text or foreign_tokens(text, tok) or len(answer.citations) != 3:
            problems.append(f"{tok}: answer holds {foreign_tokens(text, tok)}: {answer.markdown!r}")
    return problems


async def run_in_process(runs: int = 20, *, shared_saver: bool = True) -> dict[str, Any]:
    """`runs` research runs at once in this process on one store file."""
    model, tool = _model(), _tool(seed=runs)
    settings = Settings(budgets=Budgets(timeout_s=120))
    problems: list[str] = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ponder-concurrency-") as tmp:
        store = RunStore(Path(tmp) / "runs.sqlite")
        async with AsyncExitStack() as stack:
            savers = [await stack.enter_async_context(store.checkpointer())]
            if not shared_saver:
                for _ in range(runs - 1):
                    savers.append(await stack.enter_async_context(store.checkpointer()))
            graphs = [
                build_research_graph(model, [tool], checkpointer=saver, settings=settings)
                for saver in savers
            ]

            async def one(i: int) -> None:
                tok = f"tok{i:02d}"
                graph = graphs[i % len(graphs)]
                config: Any = {"configurable": {"thread_id": f"run-{tok}"}}
                try:
                    await graph.ainvoke({"task": f"What are the facts of {tok}?"}, config)
                    state = (await graph.aget_state(config)).values
                except Exception as exc:  # any failure of a run is the finding; keep the others
                    errors.append(f"{tok}: {type(exc).__name__}: {exc}")
                    return
                problems.extend(_run_problems(tok, state))

            await asyncio.gather(*(one(i) for i in range(runs)))
    locked = [e for e in errors if "locked" in e]
    return {
        "runs": runs,
        "clean": runs - len({p.split(":")[0] for p in problems + errors}),
        "database_locked": len(locked),
        "failures": errors + problems,
    }


# Claims the passages s1.1 (TaskGroup versus gather) and s2.1 (how gather handles
# exceptions) really state, so the citation check keeps both.
CORPUS_SYNTHESIS = {
    "claims": [
        {"text": "When a task fails, its siblings are cancelled.", "cites": ["s1.1"]},
        {"text": "gather propagates the first exception immediately.", "cites": ["s2.1"]},
    ],
    "gaps": [],
}


def run_processes(processes: int = 4) -> dict[str, Any]:
    """`processes` real ``ponder run`` processes at once on one ``--store`` file."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ponder-shared-store-") as tmp:
        root = Path(tmp)
        store = root / "shared" / "runs.sqlite"
        procs = []
        for i in range(processes):
            tok = f"tok{i:02d}"
            step = {"tool": "corpus_search", "depends_on": []}
            script = write_script(
                root / f"model{i}.json",
                {
                    "Planning": [{
                        "mode": "research", "depth": "low", "triage_reason": "lookup",
                        "reasoning": f"Search for {tok}.",
                        "steps": [
                            {**step, "id": "s1", "goal": f"{tok} errors",
                             "input": {"query": f"TaskGroup errors {tok}"}},
                            {**step, "id": "s2", "goal": f"{tok} gather",
                             "input": {"query": f"gather exceptions {tok}"}},
                        ],
                    }],
                    "Synthesis": [CORPUS_SYNTHESIS],
                },
                role_latency_s={"Planning": 0.5, "Synthesis": 0.5},
            )  # fmt: skip
            procs.append((tok, subprocess.Popen(
                [str(PONDER), "run", f"How does asyncio treat errors ({tok})?",
                 "--model", f"script:{script}", "--corpus", str(CORPUS), "--tools",
                 "corpus_search", "--store", str(store), "--run-id", f"run-{tok}", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env=env(root / f"home{i}"), cwd=REPO,
            )))  # fmt: skip
        for tok, proc in procs:
            out, err = proc.communicate(timeout=180)
            if "locked" in err:
                problems.append(f"{tok}: 'database is locked' reached the user: {err[-300:]}")
            if proc.returncode != 0:
                problems.append(f"{tok}: exit {proc.returncode}: {err[-300:]}")
                continue
            problems += _report_problems(tok, json.loads(out))
        # A fifth process reads every run back from the shared store.
        for tok, _ in procs:
            shown = subprocess.run(
                [str(PONDER), "show", f"run-{tok}", "--json", "--store", str(store)],
                capture_output=True, text=True, env=env(root / "reader"), cwd=REPO, timeout=60,
                check=False,
            )  # fmt: skip
            if shown.returncode != 0:
                problems.append(f"{tok}: ponder show failed: {shown.stderr[-200:]}")
            else:
                problems += [f"show {p}" for p in _report_problems(tok, json.loads(shown.stdout))]
    return {
        "runs": processes,
        "clean": processes - len({p.split(":")[0].removeprefix("show ") for p in problems}),
        "failures": problems,
    }


def _report_problems(tok: str, report: dict[str, Any]) -> list[str]:
    problems = []
    if report["status"] != "done":
        problems.append(f"{tok}: status {report['status']}")
    text = report["task"] + json.dumps(report["plans"]) + report["answer"]
    if tok not in report["task"] or foreign_tokens(text, tok):
        problems.append(f"{tok}: the report holds {foreign_tokens(text, tok)}")
    if len(report["citations"]) < 2:
        problems.append(f"{tok}: {len(report['citations'])} citations")
    return problems
