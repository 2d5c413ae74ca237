"""``ponder tools``: every tool the planner would see, as it would see it.

So a user can check an MCP config (names, descriptions, arguments, which
tools ask for approval) before spending a run on it. Imports stay light: the
command's body imports what it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["tools_command"]


def tools_command(
    mcp: Annotated[Path | None, typer.Option(help="MCP servers config (mcpServers JSON).")] = None,
    corpus: Annotated[Path | None, typer.Option(help="Folder of documents to research.")] = None,
    search: Annotated[
        str | None,
        typer.Option(help="web, corpus or none (default: corpus if --corpus, else web)."),
    ] = None,
    tools: Annotated[str | None, typer.Option(help="Only these tools, comma-separated.")] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(help="Let web tools (and HTTP MCP servers) reach host[:port]."),
    ] = None,
    store: Annotated[
        Path | None, typer.Option(help="Run store file (for the corpus index).")
    ] = None,
) -> None:
    """List every tool a run would plan with, with its signature and description."""
    import os

    from agent.errors import UserError

    try:
        from agent.errors import ConfigError
        from agent.store import default_store_path
        from agent.toolset import Toolset
        from tools.toolbox import ToolboxOptions, build_toolbox

        chosen = search or ("corpus" if corpus else "web")
        if chosen not in ("web", "corpus", "none"):
            raise ConfigError(f"--search must be web, corpus or none, not {chosen!r}")
        store_path = store or default_store_path(os.environ)
        box = build_toolbox(
            ToolboxOptions(
                search=chosen,  # type: ignore[arg-type]
                corpus=corpus.resolve() if corpus else None,
                index_dir=store_path.parent / "corpus-index",
                allow_hosts=tuple(allow_host or ()),
                only=tuple(t.strip() for t in (tools or "").split(",") if t.strip()),
                mcp=mcp,
            )
        )
        toolset = Toolset(box.tools)
    except UserError as exc:
        typer.echo(f"ponder: error [{exc.code}]: {exc}", err=True)
        raise typer.Exit(2) from None
    for notice in box.notices:
        typer.echo(f"note: {notice}", err=True)
    typer.echo(toolset.describe())
    asking = [name for name in toolset.names if toolset.needs_approval(name)]
    if asking:
        typer.echo(f"\nasking for approval under --approve-actions: {', '.join(asking)}")
