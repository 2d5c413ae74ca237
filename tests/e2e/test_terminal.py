"""`ponder` as a person meets it: in a real pseudo-terminal, read back through a
terminal emulator.

Each test prints the final screen (pytest shows it when the test fails), so a
reader sees exactly what the user saw. A scripted model (``--model
script:FILE``) fixes the timing; a local HTTP server stands in for a slow web
page where a step must be caught running.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bench.cli_runner import CORPUS, events, ponder, write_script
from tests.conftest import corpus_synthesis, planning
from tests.e2e.pty_screen import Terminal

pytestmark = [pytest.mark.pty, pytest.mark.slow]

TASK = "How do gather and TaskGroup treat errors?"


def _search(sid: str, query: str, deps: tuple[str, ...] = (), goal: str = "") -> dict[str, Any]:
    return {
        "id": sid,
        "goal": goal or f"find {query}",
        "tool": "corpus_search",
        "input": {"query": query},
        "depends_on": list(deps),
    }


def _fetch(sid: str, url: str, deps: tuple[str, ...] = (), goal: str = "") -> dict[str, Any]:
    return {
        "id": sid,
        "goal": goal or f"read {url}",
        "tool": "fetch_url",
        "input": {"url": url, "mode": "http"},
        "depends_on": list(deps),
    }


def _judgement(decision: str, reason: str) -> dict[str, Any]:
    return {"verdicts": [], "decision": decision, "reason": reason, "retry": []}


def _run_args(script: Path, *extra: str) -> list[str]:
    return [
        "run",
        TASK,
        "--model",
        f"script:{script}",
        "--corpus",
        str(CORPUS),
        "--tools",
        "corpus_search",
        "--run-id",
        "tty1",
        *extra,
    ]


def _report(home: Path, run_id: str = "tty1") -> dict[str, Any]:
    shown = ponder("show", run_id, "--json", home=home, timeout=60)
    assert shown.returncode == 0, shown.stderr
    report: dict[str, Any] = json.loads(shown.stdout)
    return report


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for term in opened:
        term.close()


class _SlowPages(BaseHTTPRequestHandler):
    """``/slow`` answers after ``delay_s``; ``/missing`` is a 404; anything else at once."""

    delay_s = 0.0

    def do_GET(self) -> None:
        if self.path.startswith("/missing"):
            self.send_error(404)
            return
        if self.path.startswith("/slow"):
            time.sleep(type(self).delay_s)
        body = b"<html><body><h1>TaskGroup</h1><p>TaskGroup cancels the rest.</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def pages() -> Iterator[tuple[str, type[_SlowPages]]]:
    handler = type("Pages", (_SlowPages,), {"delay_s": 30.0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


# -- 1. approval prompts -----------------------------------------------------------


EDITOR = """
import json, sys
path = sys.argv[1]
steps = json.load(open(path))
steps = [s for s in steps if s["id"] == "s1"]
steps[0]["goal"] = "find how gather propagates the first error"
json.dump(steps, open(path, "w"))
"""


@pytest.mark.parametrize("answer", ["approve", "edit", "reject"])
def test_plan_approval_prompt_is_on_screen_and_each_answer_does_what_it_says(
    tmp_path: Path, terminals: list[Terminal], answer: str
) -> None:
    first = planning(_search("s1", "gather exceptions"), _search("s2", "TaskGroup"))
    revised = planning(_search("s3", "TaskGroup cancels siblings"))
    cites = {
        "approve": (("s1.1", "gather exceptions"), ("s2.1", "TaskGroup")),
        "edit": (("s1.1", "gather exceptions"),),
        "reject": (("s3.1", "TaskGroup cancels siblings"),),
    }[answer]
    script = write_script(
        tmp_path / "model.json",
        {"Planning": [first, revised], "Synthesis": [corpus_synthesis(*cites)]},
    )
    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR, encoding="utf-8")
    term = Terminal(
        *_run_args(script, "--approve-plan"),
        home=tmp_path,
        extra_env={"EDITOR": f"{sys.executable} {editor}", "VISUAL": ""},
    )
    terminals.append(term)
    term.wait_for(r"Run this plan\? \[a\]pprove, \[e\]dit or \[r\]eject", timeout=60)
    asked = term.show("the question")
    assert "s1 corpus_search: find gather exceptions" in asked
    assert "s2 corpus_search: find TaskGroup" in asked
    assert "elapsed" not in asked.splitlines()[-1], "the live view drew over the question"
    if answer == "approve":
        term.send("a\r")
    elif answer == "edit":
        term.send("e\r")
    else:
        term.send("r\r")
        term.wait_for(r"What should change\?")
        term.send("search for how TaskGroup cancels its siblings\r")
        term.wait_for(r"s3 corpus_search: find TaskGroup cancels siblings[\s\S]*Run this plan\?")
        term.send("a\r")
    code = term.wait_exit(60)
    screen = term.show()
    assert code == 0, screen
    report = _report(tmp_path)
    final = report["plans"][-1]
    ran = {s["id"]: s["status"] for s in final["steps"]}
    if answer == "approve":
        assert ran == {"s1": "done", "s2": "done"}
        assert "plan v1: approve" in screen
    elif answer == "edit":
        assert ran == {"s1": "done"}
        assert final["steps"][0]["goal"] == "find how gather propagates the first error"
        assert "✔ s1 corpus_search: find how gather propagates the first error" in screen
        assert "s2 corpus_search" not in screen.split("Task:")[-1]
    else:
        assert ran == {"s3": "done"}
        assert "plan v1: reject: search for how TaskGroup cancels its siblings" in screen
        assert "✔ s3 corpus_search: find TaskGroup cancels siblings" in screen


def test_ctrl_c_at_the_plan_question_stops_the_run(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    replies = {
        "Planning": [planning(_search("s1", "gather"))],
        "Synthesis": [corpus_synthesis(("s1.1", "gather"))],
    }
    script = write_script(tmp_path / "model.json", replies)
    term = Terminal(*_run_args(script, "--approve-plan"), home=tmp_path)
    terminals.append(term)
    term.wait_for(r"Run this plan\?", timeout=60)
    pressed = term.interrupt()
    code = term.wait_exit(10)
    took = time.monotonic() - pressed
    screen = term.show(f"after Ctrl-C at the question ({took:.2f}s)")
    assert code == 130 and took < 2.0, (code, took)
    assert "continue it with: ponder resume tty1" in screen
    assert re.search(r"tty1\s+interrupted", ponder("runs", home=tmp_path, timeout=60).stdout)


@pytest.mark.sandbox
@pytest.mark.parametrize("answer", ["y", "n"])
def test_code_approval_prompt_is_on_screen_and_its_answer_holds(
    tmp_path: Path, terminals: list[Terminal], answer: str
) -> None:
    code_step = {
        "id": "s1",
        "goal": "add two numbers",
        "tool": "python",
        "input": {"code": "print(20 + 22)"},
        "depends_on": [],
    }
    script = write_script(
        tmp_path / "model.json",
        {
            "Planning": [planning(code_step, mode="compute")],
            "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"))],
            "Reflection": [_judgement("finish", "the code step was refused")],
        },
    )
    args = _run_args(script, "--approve-code", "--tools", "python")
    term = Terminal(*args, home=tmp_path)
    terminals.append(term)
    term.wait_for(r"Run it\? \[y\]es, \[n\]o or \[e\]dit", timeout=60)
    asked = term.show("the question")
    assert "print(20 + 22)" in asked
    term.send(f"{answer}\r")
    term.wait_exit(60)
    screen = term.show()
    steps = {s["id"]: s for s in _report(tmp_path)["plans"][-1]["steps"]}
    if answer == "y":
        assert steps["s1"]["status"] == "done"
        assert "42" in steps["s1"]["summary"]
        assert "✔ s1 python: add two numbers" in screen
    else:
        assert steps["s1"]["status"] != "done"
        assert "✔ s1" not in screen


# -- 2. Ctrl-C ---------------------------------------------------------------------


def _interrupt_and_resume(
    term: Terminal, home: Path, script: Path, replies: dict[str, Any], **options: Any
) -> tuple[str, list[dict[str, Any]]]:
    """Ctrl-C; check the exit, the line and the store; resume with a prompt model."""
    pressed = term.interrupt()
    code = term.wait_exit(10)
    took = time.monotonic() - pressed
    screen = term.show(f"after Ctrl-C ({took:.2f}s)")
    assert code == 130, screen
    assert took < 2.0, f"Ctrl-C took {took:.2f}s to stop the run"
    assert "continue it with: ponder resume tty1" in screen
    assert screen.count("ponder resume tty1") == 1
    listed = ponder("runs", home=home, timeout=60).stdout
    assert re.search(r"tty1\s+interrupted", listed), listed
    write_script(script, replies, **options)  # the resumed run reads the same file
    done = ponder("resume", "tty1", "--events", "jsonl", home=home, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return screen, events(done.stdout)


def test_ctrl_c_while_planning_stops_at_once_and_resumes(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    plan = planning(_search("s1", "gather exceptions"))
    replies = {"Planning": [plan], "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"))]}
    script = write_script(tmp_path / "model.json", replies, role_latency_s={"Planning": 60.0})
    term = Terminal(*_run_args(script), home=tmp_path)
    terminals.append(term)
    term.wait_for("✎ planning", timeout=60)
    screen, resumed = _interrupt_and_resume(term, tmp_path, script, replies)
    assert "Plan v1" not in screen
    assert [e["step_id"] for e in resumed if e["type"] == "step_started"] == ["s1"]
    assert _report(tmp_path)["status"] == "done"


def test_ctrl_c_during_a_step_keeps_finished_steps(
    tmp_path: Path, terminals: list[Terminal], pages: tuple[str, type[_SlowPages]]
) -> None:
    host, handler = pages
    plan = planning(
        _search("s1", "gather exceptions"), _fetch("s2", f"http://{host}/slow", goal="read it")
    )
    replies = {"Planning": [plan], "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"))]}
    script = write_script(tmp_path / "model.json", replies)
    args = [*_run_args(script), "--tools", "corpus_search,fetch_url", "--search", "web"]
    term = Terminal(*args, "--allow-host", host, home=tmp_path)
    terminals.append(term)
    term.wait_for(r"✔ s1 corpus_search[\s\S]*▶ s2 fetch_url", timeout=60)
    _wait_until_checkpointed(tmp_path, "s1")
    handler.delay_s = 0.0  # the page is quick when the run resumes
    screen, resumed = _interrupt_and_resume(term, tmp_path, script, replies)
    assert "✔ s1 corpus_search: find gather exceptions" in screen
    assert "■ s2 fetch_url: read it" in screen
    assert "stopped by Ctrl-C; `ponder resume` runs it again" in screen
    assert [e["step_id"] for e in resumed if e["type"] == "step_started"] == ["s2"]
    assert {s["id"]: s["status"] for s in _report(tmp_path)["plans"][-1]["steps"]} == {
        "s1": "done",
        "s2": "done",
    }


def _wait_until_checkpointed(home: Path, step_id: str) -> None:
    """A step is saved a moment after the screen shows it done (checkpoints are written
    in the background); only a saved step is safe from being run again."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        plans = _report(home)["plans"]
        if plans and any(s["id"] == step_id and s["status"] == "done" for s in plans[-1]["steps"]):
            return
        time.sleep(0.2)
    raise AssertionError(f"step {step_id} was never checkpointed")


