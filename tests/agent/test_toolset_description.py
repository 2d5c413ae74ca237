"""What the planner reads about each tool: a signature and one line per argument, in prose."""

from __future__ import annotations

from typing import Annotated, Literal

from langchain_core.tools import tool

from agent.toolset import Toolset


@tool
def lookup(
    query: Annotated[str, "what to look for"],
    mode: Annotated[Literal["fast", "deep"], "how hard to look"] = "fast",
    limit: Annotated[int | None, "at most this many"] = None,
) -> str:
    """Look something up."""
    return query


def test_the_description_is_a_signature_then_each_argument() -> None:
    text = Toolset([lookup]).describe()
    assert text.splitlines() == [
        '- lookup(query, mode="fast", limit=null): Look something up.',
        "    query (text, required): what to look for",
        "    mode (text): how hard to look; one of: fast, deep",
        "    limit (integer): at most this many",
    ]
    assert '"type"' not in text  # no schema syntax for a small model to copy
