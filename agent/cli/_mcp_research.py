"""The FastMCP server behind ``ponder mcp``: the ``research`` tool and the run resources.

Imported only when the server starts (the ``mcp`` SDK is an optional extra).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.fastmcp import Context, FastMCP
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from agent.cli.mcp_server import ServeOptions
from agent.cli.render import BaseView
from agent.cli.session import RunOptions, show_run, start_run
from agent.errors import ConfigError
from agent.events import Event
from agent.report import RunReport
from agent.settings import Budgets, Settings
from agent.store import RunStore

__all__ = ["ProgressView", "ResearchResult", "build_mcp_server"]

INSTRUCTIONS = (
    "Ponder researches a question with a visible plan, parallel tools and reflection, and "
    "answers with citations checked against the sources it read. Call `research` with the "
    "question; finished runs can be read again as ponder://runs/{run_id}."
)


class CitedSource(BaseModel):
    n: int
    source: str
    title: str = ""
    quote: str = ""


class ResearchResult(BaseModel):
    """What ``research`` returns as structured content (its text is the answer)."""

    run_id: str
    status: str = Field(
        description="done, budget_exhausted (a cited partial answer), unanswered (no claim "
        "its sources support) or failed"
    )
    stop_reason: str = ""
    answer: str = Field(description="the answer (or whole long report) in Markdown, cited as [n]")
    citations: list[CitedSource] = Field(
        default_factory=list, description="a short answer's cited quotes"
    )
    title: str = Field(default="", description="a long report's title")
    sections: list[str] = Field(default_factory=list, description="a long report's section titles")
    references: list[CitedSource] = Field(
        default_factory=list, description="a long report's numbered sources"
    )
    resource: str = Field(description="the run's resource URI")


class ProgressView(BaseView):
    """A `RunView` that forwards a run's events as MCP progress notifications, in order."""

    def __init__(self, ctx: Context) -> None:  # type: ignore[type-arg]
        self._ctx, self._count = ctx, 0
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._sender = asyncio.get_running_loop().create_task(self._send())

    def start(self, task: str, model: str) -> None:
        self._queue.put_nowait(f"run started with model {model}")

    def notice(self, text: str) -> None:
        self._queue.put_nowait(f"note: {text}")

    def on_event(self, event: Event) -> None:
        self._queue.put_nowait(_progress_message(event))

    def finish(self, report: RunReport) -> None:
        self._queue.put_nowait(f"run {report.run_id} {report.status}")

    async def _send(self) -> None:
        while (message := await self._queue.get()) is not None:
            self._count += 1
            try:
                await self._ctx.report_progress(self._count, None, message)
            except Exception:  # a client that went away must not fail the run
                return

    async def aclose(self) -> None:
        self._queue.put_nowait(None)
        await self._sender


def _progress_message(e: Any) -> str:
    if e.type == "plan":
        return f"plan v{e.version}: {len(e.steps)} steps"
    if e.type == "step_started":
        return f"step {e.step_id} started: {e.tool}"
    if e.type == "step_finished":
        return f"step {e.step_id} {e.status}: {e.tool}"
    if e.type == "citation_check":
        return f"citations: {e.kept} of {e.checked} verified"
    if e.type == "triage":
        return f"triage: {e.mode}, depth {e.depth}"
    return str(e.type)


def run_options(
    options: ServeOptions, task: str, corpus: str | None, settings: Settings
) -> RunOptions:
    """One call's `RunOptions`; a corpus is chosen by name among the served ones only."""
    corpora = options.corpora or {}
    folder: Path | None = None
    if corpus is not None:
        if corpus not in corpora:
            served = ", ".join(sorted(corpora)) or "none"
            raise ConfigError(f"unknown corpus {corpus!r}; this server serves: {served}")
        folder = corpora[corpus]
    elif corpora:
        folder = next(iter(corpora.values()))
    search = options.search if folder is not None or options.search != "corpus" else "none"
    return RunOptions(
        task=task,
        model=options.model,
        base_url=options.base_url,
        corpus=str(folder) if folder else None,
        search=search,
        allow_hosts=list(options.allow_hosts),
        settings=settings,
    )


class _ClientWentAway(logging.Filter):
    """The SDK logs a client closing its event stream as an error with a traceback
    (modelcontextprotocol/python-sdk#2064 and kin); for a server it is routine."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, anyio.ClosedResourceError | anyio.BrokenResourceError)


def build_mcp_server(
    options: ServeOptions, store: RunStore, *, host: str = "127.0.0.1", port: int = 8000
) -> FastMCP:  # type: ignore[type-arg]
    """The server; ``.run("stdio")`` or ``.run("streamable-http")`` serves it."""
    server = FastMCP("ponder", instructions=INSTRUCTIONS, host=host, port=port, log_level="WARNING")
    logging.getLogger("mcp.server.streamable_http").addFilter(_ClientWentAway())

    @server.tool()
    async def research(
        task: Annotated[str, Field(description="The question or task to research.")],
        ctx: Context,  # type: ignore[type-arg]
        effort: Annotated[
            Literal["low", "medium", "high", "auto"], Field(description="How much thinking.")
        ] = "auto",
        corpus: Annotated[
            str | None, Field(description="Name of a corpus this server serves (default: first).")
        ] = None,
        report_length: Annotated[
            Literal["short", "long"],
            Field(
                description="short: a few cited claims; long: a report with an outline, "
                "sections, a summary and numbered references"
            ),
        ] = "short",
        max_steps: Annotated[int, Field(ge=1, le=200, description="Most tool steps.")] = 24,
        max_model_calls: Annotated[int, Field(ge=1, le=1000, description="Most model calls.")] = 24,
        timeout_s: Annotated[float, Field(ge=1, le=3600, description="Wall-clock budget.")] = 600,
    ) -> Annotated[CallToolResult, ResearchResult]:
        """Research a question and answer with citations checked against their sources."""
        settings = Settings(
            effort=effort,
            report=report_length,
            budgets=Budgets(
                max_steps=max_steps, max_model_calls=max_model_calls, timeout_s=timeout_s
            ),
        )
        opts = run_options(options, task, corpus, settings)
        view = ProgressView(ctx)
        try:
            report = await start_run(opts, store=store, view=view, approver=None)
        finally:
            await view.aclose()
        result = ResearchResult(
            run_id=report.run_id,
            status=report.status,
            stop_reason=report.stop_reason,
            answer=report.answer,
            citations=[
                CitedSource(n=c.n, source=c.source, title=c.title, quote=c.quote)
                for c in report.citations
            ],
            title=report.title,
            sections=[section.title for section in report.sections],
            references=[
                CitedSource(n=r.n, source=r.source, title=r.title) for r in report.references
            ],
            resource=f"ponder://runs/{report.run_id}",
        )
        return CallToolResult(
            content=[TextContent(type="text", text=report.answer)],
            structuredContent=result.model_dump(mode="json"),
            isError=report.status == "failed",
        )

    @server.resource("ponder://runs", mime_type="application/json")
    def runs() -> str:
        """The runs in this server's store, newest first."""
        return json.dumps(
            [
                {
                    "run_id": r.run_id,
                    "status": r.status,
                    "task": r.task[:200],
                    "uri": f"ponder://runs/{r.run_id}",
                }
                for r in store.list(100)
            ]
        )

    @server.resource("ponder://runs/{run_id}", mime_type="text/markdown")
    async def run_report(run_id: str) -> str:
        """One run's report: its answer, sources, plans and reflections."""
        return (await show_run(run_id, store=store)).to_markdown()

    return server