def test_ctrl_c_while_writing_the_answer_redoes_no_step(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    plan = planning(_search("s1", "gather exceptions"), _search("s2", "TaskGroup"))
    replies = {
        "Planning": [plan],
        "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"), ("s2.1", "TaskGroup"))],
    }
    script = write_script(tmp_path / "model.json", replies, role_latency_s={"Synthesis": 60.0})
    term = Terminal(*_run_args(script), home=tmp_path)
    terminals.append(term)
    term.wait_for("✎ writing the answer", timeout=60)
    _wait_until_checkpointed(tmp_path, "s2")
    screen, resumed = _interrupt_and_resume(term, tmp_path, script, replies)
    assert "✔ s1 corpus_search" in screen and "✔ s2 corpus_search" in screen
    assert not [e for e in resumed if e["type"] == "step_started"]
    assert _report(tmp_path)["status"] == "done"


def test_second_ctrl_c_exits_at_once(tmp_path: Path, terminals: list[Terminal]) -> None:
    replies = {
        "Planning": [planning(_search("s1", "gather"))],
        "Synthesis": [corpus_synthesis(("s1.1", "gather"))],
    }
    script = write_script(tmp_path / "model.json", replies, role_latency_s={"Planning": 60.0})
    term = Terminal(*_run_args(script), home=tmp_path)
    terminals.append(term)
    term.wait_for("✎ planning", timeout=60)
    pressed = term.interrupt()
    term.interrupt()
    code = term.wait_exit(10)
    screen = term.show(f"after two Ctrl-Cs ({time.monotonic() - pressed:.2f}s)")
    assert code == 130
    assert time.monotonic() - pressed < 2.0
    assert "ponder resume tty1" in screen


