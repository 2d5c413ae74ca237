"""Every script in ``examples/`` runs as a user would run it, and prints what it promises.

Each runs in a subprocess from the repo root with ``PONDER_HOME`` in a temp dir,
so the corpus index it builds lands there and nowhere else.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli_runner import CORPUS, REPO, env
from tests.ecosystem.llama_server import server_missing

EXAMPLES = REPO / "examples"
CORPUS_FILES = {p.name for p in CORPUS.iterdir()}
DEMO_TIMEOUT_S = 900  # about a minute each here; a bad sample can cost the planner retries


def run_example(name: str, home: Path, timeout: float = 120) -> str:
    """The example's stdout, once it has exited cleanly."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(home),
        cwd=REPO,
    )
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    return done.stdout


def cited_documents(stdout: str) -> list[str]:
    line = next(x for x in stdout.splitlines() if x.startswith("cited documents: "))
    return line.removeprefix("cited documents: ").split(", ")


def source_files(stdout: str) -> list[str]:
    """The files named by the answer's ``**Sources**`` list: ``[1] Title — file.md#anchor``, or
    ``— file.md`` for a whole document."""
    return re.findall(r"^\[\d+\] .* — ([^#\s]+)(?:#\S*)?$", stdout, flags=re.MULTILINE)


def test_every_example_has_a_test() -> None:
    tested = set(re.findall(r'run_example\(\s*"([\w.]+\.py)"', Path(__file__).read_text()))
    assert tested == {p.name for p in EXAMPLES.glob("*.py")}


def test_custom_tool_plans_with_your_tools_and_chains_their_results(tmp_path: Path) -> None:
    out = run_example("custom_tool.py", tmp_path)
    # The planner saw each tool's argument description and docstring.
    assert "  order_customer(order_id: an order number such as A-1001)" in out
    assert "  customer_contact(customer_id: a customer id such as cus_42)" in out
    assert (
        "- order_customer(order_id): Look up which customer placed an order; "
        "returns the customer id." in out
    )
    assert "- customer_contact(customer_id): The name and email address of a customer." in out
    # s2's input was {{s1}}: it only finds Ada if s1's result reached it.
    assert "  s1 order_customer: done: cus_42\n" in out
    assert "  s2 customer_contact: done: Ada Lovelace <ada@example.com>\n" in out
    assert "\nstatus: done\n" in out
    assert "[1] order_customer — order_customer:s1" in out
    assert "[2] customer_contact — customer_contact:s2" in out


def test_embed_in_parent_graph_runs_research_between_the_parents_nodes(tmp_path: Path) -> None:
    out = run_example("embed_in_parent_graph.py", tmp_path)
    lines = out.splitlines()
    question = "What happens to sibling tasks when one fails?"
    framed = f"parent: framed the task: 'For new hires: {question}'"
    published = "parent: published a brief citing 2 passages"
    assert lines.index(framed) < lines.index(published)
    assert "research status: done (answered)" in lines
    assert "With return_exceptions=True, a CancelledError is in the result list. [1]" in lines
    assert "The group cancels the remaining tasks when the body raises. [2]" in lines
    assert "Sources: taskgroup.md, tasks-and-gather.md" in lines
    assert "**Sources**" not in out  # the parent's publish node rewrote the answer
    assert "checkpoint namespaces in the parent's saver: (parent), research" in lines
    assert list((tmp_path / "corpus-index").glob("corpus-*.sqlite"))


def test_approve_plan_rejects_then_edits_and_the_graph_follows(tmp_path: Path) -> None:
    out = run_example("approve_plan.py", tmp_path)
    lines = out.splitlines()
    order = [
        "Paused for approval of plan v1:",
        "   graph recorded: plan v1 reject (compare asyncio.timeout with wait_for)",
        "Paused for approval of plan v2:",
        "  s2 corpus_search {'query': 'wait_for cancels'}",
        "   graph recorded: plan v2 edit",
        "status: done; plan versions: 3",
        "plan v3 (edited by a person): s1, s2, s3",
    ]
    assert [lines.index(x) for x in order] == sorted(lines.index(x) for x in order)
    recorded = [x.strip() for x in lines if x.startswith("   graph recorded:")]
    assert len(recorded) == 2, recorded  # the person decided twice; nothing approved for them
    # s3 exists only in the person's edit; its passage is the second citation.
    assert source_files(out) == ["timeouts.md", "cancellation.md"]
    assert "cancellation.md#protecting-an-operation-with-shield" in out


@pytest.mark.mcp
def test_mcp_tools_plans_with_a_servers_tools_and_cites_its_result(tmp_path: Path) -> None:
    out = run_example("mcp_tools.py", tmp_path)
    assert "- notes_search_notes(query): Search the team's notes about asyncio" in out
    assert "- notes_save_note(topic, text): Save a note for the team" in out
    assert "asks for approval: notes_save_note\n" in out
    assert "\nstatus: done\n" in out
    fence = 'evidence fenced as: <untrusted_data id="s1.1" source="mcp:notes/search_notes#'
    assert fence in out, out
    assert "The team checks each gather result for an exception. [1]" in out
    assert re.search(r"^\[1\] notes_search_notes — mcp:notes/search_notes#\w+$", out, re.MULTILINE)
    assert "    > check each result with isinstance" in out


