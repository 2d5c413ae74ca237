"""A run that produced no cited answer ends as ``unanswered``, not ``done``.

Issue 9 item 5: offline on a web question, ``ponder run`` said ``done`` and
exited 0 with "No step produced usable evidence".
"""

from __future__ import annotations

import json
from pathlib import Path

from agent.testing import ScriptedChatModel
from bench.cli_runner import CORPUS, ponder, write_script
from tests.agent.graph_run import run_research
from tests.conftest import planning, recording_tool, step, synthesis


def test_a_run_whose_steps_all_failed_is_unanswered() -> None:
    tool, _ = recording_tool(fail={"a", "b"})
    model = ScriptedChatModel(
        repeat_last=True,
        script={
            "Planning": [planning(step("s1", "a"), step("s2", "b"))],
            "Reflection": [{"verdicts": [], "decision": "finish", "reason": "nothing to retry"}],
        },
    )
    state, events = run_research(model, [tool])
    assert state["status"] == "unanswered"
    assert state["stop_reason"] == "no step produced usable evidence"
    assert "no cited answer" in state["answer"].markdown
    answer = next(e for e in events if e.type == "answer")
    assert answer.status == "unanswered"


def test_an_answer_whose_every_citation_was_rejected_is_unanswered() -> None:
    tool, _ = recording_tool()
    invented = {
        "claims": [{"text": "Invented.", "cites": ["s1.1"], "quote": "the value of a is 999"}],
        "gaps": [],
    }
    model = ScriptedChatModel(
        script={"Planning": [planning(step("s1", "a"))], "Synthesis": [invented]}
    )
    state, _ = run_research(model, [tool])
    assert state["status"] == "unanswered"
    assert "verified citation" in state["stop_reason"]


def test_a_cited_answer_is_still_done() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={"Planning": [planning(step("s1", "a"))], "Synthesis": [synthesis("s1.1")]}
    )
    state, _ = run_research(model, [tool])
    assert state["status"] == "done" and state["answer"].citations


def test_the_cli_exits_4_and_the_report_says_unanswered(tmp_path: Path) -> None:
    search = {
        "id": "s1",
        "goal": "find it",
        "tool": "corpus_search",
        "input": {"query": "zzqx nothing matches this"},
        "depends_on": [],
    }
    script = write_script(
        tmp_path / "model.json",
        {
            "Planning": [planning(search)],
            "Reflection": [{"verdicts": [], "decision": "finish", "reason": "nothing found"}],
            "Synthesis": [{"claims": [], "gaps": ["nothing found"]}],
        },
        repeat_last=True,
    )
    done = ponder(
        "run", "What is zzqx?", "--model", f"script:{script}", "--corpus", str(CORPUS),
        "--tools", "corpus_search", "--json", "--run-id", "unanswered",
        home=tmp_path, timeout=120,
    )  # fmt: skip
    assert "Traceback" not in done.stderr
    assert done.returncode == 4, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["status"] == "unanswered" and report["citations"] == []
