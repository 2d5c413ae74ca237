"""A run killed after its first wave resumes with `ponder resume`, redoing no finished step."""

from __future__ import annotations

import json
import os
import signal
import time

from bench.cli_runner import CORPUS, events, ponder, start, write_script
from tests.conftest import planning, step


def _step(sid: str, query: str, deps: tuple[str, ...] = ()) -> dict:
    return step(sid, query, deps, tool="corpus_search")


# Claims the corpus passages s1.1 and s2.1 really support, so the citation check keeps them.
SYNTHESIS = {
    "claims": [
        {"text": "gather propagates the first exception immediately.", "cites": ["s1.1"]},
        {"text": "When a task fails, its siblings are cancelled.", "cites": ["s2.1"]},
    ],
    "gaps": [],
}


def test_killed_run_resumes_without_redoing_finished_steps(tmp_path) -> None:
    script = write_script(
        tmp_path / "model.json",
        {
            "Planning": [planning(_step("s1", "gather exceptions"), _step("s2", "TaskGroup"))],
            "Synthesis": [SYNTHESIS],
        },
        role_latency_s={"Synthesis": 30.0},
    )
    args = [
        "run",
        "How do gather and TaskGroup treat errors?",
        "--model",
        f"script:{script}",
        "--corpus",
        str(CORPUS),
        "--tools",
        "corpus_search",
        "--events",
        "jsonl",
        "--run-id",
        "killme",
    ]
    proc = start(*args, home=tmp_path)
    try:
        deadline = time.monotonic() + 60
        saved: dict = {}
        while time.monotonic() < deadline:  # wait until both steps are checkpointed
            shown = ponder("show", "killme", "--json", home=tmp_path)
            if shown.returncode == 0:
                saved = json.loads(shown.stdout)
                steps = saved["plans"][0]["steps"] if saved["plans"] else []
                if steps and all(s["status"] == "done" for s in steps):
                    break
            time.sleep(0.3)
        else:
            raise AssertionError("the first wave never reached the checkpoint")
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        first_out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    started_before = [e["step_id"] for e in events(first_out) if e["type"] == "step_started"]
    assert sorted(started_before) == ["s1", "s2"]
    listed = [ln for ln in ponder("runs", home=tmp_path).stdout.splitlines() if "killme" in ln]
    assert len(listed) == 1
    assert listed[0].split()[1] == "interrupted", "a killed run still reads as running"

    # The resumed process loads the model afresh: no planning reply at all (a
    # replan would fail the run) and a prompt synthesis.
    write_script(script, {"Synthesis": [SYNTHESIS]})
    resumed = ponder("resume", "killme", "--events", "jsonl", home=tmp_path, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    kinds = [e["type"] for e in events(resumed.stdout)]
    assert "step_started" not in kinds, "a finished step ran again after the resume"
    assert kinds[-3:] == ["citation_check", "answer", "usage"]
    final = json.loads(ponder("show", "killme", "--json", home=tmp_path).stdout)
    assert final["status"] == "done"
    assert [c["source"].split("#")[0] for c in final["citations"]] == [
        "tasks-and-gather.md",
        "taskgroup.md",
    ]
