"""``ponder mcp`` driven by the mcp SDK's own client, over stdio and streamable HTTP.

The server is the real ``ponder`` console script with a scripted model
(``--model script:FILE``) over the example corpus; the client lists its tool,
calls ``research`` with a progress callback, and reads the finished run back
as a resource.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from pydantic import AnyUrl

from bench.cli_runner import CORPUS, PONDER, REPO, ponder, write_script
from tests.conftest import planning, synthesis
from tests.tools.mcp_servers import free_port, serving

pytestmark = pytest.mark.mcp

TASK = "How does gather handle exceptions?"
QUOTE = "with `return_exceptions=True` it appears in the result list"
CLAIM = "With return_exceptions=True, a CancelledError appears in the result list."


_SECTION = {"title": "Cancelled awaitables", "evidence": ["s1.1"]}


def _script(tmp: Path) -> Path:
    plan = planning(
        {"id": "s1", "goal": "how gather treats exceptions", "tool": "corpus_search",
         "input": {"query": "gather return_exceptions"}, "depends_on": []},
        depth="low",
    )  # fmt: skip
    cited = {"claims": [{"text": CLAIM, "quote": QUOTE, "cites": ["s1.1"]}]}
    return write_script(
        tmp / "script.json",
        {
            "Planning": [plan],
            "Synthesis": [synthesis("s1.1", quote=QUOTE, text=CLAIM)],
            # report_length="long" writes an outline, its sections and a summary instead
            "Outline": [{"title": "Gather and errors", "sections": [_SECTION]}],
            "Section": [cited],
            "ReportSummary": [cited],
        },
        repeat_last=True,
    )


def _serve_args(tmp: Path) -> list[str]:
    return [
        "mcp", "--model", f"script:{_script(tmp)}", "--corpus", str(CORPUS),
        "--store", str(tmp / "runs.sqlite"),
    ]  # fmt: skip


def _env(tmp: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return {**clean, "PYTHONPATH": str(REPO), "PONDER_HOME": str(tmp)}


async def _exercise(session: ClientSession) -> None:
    await session.initialize()
    (tool,) = (await session.list_tools()).tools
    assert tool.name == "research"
    props = tool.inputSchema["properties"]
    assert tool.inputSchema["required"] == ["task"]
    assert {"task", "effort", "corpus", "report_length", "max_steps", "timeout_s"} <= set(props)
    assert props["report_length"]["enum"] == ["short", "long"]

    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    result = await session.call_tool(
        "research", {"task": TASK, "effort": "low"}, progress_callback=on_progress
    )
    assert not result.isError, result.content
    data: dict[str, Any] = result.structuredContent or {}
    assert data["status"] == "done"
    assert data["citations"][0]["source"].startswith("tasks-and-gather.md#")
    assert data["citations"][0]["quote"] == QUOTE
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith(f"{CLAIM} [1]") and "tasks-and-gather.md" in text

    messages = [m for _, m in progress]
    assert messages[0] is not None and messages[0].startswith("run started with model script:")
    for expected in ("plan v1: 1 steps", "step s1 started: corpus_search",
                     "step s1 done: corpus_search", "citations: 1 of 1 verified"):  # fmt: skip
        assert expected in messages, messages
    assert messages[-1] == f"run {data['run_id']} done"
    values = [v for v, _ in progress]
    assert values == sorted(values) and len(set(values)) == len(values)

    report = await session.read_resource(AnyUrl(data["resource"]))
    assert report.contents[0].text.startswith(f"# {TASK}")  # type: ignore[union-attr]
    listing = await session.read_resource(AnyUrl("ponder://runs"))
    assert data["run_id"] in listing.contents[0].text  # type: ignore[union-attr]

    long = await session.call_tool("research", {"task": TASK, "report_length": "long"})
    assert not long.isError, long.content
    shape: dict[str, Any] = long.structuredContent or {}
    assert (shape["status"], shape["title"]) == ("done", "Gather and errors"), shape
    assert shape["sections"] == ["Cancelled awaitables"]
    assert [r["source"][:19] for r in shape["references"]] == ["tasks-and-gather.md"]
    assert "## Cancelled awaitables" in shape["answer"] and "[1]" in shape["answer"]

    refused = await session.call_tool("research", {"task": TASK, "corpus": "/etc"})
    assert refused.isError
    assert "unknown corpus '/etc'; this server serves: corpus" in refused.content[0].text  # type: ignore[union-attr]


async def test_ponder_mcp_over_stdio(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=str(PONDER), args=_serve_args(tmp_path), env=_env(tmp_path), cwd=str(REPO)
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await _exercise(session)
    assert "Traceback" not in (tmp_path / "stderr.log").read_text()


async def test_ponder_mcp_over_streamable_http(tmp_path: Path) -> None:
    port = free_port()
    command = [str(PONDER), *_serve_args(tmp_path), "--http", f"127.0.0.1:{port}"]
    with serving(command, port, tmp_path / "server.log", PONDER_HOME=str(tmp_path)):
        async with (
            streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await _exercise(session)
    assert "Traceback" not in (tmp_path / "server.log").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--http", "8765"], "--http needs HOST:PORT"),
        (["--corpus", "/no/such/folder"], "does not exist"),
        (["--search", "corpus"], "--search corpus needs --corpus DIR"),
    ],
)
def test_ponder_mcp_usage_errors_are_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = ponder("mcp", *args, home=tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_ponder_mcp_help_names_both_transports(tmp_path: Path) -> None:
    done = ponder("mcp", "--help", home=tmp_path, timeout=60)
    assert done.returncode == 0 and "--http" in done.stdout and "stdio" in done.stdout
