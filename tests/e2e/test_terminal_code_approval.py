"""`ponder run --approve-code` in a real terminal: code never runs before a person says so.

Issue 9's bypass started a plan's first code step while the plan was still
streaming in, so the code had run by the time the question appeared. Here the
code step stands first and in the middle of a plan; at the moment the question
is on screen, the live view must show the step neither running nor done and the
code's output must be nowhere; a refusal must leave it never run, and an edit
(made in ``$VISUAL``) must run the edited code only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cli_runner import CORPUS, ponder, write_script
from tests.conftest import planning, synthesis
from tests.e2e.pty_screen import Terminal

pytestmark = [pytest.mark.pty, pytest.mark.sandbox, pytest.mark.slow]

CODE = "print(6 * 7 * 1000 + 123)"  # prints 42123: a string nothing else on screen holds
EDITED_OUTPUT = "84123"  # what the code prints once the editor made it 6 * 7 * 2000 + 123


def _code(sid: str, deps: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "id": sid,
        "goal": "compute the checksum",
        "tool": "python",
        "input": {"code": CODE},
        "depends_on": list(deps),
    }


def _search(sid: str, query: str, deps: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "id": sid,
        "goal": f"find {query}",
        "tool": "corpus_search",
        "input": {"query": query},
        "depends_on": list(deps),
    }


PLANS = {
    "first": [_code("s1"), _search("s2", "gather exceptions"), _search("s3", "TaskGroup")],
    "middle": [_search("s1", "gather exceptions"), _code("s2"), _search("s3", "TaskGroup")],
}


@pytest.mark.parametrize("answer", ["y", "n", "e"])
@pytest.mark.parametrize("where", sorted(PLANS))
def test_code_step_waits_for_the_terminal_answer(tmp_path: Path, where: str, answer: str) -> None:
    steps = PLANS[where]
    code_id = next(s["id"] for s in steps if s["tool"] == "python")
    script = write_script(
        tmp_path / "model.json",
        {
            "Planning": [planning(*steps, mode="compute")],
            "Synthesis": [synthesis("s1.1")],
            "Reflection": [{"verdicts": [], "decision": "finish", "reason": "enough", "retry": []}]
            * 3,
        },
    )
    editor = tmp_path / "editor.sh"  # the person's editor: changes 1000 to 2000 in place
    editor.write_text("#!/bin/sh\nsed -i 's/1000/2000/' \"$1\"\n", encoding="utf-8")
    editor.chmod(0o755)
    term = Terminal(
        "run",
        "Compute a checksum and read about gather.",
        "--model",
        f"script:{script}",
        "--corpus",
        str(CORPUS),
        "--tools",
        "corpus_search,python",
        "--approve-code",
        "--run-id",
        "code1",
        home=tmp_path,
        extra_env={"VISUAL": str(editor)},
    )
    try:
        term.wait_for(r"Run it\? \[y\]es, \[n\]o or \[e\]dit", timeout=90)
        asked = term.show("the question")
        assert "6 * 7 * 1000" in asked  # the person sees the code being asked about
        assert "42123" not in term.all_text(), "the code ran before it was approved"
        assert f"✔ {code_id}" not in asked and f"▶ {code_id}" not in asked
        term.send(f"{answer}\r")
        term.wait_exit(90)
        term.show()
    finally:
        term.close()
    shown = ponder("show", "code1", "--json", home=tmp_path, timeout=60)
    assert shown.returncode == 0, shown.stderr
    record = {s["id"]: s for s in json.loads(shown.stdout)["plans"][-1]["steps"]}[code_id]
    if answer == "y":
        assert record["status"] == "done"
        assert "42123" in record["summary"]
    elif answer == "e":
        assert record["status"] == "done"
        assert record["input"]["code"] == CODE.replace("1000", "2000")
        assert EDITED_OUTPUT in record["summary"] and "42123" not in json.dumps(record)
    else:
        assert record["status"] != "done"
        assert "42123" not in json.dumps(record)
