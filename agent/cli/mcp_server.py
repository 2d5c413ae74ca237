"""``ponder mcp``: Ponder as an MCP server other agents delegate research to.

One tool, ``research``, runs a full Ponder run (the same code path as
``ponder run``, recorded in the same run store) and returns the cited answer
as text plus a structured result; each run's events arrive as MCP progress
notifications while it works. Finished runs are resources:
``ponder://runs`` lists them and ``ponder://runs/{run_id}`` is one report.

What a client may choose is bounded by what the server was started with: the
model, the corpora (a client names one of ``--corpus``; it can never point the
server at another folder) and the network policy are the operator's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import typer

from agent.cli.options import AllowHostOpt, BaseUrlOpt, ModelOpt

__all__ = ["ServeOptions", "mcp_command"]


def mcp_command(
    http: Annotated[
        str | None, typer.Option(help="Serve streamable HTTP on HOST:PORT (default: stdio).")
    ] = None,
    model: ModelOpt = "auto",
    base_url: BaseUrlOpt = None,
    corpus: Annotated[
        list[Path] | None, typer.Option(help="A folder clients may research (repeatable).")
    ] = None,
    search: Annotated[
        str | None, typer.Option(help="web, corpus or none (default: corpus if --corpus).")
    ] = None,
    allow_host: AllowHostOpt = None,
    store: Annotated[Path | None, typer.Option(help="Run store file.")] = None,
) -> None:
    """Serve Ponder over MCP: a `research` tool, and finished runs as resources."""
    import os

    from agent.errors import ConfigError, MissingDependencyError, UserError
    from agent.store import RunStore, default_store_path

    try:
        folders = [c.resolve() for c in corpus or []]
        for folder in folders:
            if not folder.is_dir():
                raise ConfigError(f"corpus folder {folder} does not exist or is not a folder")
        chosen = search or ("corpus" if folders else "web")
        if chosen not in ("web", "corpus", "none"):
            raise ConfigError(f"--search must be web, corpus or none, not {chosen!r}")
        if chosen == "corpus" and not folders:
            raise ConfigError("--search corpus needs --corpus DIR")
        host, port = _host_port(http) if http else ("127.0.0.1", 0)
        options = ServeOptions(
            model=model,
            base_url=base_url,
            corpora={f.name: f for f in folders},
            search=chosen,  # type: ignore[arg-type]
            allow_hosts=tuple(allow_host or ()),
        )
        run_store = RunStore(store or default_store_path(os.environ))
        try:
            from agent.cli._mcp_research import build_mcp_server as build
        except ImportError as exc:
            raise MissingDependencyError(
                f"`ponder mcp` needs the mcp package ({exc.name} is missing)",
                hint="pip install 'ponder[mcp]'",
            ) from exc
    except UserError as exc:
        typer.echo(f"ponder: error [{exc.code}]: {exc}", err=True)
        raise typer.Exit(2) from None
    server = build(options, run_store, host=host, port=port)
    if http:
        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(
                f"note: serving on {host}: anyone who can reach it can run research", err=True
            )
        typer.echo(f"ponder mcp: serving on http://{http}/mcp", err=True)
        server.run("streamable-http")
    else:
        server.run("stdio")


def _host_port(text: str) -> tuple[str, int]:
    from agent.errors import ConfigError

    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--http needs HOST:PORT, such as 127.0.0.1:8765 (got {text!r})")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class ServeOptions:
    """What the operator fixed when starting the server; no client can change it."""

    model: str = "auto"
    base_url: str | None = None
    corpora: dict[str, Path] | None = None  # served corpus folders, by folder name
    search: Literal["web", "corpus", "none"] = "web"
    allow_hosts: tuple[str, ...] = ()
