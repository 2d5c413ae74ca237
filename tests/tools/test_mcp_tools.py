"""Tools from real MCP servers (the SDK's FastMCP), over stdio and streamable HTTP.

Each server is tests/tools/mcp_test_server.py, started for real; the model is
scripted, so what the planner saw and what was cited are pinned down exactly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agent.errors import ConfigError
from agent.settings import Settings
from agent.testing import ScriptedChatModel
from agent.toolset import Toolset
from graphs.research import build_research_graph
from tests.conftest import planning, synthesis
from tests.tools.mcp_servers import HEADER, TOKEN, http_notes_server, stdio_server
from tools.mcp import McpConfig, McpTools, aload_mcp_tools
from tools.netguard import NetworkPolicy

pytestmark = pytest.mark.mcp

NAMES = {
    "search_notes",
    "crash",
    "hang",
    "big",
    "noise",
    "refuse",
    "write_note",
    "forget",
    "whoami",
}

# Claims the test server's notes state, so the citation check keeps them.
GATHER = "asyncio.gather with return_exceptions=True returns exceptions as results."
TASKGROUP = "A TaskGroup cancels its remaining tasks when one task fails."


def _step(sid: str, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": sid, "goal": f"use {tool}", "tool": tool, "input": args or {}, "depends_on": []}


@pytest.fixture(params=["stdio", "http"])
def notes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, McpTools]]:
    """The notes server's tools, over each transport; yields (transport, tools)."""
    import asyncio

    if request.param == "stdio":
        entry = stdio_server(
            timeout=8, toolTimeouts={"hang": 4}, maxOutputChars=5000, sideEffects=["write_note"]
        )
        entry["env"]["NOTES_FILE"] = str(tmp_path / "notes.txt")
        config = McpConfig.from_mapping({"mcpServers": {"notes": entry}})
        found = asyncio.run(aload_mcp_tools(config))
        yield "stdio", found
        found.close()
        return
    with http_notes_server(tmp_path) as url:
        entry = {
            "url": url,
            "headers": {"Authorization": f"Bearer {HEADER}"},
            "timeout": 8,
            "toolTimeouts": {"hang": 4},
            "maxOutputChars": 5000,
            "sideEffects": ["write_note"],
        }
        config = McpConfig.from_mapping({"mcpServers": {"notes": entry}})
        host = urlsplit(url).netloc
        found = asyncio.run(aload_mcp_tools(config, policy=NetworkPolicy(allow_hosts=(host,))))
        yield "http", found
        found.close()


def test_tools_are_listed_prefixed_and_described_to_the_planner(
    notes: tuple[str, McpTools],
) -> None:
    _, found = notes
    assert found.notices == []
    assert {t.name for t in found.tools} == {f"notes_{n}" for n in NAMES}
    described = Toolset(found.tools).describe()
    assert "- notes_search_notes(query): Search the team's notes about asyncio" in described
    assert "- notes_big(chars=200000): Return a very long text." in described
    approval = {t.name for t in found.tools if (t.metadata or {}).get("needs_approval")}
    # write_note because the config says so; forget because the server annotates it destructive.
    assert approval == {"notes_write_note", "notes_forget"}


async def test_a_planned_mcp_step_is_called_fenced_and_cited(notes: tuple[str, McpTools]) -> None:
    _, found = notes
    model = ScriptedChatModel(
        script={
            "Planning": [planning(_step("s1", "notes_search_notes", {"query": "gather"}))],
            "Synthesis": [
                synthesis("s1.1", quote="return_exceptions=True returns exceptions", text=GATHER)
            ],
        }
    )
    graph = build_research_graph(model, found.tools)
    out = await graph.ainvoke({"task": "What do our notes say about gather?"})
    assert out["status"] == "done"
    (citation,) = out["answer"].citations
    assert citation.source.startswith("mcp:notes/search_notes#")
    assert citation.quote == "return_exceptions=True returns exceptions"
    planner_prompt = model.calls_for("Planning")[0].prompt
    assert "notes_search_notes(query): Search the team's notes about asyncio" in planner_prompt
    evidence = model.calls_for("Synthesis")[0].prompt
    fenced = evidence[evidence.index("<untrusted_data") :]
    assert "Note 7: asyncio.gather" in fenced.split("</untrusted_data>")[0]


