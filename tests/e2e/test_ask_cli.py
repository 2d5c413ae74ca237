"""`ponder ask RUN_ID "..."`: a follow-up answered from a finished run's evidence plus new."""

from __future__ import annotations

import json
from pathlib import Path

from bench.cli_runner import CORPUS, ponder, write_script
from tests.conftest import corpus_synthesis, planning, step


def _search(sid: str, query: str) -> dict[str, object]:
    return step(sid, query, tool="corpus_search")


def test_ask_reuses_the_earlier_evidence_and_cites_old_and_new(tmp_path: Path) -> None:
    script = tmp_path / "model.json"
    write_script(
        script,
        {
            "Planning": [planning(_search("s1", "gather exceptions"))],
            "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"))],
        },
    )
    first = ponder(
        "run",
        "How does gather treat errors?",
        "--model",
        f"script:{script}",
        "--corpus",
        str(CORPUS),
        "--tools",
        "corpus_search",
        "--run-id",
        "first",
        "--json",
        home=tmp_path,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    old_source = json.loads(first.stdout)["citations"][0]["source"]
    # `ask` rebuilds the model from the stored options: the same file, now the follow-up's script.
    write_script(
        script,
        {
            "Planning": [planning(_search("s1", "TaskGroup cancels"))],
            "Synthesis": [
                corpus_synthesis(("s101.1", "gather exceptions"), ("s1.1", "TaskGroup cancels"))
            ],
        },
    )
    asked = ponder(
        "ask", "first", "And TaskGroup?", "--run-id", "second", "--json", home=tmp_path, timeout=120
    )
    assert asked.returncode == 0, asked.stderr
    report = json.loads(asked.stdout)
    assert report["status"] == "done"
    ran = [s["input"] for p in report["plans"] for s in p["steps"]]
    assert ran == [{"query": "TaskGroup cancels"}], "the follow-up searched the old query again"
    sources = {c["source"] for c in report["citations"]}
    assert old_source in sources and len(sources) == 2, report["citations"]


def test_ask_about_an_unknown_run_is_a_one_line_error(tmp_path: Path) -> None:
    result = ponder("ask", "nosuchrun", "why?", home=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "nosuchrun" in result.stderr and "Traceback" not in result.stderr