# -- 3. the live view moves ---------------------------------------------------------


def test_live_view_moves_while_the_model_plans(tmp_path: Path, terminals: list[Terminal]) -> None:
    plan = planning(_search("s1", "gather exceptions"))
    plan["reasoning"] = "First look up how gather reports the first failure of its awaitables."
    script = write_script(
        tmp_path / "model.json",
        {"Planning": [plan], "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"))]},
        role_latency_s={"Planning": 8.0},
        chunks=40,
    )
    term = Terminal(*_run_args(script), home=tmp_path)
    terminals.append(term)
    term.wait_for("✎ planning", timeout=60)
    before = term.show("planning starts")
    assert "reading the prompt" in before
    term.wait_for(r"✎ planning · [\d.]+s · \d+ tokens so far[\s\S]*gather reports", timeout=20)
    later = term.show("planning streams")
    clock = [float(m) for m in re.findall(r"([\d.]+)s elapsed", before + later)]
    assert len(clock) == 2 and clock[1] > clock[0] + 2.0, clock
    assert term.wait_exit(60) == 0
    final = term.show()
    assert re.search(r"2 model calls · [\d,]+ tokens · 1 tool call · ", final), final


# -- 4. the final screen tells the truth -------------------------------------------


@pytest.mark.parametrize("cols", [80, 200])
def test_final_screen_shows_cancelled_and_unrun_steps_readably(
    tmp_path: Path, terminals: list[Terminal], pages: tuple[str, type[_SlowPages]], cols: int
) -> None:
    host, _ = pages
    long_goal = (
        "read the slow page that explains how TaskGroup cancels every sibling task "
        "when one of them raises an exception"
    )
    plan = planning(
        _search("s1", "gather exceptions"),
        _fetch("s2", f"http://{host}/missing", deps=("s1",), goal="read the missing page"),
        _fetch("s3", f"http://{host}/slow", goal=long_goal),
        _search("s4", "TaskGroup", deps=("s3",), goal="search after the slow page"),
    )
    script = write_script(
        tmp_path / "model.json",
        {
            "Planning": [plan],
            "Reflection": [_judgement("finish", "enough to answer")],
            "Synthesis": [corpus_synthesis(("s1.1", "gather exceptions"))],
        },
    )
    args = [*_run_args(script), "--tools", "corpus_search,fetch_url", "--search", "web"]
    term = Terminal(*args, "--allow-host", host, home=tmp_path, cols=cols)
    terminals.append(term)
    code = term.wait_exit(90)
    screen = term.show()
    assert code == 0
    states = {s["id"]: s["status"] for s in _report(tmp_path)["plans"][-1]["steps"]}
    assert states == {"s1": "done", "s2": "failed", "s3": "pending", "s4": "pending"}
    tree = _tree_rows(screen)
    assert tree["s1"].startswith("✔ s1 corpus_search: find gather exceptions")
    assert tree["s2"].startswith("✘ s2 fetch_url ⟵ s1: read the missing page")
    assert "HTTP 404" in tree["s2"]
    assert tree["s3"].startswith(f"⊘ s3 fetch_url: {long_goal}")
    assert "cancelled: the run finished without it" in tree["s3"]
    assert tree["s4"].startswith("– s4 corpus_search ⟵ s3: search after the slow page")
    assert "not run: the run finished without it" in tree["s4"]
    assert "▶" not in screen, "a finished run shows a step still running"