async def test_a_hang_and_a_flood_each_become_observations(notes: tuple[str, McpTools]) -> None:
    transport, found = notes
    plan = planning(
        _step("s1", "notes_hang"),
        _step("s2", "notes_big", {"chars": 100_000}),
        _step("s3", "notes_search_notes", {"query": "taskgroup"}),
    )
    model = ScriptedChatModel(
        script={
            "Planning": [plan],
            "Reflection": [{"verdicts": [], "decision": "continue", "reason": "use s3"}],
            "Synthesis": [synthesis("s3.1", text=TASKGROUP)],
        },
        repeat_last=True,
    )
    graph = build_research_graph(
        model, found.tools, checkpointer=InMemorySaver(), settings=Settings(effort="low")
    )
    config: Any = {"configurable": {"thread_id": f"faults-{transport}"}}
    started = time.monotonic()
    out = await graph.ainvoke({"task": "What happens when a TaskGroup task fails?"}, config)
    elapsed = time.monotonic() - started
    steps = (await graph.aget_state(config)).values["steps"]
    assert out["status"] == "done" and out["answer"].citations
    assert steps["s1"].observation.error.kind == "timeout"
    assert "did not answer hang within 4s" in steps["s1"].observation.error.message
    big = steps["s2"].observation
    assert big.ok and big.truncated and len(big.content) <= 5000 + 20
    assert "Note 9" in steps["s3"].observation.content
    assert elapsed < 40, f"the run took {elapsed:.1f}s"


async def test_a_server_that_crashes_mid_call_is_survived_and_restarted(tmp_path: Path) -> None:
    """One stdio server dies in a call; the run goes on with another server's evidence,
    and the crashed server's next call starts it again."""
    config = McpConfig.from_mapping(
        {"mcpServers": {"fragile": stdio_server(timeout=20), "notes": stdio_server(timeout=20)}}
    )
    found = await aload_mcp_tools(config)
    try:
        plan = planning(
            _step("s1", "fragile_crash"), _step("s2", "notes_search_notes", {"query": "gather"})
        )
        model = ScriptedChatModel(
            script={
                "Planning": [plan],
                "Reflection": [{"verdicts": [], "decision": "continue", "reason": "use s2"}],
                "Synthesis": [synthesis("s2.1", text=GATHER)],
            },
            repeat_last=True,
        )
        graph = build_research_graph(
            model, found.tools, checkpointer=InMemorySaver(), settings=Settings(effort="low")
        )
        config_: Any = {"configurable": {"thread_id": "crash"}}
        out = await graph.ainvoke({"task": "What do the notes say about gather?"}, config_)
        steps = (await graph.aget_state(config_)).values["steps"]
        assert out["status"] == "done" and out["answer"].citations
        crashed = steps["s1"].observation
        assert crashed.error.kind == "unavailable" and crashed.error.retryable
        assert "Connection closed" in crashed.error.message
        assert steps["s1"].attempt >= 2  # retried by rule: each attempt restarted the server
        fragile = next(link for link in found.links if link.opened >= 2)
        search = next(t for t in found.tools if t.name == "fragile_search_notes")
        obs = await Toolset([search]).run(
            "fragile_search_notes", {"query": "gather"}, call_id="c", timeout_s=30
        )
        assert obs.ok and "Note 7" in obs.content  # the crashed server answers again
        assert fragile.opened >= 3
    finally:
        await found.aclose()


async def test_a_side_effecting_tool_waits_for_approval(
    notes: tuple[str, McpTools], tmp_path: Path
) -> None:
    transport, found = notes
    written = tmp_path / ("notes.txt" if transport == "stdio" else "http-notes.txt")
    model = ScriptedChatModel(
        script={
            "Planning": [
                planning(_step("s1", "notes_write_note", {"title": "t1", "text": "remember"}))
            ],
            "Synthesis": [synthesis("s1.1", text="The note t1 was saved.")],
        }
    )
    graph = build_research_graph(
        model, found.tools, checkpointer=InMemorySaver(), settings=Settings(approve_code=True)
    )
    config: Any = {"configurable": {"thread_id": f"approve-{transport}"}}
    await graph.ainvoke({"task": "Save a note"}, config)
    snapshot = await graph.aget_state(config)
    assert snapshot.interrupts, "the side-effecting tool ran without asking"
    request = snapshot.interrupts[0].value
    assert request["tool"] == "notes_write_note"
    assert request["input"] == {"title": "t1", "text": "remember"}
    assert not written.exists(), "the note was written before approval"
    await graph.ainvoke(Command(resume={"decision": "approve"}), config)
    assert (await graph.aget_state(config)).values["status"] == "done"
    assert "t1: remember" in written.read_text()


