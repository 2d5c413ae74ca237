"""Ponder as an MCP server: another agent delegates research to ``ponder mcp``.

    python examples/mcp_client.py

Starts ``ponder mcp`` over stdio with the mcp SDK's own client (as a desktop
assistant or another agent would), lists its tools, calls ``research`` on the
example corpus while printing each progress notification, then reads the
finished run back as the resource ``ponder://runs/{run_id}``. The model is
scripted (``--model script:FILE``) so the example is exact and offline; start
the server with ``--model openai:gpt-4o-mini`` or any other spec instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import AnyUrl

REPO = Path(__file__).resolve().parents[1]
PONDER = Path(sys.executable).with_name("ponder")

SCRIPT = {
    "script": {
        "Planning": [
            {
                "mode": "research",
                "depth": "low",
                "triage_reason": "needs the documents",
                "reasoning": "One search finds how gather reports failures.",
                "steps": [
                    {
                        "id": "s1",
                        "goal": "how gather reports exceptions",
                        "tool": "corpus_search",
                        "input": {"query": "gather return_exceptions"},
                        "depends_on": [],
                    }
                ],
            }
        ],
        "Synthesis": [
            {
                "claims": [
                    {
                        "text": "With return_exceptions=True, a cancelled child's "
                        "CancelledError appears in the result list.",
                        "cites": ["s1.1"],
                        "quote": "with `return_exceptions=True` it appears in the result list",
                    }
                ],
                "gaps": [],
            }
        ],
    }
}


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "script.json"
        script.write_text(json.dumps(SCRIPT), encoding="utf-8")
        server = StdioServerParameters(
            command=str(PONDER),
            args=["mcp", "--model", f"script:{script}", "--corpus", str(REPO / "examples/corpus")],
            env=dict(os.environ),
        )
        async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            print("tools:", ", ".join(f"{t.name}({', '.join(t.inputSchema['properties'])})"
                                      for t in tools))  # fmt: skip

            async def on_progress(progress: float, total: float | None, message: str | None):
                print(f"  progress {progress:g}: {message}")

            task = "What does gather do with a cancelled child when return_exceptions=True?"
            print(f"research: {task}")
            result = await session.call_tool(
                "research", {"task": task, "effort": "low"}, progress_callback=on_progress
            )
            data = result.structuredContent or {}
            print(f"status: {data['status']} ({data['stop_reason']})")
            print(result.content[0].text)
            report = await session.read_resource(AnyUrl(data["resource"]))
            print(f"resource {data['resource']}: {report.contents[0].text.splitlines()[0]}")


if __name__ == "__main__":
    asyncio.run(main())