def _tree_rows(screen: str) -> dict[str, str]:
    """Each step's text in the final tree, its wrapped lines joined with one space.

    A word cut at a line end would come back with a space inside it, so the
    checks above (whole goals, whole phrases) fail on mid-word wrapping.
    """
    rows: dict[str, list[str]] = {}
    current = ""
    body = screen.split("Task:")[-1]
    for line in body.splitlines():
        start = re.match(r"^([│ ]*)(├── |└── )(.*)$", line)
        if start:
            sid = re.match(r"^\S+ (s\d+) ", start.group(3))
            current = sid.group(1) if sid else ""
            if current:
                rows[current] = [start.group(3)]
            continue
        cont = re.match(r"^[│ ]{4}(.*)$", line)
        if current and cont:
            rows[current].append(cont.group(1).strip())
        else:
            current = ""
    return {sid: " ".join(parts) for sid, parts in rows.items()}


# -- the same with the real demo model (llama.cpp in-process) -----------------------


@pytest.mark.demo_model
def test_demo_model_run_moves_asks_and_stops_on_ctrl_c(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    """Planning in llama.cpp keeps the view moving, the plan is asked about on screen,
    a rejection with feedback plans again, and Ctrl-C inside that generation stops
    the run within 2 s."""
    term = Terminal(
        "run",
        "How does asyncio.gather handle exceptions?",
        "--model",
        "demo",
        "--corpus",
        str(CORPUS),
        "--tools",
        "corpus_search",
        "--approve-plan",
        "--run-id",
        "tty1",
        home=tmp_path,
    )
    terminals.append(term)
    term.wait_for("✎ planning", timeout=120)
    first = term.show("planning in llama.cpp")
    time.sleep(3.0)
    second = term.show("three seconds later")
    clock = [float(m) for m in re.findall(r"✎ planning · ([\d.]+)s", first + second)]
    assert len(clock) == 2 and clock[1] >= clock[0] + 2.0, clock
    term.wait_for(r"Run this plan\? \[a\]pprove", timeout=300)
    asked = term.show("the question")
    assert re.search(r"s1 corpus_search", asked)
    term.send("r\r")
    term.wait_for(r"What should change\?")
    term.send("search for return_exceptions\r")
    # The revised plan is a second llama.cpp generation; stop it once tokens stream.
    term.wait_for(r"plan v1: reject: search for return_exceptions", timeout=60)
    term.wait_for(r"✎ planning · [\d.]+s · \d+ tokens? so far", timeout=300)
    pressed = term.interrupt()
    code = term.wait_exit(10)
    took = time.monotonic() - pressed
    screen = term.show(f"after Ctrl-C ({took:.2f}s)")
    assert code == 130
    assert took < 2.0, f"Ctrl-C inside llama.cpp took {took:.2f}s"
    assert "continue it with: ponder resume tty1" in screen
    assert re.search(r"tty1\s+interrupted", ponder("runs", home=tmp_path, timeout=60).stdout)
