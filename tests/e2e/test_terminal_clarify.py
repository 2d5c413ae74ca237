"""`ponder run --clarify` in a real terminal: the question and its reason are on screen,
the typed answer reaches the planner, and a run without a terminal refuses the flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli_runner import CORPUS, ponder, write_script
from tests.conftest import corpus_synthesis, planning
from tests.e2e.pty_screen import Terminal

pytestmark = [pytest.mark.pty, pytest.mark.slow]

QUESTION = "Which errors: exceptions in tasks, or cancellation?"
WHY = "The task could mean either kind of failure."


def test_the_question_is_asked_on_screen_and_the_answer_steers_the_plan(tmp_path: Path) -> None:
    search = {
        "id": "s1",
        "goal": "find gather exceptions",
        "tool": "corpus_search",
        "input": {"query": "gather exceptions"},
        "depends_on": [],
    }
    script = write_script(
        tmp_path / "model.json",
        {
            "Clarifying": [{"ambiguous": True, "question": QUESTION, "why": WHY}],
            "Planning": [planning(search)],
            "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"))],
        },
    )
    term = Terminal(
        "run",
        "How does gather treat errors?",
        "--model",
        f"script:{script}",
        "--corpus",
        str(CORPUS),
        "--tools",
        "corpus_search",
        "--run-id",
        "ask1",
        "--clarify",
        home=tmp_path,
    )
    try:
        term.wait_for(r"Your answer", timeout=60)
        asked = term.show("the question")
        assert QUESTION in asked and WHY in asked
        assert "elapsed" not in asked.splitlines()[-1], "the live view drew over the question"
        term.send("exceptions raised inside tasks\r")
        code = term.wait_exit(60)
        screen = term.show()
    finally:
        term.close()
    assert code == 0, screen
    shown = ponder("show", "ask1", "--json", home=tmp_path, timeout=60)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["status"] == "done"
    assert "exceptions raised inside tasks" in json.dumps(report)


def test_clarify_without_a_terminal_is_a_one_line_error(tmp_path: Path) -> None:
    result = ponder(
        "run", "How does gather treat errors?", "--model", "demo", "--clarify", home=tmp_path
    )
    assert result.returncode == 2
    assert "--clarify" in result.stderr and "Traceback" not in result.stderr
