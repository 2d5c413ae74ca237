"""`ponder run --plan-format` through the real CLI: compact plans, their re-ask, bad values."""

from __future__ import annotations

from pathlib import Path

from bench.cli_runner import CORPUS, events, ponder, write_script
from tests.conftest import synthesis

TRIAGE = {"mode": "research", "depth": "low", "triage_reason": "docs", "reasoning": "Search."}


def _args(tmp_path: Path, *extra: str) -> list[str]:
    bad = {**TRIAGE, "plan": "s1 = corpus_search(query=TaskGroup) # find it"}
    good = {**TRIAGE, "plan": "s1 = corpus_search(query='TaskGroup errors') # find it"}
    script = write_script(
        tmp_path / "model.json",
        {"Planning": [bad, good], "Synthesis": [synthesis("s1.1")]},
        repeat_last=True,
    )
    return [
        "run", "How does TaskGroup treat errors?", "--model", f"script:{script}",
        "--corpus", str(CORPUS), "--tools", "corpus_search", "--effort", "low", *extra,
    ]  # fmt: skip


def test_a_compact_plan_runs_after_its_bad_line_is_sent_back(tmp_path: Path) -> None:
    done = ponder(*_args(tmp_path, "--plan-format", "compact", "--events", "jsonl"), home=tmp_path)
    assert done.returncode in (0, 4), done.stderr[-2000:]  # 4: the scripted claim is unsupported
    seen = events(done.stdout)
    plans = [e for e in seen if e["type"] == "plan"]
    assert len(plans) == 1
    assert [(s["id"], s["tool"], s["input"], s["goal"]) for s in plans[0]["steps"]] == [
        ("s1", "corpus_search", {"query": "TaskGroup errors"}, "find it")
    ]
    started = [e for e in seen if e["type"] == "step_started"]
    assert [e["step_id"] for e in started] == ["s1"]
    usage = next(e for e in seen if e["type"] == "usage")
    assert usage["model_calls"] == 3  # the refused plan, the repaired one, the answer


def test_an_unknown_plan_format_is_a_usage_error(tmp_path: Path) -> None:
    bad = ponder(*_args(tmp_path, "--plan-format", "yaml"), home=tmp_path)
    assert bad.returncode == 2 and "--plan-format" in bad.stderr and "Traceback" not in bad.stderr