@pytest.mark.mcp
def test_mcp_client_delegates_research_to_ponder_mcp(tmp_path: Path) -> None:
    out = run_example("mcp_client.py", tmp_path)
    lines = out.splitlines()
    assert lines[0] == (
        "tools: research(task, effort, corpus, report_length, max_steps, max_model_calls, "
        "timeout_s)"
    )
    progress = [x for x in lines if x.startswith("  progress ")]
    for expected in ("plan v1: 1 steps", "step s1 done: corpus_search",
                     "citations: 1 of 1 verified"):  # fmt: skip
        assert any(x.endswith(expected) for x in progress), progress
    assert "status: done (answered)" in lines
    assert source_files(out) == ["tasks-and-gather.md"]
    run = re.search(r"^resource ponder://runs/(\w+): # What does gather do", out, re.MULTILINE)
    assert run and progress[-1].endswith(f"run {run[1]} done"), out


@pytest.mark.demo_model
@pytest.mark.slow
@pytest.mark.timeout(DEMO_TIMEOUT_S + 60)
def test_quickstart_answers_from_the_corpus_with_the_demo_model(tmp_path: Path) -> None:
    out = run_example("quickstart.py", tmp_path, timeout=DEMO_TIMEOUT_S)
    assert out.startswith("Task: How does asyncio.gather handle exceptions")
    # unanswered: the demo model's claims often fail the support test, which is the check working.
    status = r"^status: (done|budget_exhausted|unanswered) \([\w ]+\)$"
    assert re.search(status, out, flags=re.MULTILINE), out
    calls = re.search(r"^model calls: (\d+), tool calls: (\d+)$", out, flags=re.MULTILINE)
    assert calls and int(calls[1]) >= 2 and int(calls[2]) >= 1, out
    # The check judged the citations; a small model's claims may all fail it.
    assert re.search(r"_Citation check: \d+ of [1-9]\d* citations verified", out), out
    cited = [c for c in cited_documents(out) if c != "none"]
    assert set(cited) <= CORPUS_FILES, out
    assert set(source_files(out)) == set(cited)
    assert list((tmp_path / "corpus-index").glob("corpus-*.sqlite"))


@pytest.mark.demo_model
@pytest.mark.slow
@pytest.mark.timeout(DEMO_TIMEOUT_S + 60)
def test_stream_events_prints_each_typed_event_as_it_arrives(tmp_path: Path) -> None:
    out = run_example("stream_events.py", tmp_path, timeout=DEMO_TIMEOUT_S)
    summary = next(x for x in out.splitlines() if x.startswith("events seen: "))
    seen = {
        kind: int(n)
        for kind, n in re.findall(r"(\w+) x(\d+)", summary.removeprefix("events seen: "))
    }
    for kind in ("triage", "plan", "step_started", "step_finished", "citation_check", "answer"):
        assert seen.get(kind, 0) >= 1, summary
    assert seen["usage"] == 1 and seen["answer"] == 1, summary
    assert seen["step_started"] == seen["step_finished"], summary
    stamped = re.findall(r"^\[ *(\d+\.\d\d)s\] (\w+)", out, flags=re.MULTILINE)
    times = [float(t) for t, _ in stamped]
    assert times == sorted(times) and len(stamped) == sum(seen.values())
    assert stamped[-1][1] == "usage"
    check = re.search(
        r"citation check: (\d+) of (\d+) citations verified \((\d+) quoted, (\d+) supported, "
        r"(\d+) unsupported\)",
        out,
    )
    assert check, out
    kept, checked, quoted, supported, unsupported = map(int, check.groups())
    assert checked >= 1 and kept == supported and quoted == supported + unsupported, out
    files = source_files(out)
    assert len(set(files)) <= kept and set(files) <= CORPUS_FILES, out


@pytest.mark.demo_model
@pytest.mark.slow
@pytest.mark.timeout(DEMO_TIMEOUT_S + 60)
@pytest.mark.skipif(server_missing(), reason="needs llama-cpp-python[server] and the demo model")
def test_openai_compatible_server_example_serves_plans_and_stops_its_server(
    tmp_path: Path,
) -> None:
    out = run_example("openai_compatible_server.py", tmp_path, timeout=DEMO_TIMEOUT_S)
    up = re.search(r"server is up at (http://127\.0\.0\.1:(\d+)/v1), serving \S+\.gguf", out)
    assert up, out
    assert f"model: ChatOpenAICompatible (a ChatOpenAI) -> {up[1]}" in out
    assert re.search(r"^  \[ *\d+\.\ds\] plan 1$", out, flags=re.MULTILINE), out
    # unanswered: the demo model's claims often fail the support test, which is the check working.
    status = r"^status: (done|budget_exhausted|unanswered) \([\w ]+\)$"
    assert re.search(status, out, flags=re.MULTILINE), out
    calls = re.search(r"^model calls through the server: (\d+)$", out, flags=re.MULTILINE)
    assert calls and int(calls[1]) >= 2, out
    cited = [c for c in cited_documents(out) if c != "none"]
    assert set(cited) <= CORPUS_FILES, out
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(up[2])), timeout=2):
        pass  # the example stopped the server it started
