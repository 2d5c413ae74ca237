"""The tool set a run gets, assembled from a few choices (what the CLI's flags map to).

Tools that cannot work on this machine are left out rather than handed to the
planner to fail at every step; each omission comes back as a one-line notice
naming the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict

from agent.errors import ConfigError
from agent.settings import WebSearchSettings

if TYPE_CHECKING:
    from tools.search import SearchBackend

__all__ = ["Toolbox", "ToolboxOptions", "build_toolbox"]


class ToolboxOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    search: Literal["web", "corpus", "none"] = "web"
    corpus: Path | None = None
    index_dir: Path
    allow_hosts: tuple[str, ...] = ()
    allow_private_network: bool = False
    code_sandbox: Literal["required", "best-effort", "off"] = "required"
    only: tuple[str, ...] = ()
    web_search: WebSearchSettings = WebSearchSettings()
    corpus_semantic: bool = False
    mcp: Path | None = None  # an ``mcpServers`` config file (the user's own, never a task's)
    # Page extraction in worker processes: safe where the main module is guarded (the CLI).
    extract_in_processes: bool = False


@dataclass
class Toolbox:
    tools: list[BaseTool]
    notices: list[str] = field(default_factory=list)


def _search_backend(opts: ToolboxOptions, notices: list[str]) -> SearchBackend:
    """The engines of ``opts.web_search``, chained in order when there are several."""
    from tools.search import DDGSBackend, FallbackBackend, SearxngBackend

    chosen = opts.web_search
    backends: list[SearchBackend] = []
    for engine in chosen.engines:
        if engine == "ddgs":
            backends.append(DDGSBackend())
        elif engine == "searxng" and chosen.searxng_url:
            backends.append(SearxngBackend(chosen.searxng_url))
        elif engine == "local" and chosen.local_web:
            backends.append(_local_backend(opts, Path(chosen.local_web), notices))
    return backends[0] if len(backends) == 1 else FallbackBackend(backends)


def _local_backend(opts: ToolboxOptions, folder: Path, notices: list[str]) -> SearchBackend:
    from tools.corpus import Corpus, CorpusOptions
    from tools.localweb import LocalSearchBackend, serve_folder

    web = serve_folder(folder, opts.web_search.local_web_port)
    corpus = Corpus(CorpusOptions(root=folder, index_dir=opts.index_dir))
    corpus.refresh(force=False)
    if web.host not in opts.allow_hosts and web.host.split(":")[0] not in opts.allow_hosts:
        notices.append(
            f"the local web is at {web.base_url}; fetch_url reads it only with "
            f"--allow-host {web.host}"
        )
    return LocalSearchBackend(corpus, web)


def _web_tools(opts: ToolboxOptions, notices: list[str]) -> list[BaseTool]:
    from tools.browser import BrowserTool
    from tools.fetch import FetchOptions, FetchTool
    from tools.netguard import NetworkPolicy
    from tools.search import SearchPolicy, WebSearch, WebSearchTool
    from tools.search_limiter import current_search_limiter

    policy = NetworkPolicy(
        allow_hosts=opts.allow_hosts, allow_private_network=opts.allow_private_network
    )
    return [
        WebSearchTool(
            session=WebSearch(
                _search_backend(opts, notices),
                policy=SearchPolicy(rate_per_s=opts.web_search.rate_per_s),
                limiter=current_search_limiter(),  # a batch's, shared by all its runs
            )
        ),
        FetchTool(
            policy=policy,
            options=FetchOptions(extract_in_processes=opts.extract_in_processes),
        ),
        BrowserTool(policy=policy),
    ]


def _code_tool(opts: ToolboxOptions, notices: list[str]) -> list[BaseTool]:
    from agent.errors import MissingDependencyError
    from tools.code import PythonTool, SandboxOptions

    mode: Literal["required", "best-effort"] = (
        "best-effort" if opts.code_sandbox == "best-effort" else "required"
    )
    tool = PythonTool(options=SandboxOptions(mode=mode), metadata={"ponder_runs_code": True})
    try:
        tool.check()
    except MissingDependencyError as exc:
        notices.append(f"the python tool is off: {exc}")
        return []
    return [tool]


def _mcp_tools(config: Path, opts: ToolboxOptions, notices: list[str]) -> list[BaseTool]:
    from tools.mcp import McpConfig, load_mcp_tools
    from tools.netguard import NetworkPolicy

    policy = NetworkPolicy(
        allow_hosts=opts.allow_hosts, allow_private_network=opts.allow_private_network
    )
    found = load_mcp_tools(McpConfig.from_file(config), policy=policy)
    notices += found.notices
    return found.tools


def build_toolbox(opts: ToolboxOptions) -> Toolbox:
    """Corpus tools if a corpus is given, web tools for ``search="web"``, the code runner,
    and the tools of the MCP servers in ``opts.mcp``."""
    from tools.corpus import CorpusOptions, corpus_tools

    notices: list[str] = []
    tools: list[BaseTool] = []
    if opts.corpus is not None:
        tools += corpus_tools(
            CorpusOptions(root=opts.corpus, index_dir=opts.index_dir, semantic=opts.corpus_semantic)
        )
    elif opts.search == "corpus":
        raise ConfigError("searching a corpus needs a corpus folder (--corpus DIR)")
    if opts.search == "web":
        tools += _web_tools(opts, notices)
    if opts.code_sandbox != "off":
        tools += _code_tool(opts, notices)
    if opts.mcp is not None:
        tools += _mcp_tools(opts.mcp, opts, notices)
    return Toolbox(tools=_only(tools, opts.only), notices=notices)


def _only(tools: list[BaseTool], names: Sequence[str]) -> list[BaseTool]:
    if not names:
        return tools
    known = {t.name for t in tools}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"unknown tool {', '.join(unknown)}; available here: {', '.join(sorted(known))}"
        )
    return [t for t in tools if t.name in names]
