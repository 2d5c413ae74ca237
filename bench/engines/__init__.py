"""One module per framework under test; each exposes ``prepare(ctx)``.

``prepare`` builds the agent for one run (untimed) and returns the coroutine
function that runs it (timed) and hands back the final answer's text.
"""

__all__ = ["MODULES"]

MODULES = {"ponder": "ponder", "langchain": "lc_agent", "smolagents": "smol_agent"}
