"""A tiny MCP server (the SDK's FastMCP) for the examples: a team's notes about asyncio.

python examples/mcp/notes_server.py      # speaks MCP on stdin/stdout
"""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

NOTES = {
    "gather": "Team note: gather(return_exceptions=True) hands exceptions back as results, "
    "so check each result with isinstance(r, BaseException).",
    "taskgroup": "Team note: prefer TaskGroup for new code; when one task fails it cancels "
    "the others and raises an ExceptionGroup.",
}

server = FastMCP("notes", log_level="WARNING")


@server.tool()
def search_notes(query: str) -> str:
    """Search the team's notes about asyncio; returns every note whose topic the query names."""
    hits = [text for topic, text in NOTES.items() if topic in query.lower()]
    return "\n".join(hits) or "no notes match"


@server.tool()
def save_note(topic: str, text: str) -> str:
    """Save a note for the team (a side effect: the config marks it for approval)."""
    NOTES[topic.lower()] = text
    return f"saved a note on {topic}"


if __name__ == "__main__":
    server.run("stdio")
