"""Tools that act in the world, as LangChain tools returning typed observations.

Loaded lazily: importing one tool does not start a browser or import the others.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.browser import BrowserTool
    from tools.code import PythonTool, SandboxOptions
    from tools.corpus import CorpusOptions, corpus_tools
    from tools.fetch import FetchTool
    from tools.netguard import NetworkPolicy
    from tools.search import WebSearch, WebSearchTool
    from tools.toolbox import ToolboxOptions, build_toolbox

__all__ = [
    "BrowserTool",
    "CorpusOptions",
    "FetchTool",
    "NetworkPolicy",
    "PythonTool",
    "SandboxOptions",
    "ToolboxOptions",
    "WebSearch",
    "WebSearchTool",
    "build_toolbox",
    "corpus_tools",
]

_HOMES = {
    "BrowserTool": "tools.browser",
    "PythonTool": "tools.code",
    "SandboxOptions": "tools.code",
    "CorpusOptions": "tools.corpus",
    "corpus_tools": "tools.corpus",
    "FetchTool": "tools.fetch",
    "NetworkPolicy": "tools.netguard",
    "WebSearch": "tools.search",
    "WebSearchTool": "tools.search",
    "ToolboxOptions": "tools.toolbox",
    "build_toolbox": "tools.toolbox",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'tools' has no attribute {name!r}")
