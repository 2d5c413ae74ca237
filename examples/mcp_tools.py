"""Tools from an MCP server in Ponder's research graph: listed, planned, called, fenced, cited.

    python examples/mcp_tools.py

The config is the usual ``mcpServers`` format (the same JSON works as
``ponder run --mcp FILE``); here it starts ``examples/mcp/notes_server.py``
over stdio. Its tools join the toolset as ``notes_<tool>``, the planner sees
their descriptions, and their results reach every prompt fenced as untrusted
data. ``save_note`` is marked side-effecting, so under ``approve_code`` it
would wait for a person. The model is scripted so the example is exact and
offline; pass any chat model instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agent import Toolset
from agent.testing import ScriptedChatModel
from graphs import build_research_graph
from tools import McpConfig, load_mcp_tools

SERVER = Path(__file__).resolve().parent / "mcp" / "notes_server.py"

config = McpConfig.from_mapping(
    {
        "mcpServers": {
            "notes": {
                "command": sys.executable,
                "args": [str(SERVER)],
                "timeout": 20,
                "sideEffects": ["save_note"],
            }
        }
    }
)


def scripted_model() -> ScriptedChatModel:
    step = {
        "id": "s1",
        "goal": "what the team noted about gather",
        "tool": "notes_search_notes",
        "input": {"query": "gather and exceptions"},
        "depends_on": [],
    }
    return ScriptedChatModel(
        script={
            "Planning": [
                {
                    "mode": "research",
                    "depth": "low",
                    "triage_reason": "team knowledge",
                    "reasoning": "Ask the notes server.",
                    "steps": [step],
                }
            ],
            "Synthesis": [
                {
                    "claims": [
                        {
                            "text": "The team checks each gather result for an exception.",
                            "cites": ["s1.1"],
                            "quote": "check each result with isinstance",
                        }
                    ],
                    "gaps": [],
                }
            ],
        }
    )


def main() -> None:
    found = load_mcp_tools(config)
    for notice in found.notices:
        print("notice:", notice)
    print("The planner sees:")
    print(Toolset(found.tools).describe())
    asking = [t.name for t in found.tools if (t.metadata or {}).get("needs_approval")]
    print("asks for approval:", ", ".join(asking))

    model = scripted_model()
    graph = build_research_graph(model, found.tools)
    out = graph.invoke({"task": "What does the team do about exceptions from gather?"})
    print(f"\nstatus: {out['status']}")
    evidence = model.calls_for("Synthesis")[0].prompt
    fenced = [line for line in evidence.splitlines() if line.startswith("<untrusted_data")]
    print("evidence fenced as:", fenced[0] if fenced else "(not fenced)")
    print("\n" + out["answer"].markdown)
    found.close()  # stops the server (it also stops on its own when this process exits)


if __name__ == "__main__":
    main()