async def test_unreadable_and_error_results_are_error_observations_not_retries(
    notes: tuple[str, McpTools],
) -> None:
    _, found = notes
    toolset = Toolset(found.tools)
    obs = await toolset.run("notes_noise", {}, call_id="c1", timeout_s=30)
    assert obs.error is not None and obs.error.kind == "error" and not obs.error.retryable
    assert "AudioContent" in obs.error.message
    refused = await toolset.run("notes_refuse", {"title": "x"}, call_id="c3", timeout_s=30)
    assert refused.error is not None and refused.error.kind == "error"
    assert "no note titled 'x'" in refused.error.message
    assert refused.untrusted  # the server's words reach prompts fenced, like its results
    after = await toolset.run("notes_search_notes", {"query": "gather"}, call_id="c2", timeout_s=30)
    assert after.ok and "Note 7" in after.content  # the session was kept
    assert all(link.opened == 1 for link in found.links)


async def test_secrets_reach_the_server_but_never_the_observation(
    notes: tuple[str, McpTools],
) -> None:
    transport, found = notes
    whoami = next(t for t in found.tools if t.name == "notes_whoami")
    obs = await Toolset([whoami]).run("notes_whoami", {}, call_id="c1", timeout_s=10)
    assert obs.ok, obs.content
    if transport == "stdio":
        assert "token=[redacted]" in obs.content  # the server got the env value
    else:
        assert "header=[redacted]" in obs.content  # the server got the header
    assert TOKEN not in obs.model_dump_json() and HEADER not in obs.model_dump_json()
    assert "canary" not in repr(whoami)


async def test_servers_that_die_or_babble_at_start_are_left_out_with_a_notice() -> None:
    config = McpConfig.from_mapping(
        {
            "mcpServers": {
                "dead": stdio_server("exit"),
                "babble": stdio_server("garbage", startupTimeout=5),
                "ok": stdio_server(),
            }
        }
    )
    started = time.monotonic()
    found = await aload_mcp_tools(config)
    assert time.monotonic() - started < 25
    assert {t.name for t in found.tools} == {f"ok_{n}" for n in NAMES}
    assert len(found.notices) == 2
    assert any(n.startswith("MCP server dead is off:") for n in found.notices)
    assert any(n.startswith("MCP server babble is off:") for n in found.notices)


async def test_an_http_server_on_loopback_is_refused_unless_allowed(tmp_path: Path) -> None:
    with http_notes_server(tmp_path) as url:
        config = McpConfig.from_mapping({"mcpServers": {"remote": {"url": url}}})
        refused = await aload_mcp_tools(config)
        assert refused.tools == []
        (notice,) = refused.notices
        assert "loopback" in notice and "--allow-host 127.0.0.1:" in notice
        host = urlsplit(url).netloc
        allowed = await aload_mcp_tools(config, policy=NetworkPolicy(allow_hosts=(host,)))
        assert len(allowed.tools) == len(NAMES) and allowed.notices == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"servers": {}}, '{"mcpServers"'),
        ({"mcpServers": {"a b": {"command": "x"}}}, "server name 'a b'"),
        ({"mcpServers": {"s": {}}}, "needs either a command (stdio) or a url"),
        ({"mcpServers": {"s": {"url": "file:///etc/passwd"}}}, "must start with http"),
        ({"mcpServers": {"s": {"command": "x", "env": {"K": 5}}}}, "mcpServers.s.env.K"),
    ],
)
def test_bad_configs_are_one_line_errors_that_never_quote_values(
    raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        McpConfig.from_mapping(raw)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_an_http_server_that_went_away_is_an_error_observation(tmp_path: Path) -> None:
    with http_notes_server(tmp_path) as url:
        config = McpConfig.from_mapping({"mcpServers": {"remote": {"url": url, "timeout": 5}}})
        policy = NetworkPolicy(allow_hosts=(urlsplit(url).netloc,))
        found = await aload_mcp_tools(config, policy=policy)
    toolset = Toolset(found.tools)  # the server is stopped now
    started = time.monotonic()
    first = await toolset.run(
        "remote_search_notes", {"query": "gather"}, call_id="c1", timeout_s=30
    )
    # The SDK leaves a call to a vanished HTTP server waiting: it times out, and the
    # unanswered ping that follows drops the session, so the next call fails at once.
    assert first.error is not None and first.error.kind in ("timeout", "unavailable")
    second = await toolset.run("remote_search_notes", {"query": "x"}, call_id="c2", timeout_s=30)
    assert second.error is not None and second.error.kind == "unavailable", second.content
    assert time.monotonic() - started < 20
    await found.aclose()
