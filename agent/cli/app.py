"""The ``ponder`` command. Imports stay light here so ``ponder --help`` is instant.

Exit codes: 0 done · 1 the run failed · 2 usage error · 3 budget exhausted ·
130 interrupted (finished steps are saved; ``ponder resume`` continues).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from agent.cli.mcp_server import mcp_command
from agent.cli.tools_command import tools_command

if TYPE_CHECKING:
    from agent.errors import ErrorCode, PonderError
    from agent.report import RunReport
    from agent.store import RunStore

__all__ = ["app", "main"]

app = typer.Typer(
    name="ponder",
    help="Reasoning-first research agent: triage, a visible plan, parallel tools, cited answers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT = {"done": 0, "failed": 1, "budget_exhausted": 3, "interrupted": 130, "running": 1}


class Effort(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    auto = "auto"


class Search(StrEnum):
    web = "web"
    searxng = "searxng"
    ddgs_searxng = "ddgs,searxng"
    local = "local"
    corpus = "corpus"
    none = "none"


class EventFormat(StrEnum):
    jsonl = "jsonl"


def _fail(message: str, exit_code: int, code: ErrorCode) -> NoReturn:
    """One line on stderr, ``ponder: error [CODE]: message (hint)``, then exit."""
    typer.echo(f"ponder: error [{code}]: {message}", err=True)
    raise typer.Exit(exit_code)


def _fail_on(exc: PonderError, exit_code: int) -> NoReturn:
    _fail(str(exc), exit_code, exc.code)


def _store(path: Path | None) -> RunStore:
    import os

    from agent.store import RunStore, default_store_path

    return RunStore(path or default_store_path(os.environ))


def _run(work: Any) -> RunReport:
    """Run a CLI coroutine; turn every outcome into one line and an exit code."""
    import asyncio

    from agent.errors import AgentRunError, ErrorCode, UserError

    try:
        report: RunReport = asyncio.run(work)
        return report
    except UserError as exc:
        _fail_on(exc, 2)
    except AgentRunError as exc:
        _fail_on(exc, 1)
    except KeyboardInterrupt:
        message = "interrupted; finished steps are saved (ponder resume RUN_ID)"
        _fail(message, 130, ErrorCode.INTERRUPTED)
    except Exception as exc:  # a framework bug: one line here, the traceback in a log file
        message = f"internal error {type(exc).__name__}: {exc} (traceback in {_log_traceback()})"
        _fail(message, 1, ErrorCode.INTERNAL)


def _log_traceback() -> str:
    import os
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="ponder-crash-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        traceback.print_exc(file=f)
    return path


def _view(json_out: bool, events: EventFormat | None, show_thinking: bool) -> Any:
    from agent.cli.render import JsonLinesView, LiveView, PlainView

    if events is EventFormat.jsonl:
        return JsonLinesView()
    if json_out:
        return (
            PlainView(show_thinking=show_thinking, show_answer=False)
            if sys.stderr.isatty()
            else _Quiet()
        )
    if sys.stdout.isatty() and sys.stderr.isatty():
        return LiveView(show_thinking=show_thinking)
    return PlainView(show_thinking=show_thinking)


class _Quiet:
    def start(self, task: str, model: str) -> None: ...
    def notice(self, text: str) -> None:
        print(f"note: {text}", file=sys.stderr)

    def on_event(self, event: Any) -> None: ...
    def finish(self, report: Any) -> None: ...


def _emit(report: RunReport, json_out: bool, output: Path | None) -> NoReturn:
    if json_out:
        typer.echo(report.model_dump_json(indent=2))
    if output is not None:
        output.write_text(report.to_markdown(), encoding="utf-8")
    raise typer.Exit(EXIT.get(report.status, 1))


@app.command()
def run(
    task: Annotated[str | None, typer.Argument(help="The question or task.")] = None,
    task_file: Annotated[Path | None, typer.Option(help="Read the task from a file.")] = None,
    model: Annotated[
        str, typer.Option(help="demo, auto, llamacpp:PATH, openai:M, anthropic:M, ollama:M")
    ] = "auto",
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")] = None,
    effort: Annotated[
        Effort, typer.Option(help="How much thinking: low, medium, high or auto.")
    ] = Effort.auto,
    corpus: Annotated[Path | None, typer.Option(help="Folder of documents to research.")] = None,
    search: Annotated[
        Search | None,
        typer.Option(
            help="web (ddgs), searxng, ddgs,searxng (a fallback chain), local, corpus or none "
            "(default: corpus if --corpus, else web)."
        ),
    ] = None,
    searxng_url: Annotated[
        str | None, typer.Option(help="The SearXNG instance for --search searxng.")
    ] = None,
    local_web: Annotated[
        Path | None,
        typer.Option(help="Folder of HTML pages served on 127.0.0.1 for --search local."),
    ] = None,
    local_web_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the local web (0: stable per folder).")
    ] = 0,
    max_steps: Annotated[int, typer.Option(min=1, max=200)] = 48,
    max_replans: Annotated[int, typer.Option(min=0, max=20)] = 3,
    max_model_calls: Annotated[int, typer.Option(min=1, max=1000)] = 24,
    max_tokens: Annotated[int, typer.Option(min=100)] = 400_000,
    timeout: Annotated[float, typer.Option(min=1.0, help="Wall-clock budget in seconds.")] = 900.0,
    step_timeout: Annotated[float, typer.Option(min=0.1)] = 60.0,
    show_thinking: Annotated[bool, typer.Option(help="Print the planner's reasoning.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON report.")] = False,
    events: Annotated[
        EventFormat | None, typer.Option(help="Print the event stream (jsonl).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write a Markdown report.")
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="Name the run (default: random).")] = None,
    approve_plan: Annotated[bool, typer.Option(help="Approve each plan before it runs.")] = False,
    approve_code: Annotated[
        bool,
        typer.Option(
            "--approve-actions",
            "--approve-code",
            help="Approve each code step and side-effecting MCP tool call before it runs.",
        ),
    ] = False,
    tools: Annotated[
        str | None, typer.Option(help="Only these tools, comma-separated (e.g. corpus_search).")
    ] = None,
    mcp: Annotated[
        Path | None, typer.Option(help="MCP servers config (mcpServers JSON): add their tools.")
    ] = None,
    allow_host: Annotated[
        list[str] | None, typer.Option(help="Let web tools reach this host[:port].")
    ] = None,
    store: Annotated[
        Path | None, typer.Option(help="Run store file (default: $PONDER_HOME).")
    ] = None,
) -> None:
    """Research TASK and answer with citations."""
    from agent.errors import ConfigError, UserError

    try:
        from agent.cli.task_input import read_task

        text = read_task(task, task_file)
        if corpus is not None and not corpus.is_dir():
            raise ConfigError(f"corpus folder {corpus} does not exist or is not a folder")
        from agent.cli.web_options import web_search_choice

        chosen, web_search = web_search_choice(
            (search or (Search.corpus if corpus else Search.web)).value,
            searxng_url=searxng_url,
            local_web=local_web,
            local_web_port=local_web_port,
        )
        if chosen == "corpus" and corpus is None:
            raise ConfigError("--search corpus needs --corpus DIR")
        interactive = sys.stdin.isatty() and sys.stderr.isatty()
        if (approve_plan or approve_code) and not interactive:
            raise ConfigError(
                "--approve-plan/--approve-actions need a terminal to ask on",
                hint="run interactively, or drop the flag",
            )
        if run_id is not None and not run_id.replace("-", "").replace("_", "").isalnum():
            raise ConfigError("--run-id may hold only letters, digits, - and _")
        from agent.cli.session import RunOptions
        from agent.settings import Budgets, Settings

        opts = RunOptions(
            task=text,
            model=model,
            base_url=base_url,
            corpus=str(corpus.resolve()) if corpus else None,
            search=chosen,
            allow_hosts=list(allow_host or []),
            tools=[t.strip() for t in (tools or "").split(",") if t.strip()],
            mcp_config=str(mcp.resolve()) if mcp else None,
            settings=Settings(
                effort=effort.value,
                approve_plan=approve_plan,
                approve_code=approve_code,
                web_search=web_search,
                budgets=Budgets(
                    max_steps=max_steps,
                    max_replans=max_replans,
                    max_model_calls=max_model_calls,
                    max_tokens=max_tokens,
                    timeout_s=timeout,
                    step_timeout_s=step_timeout,
                ),
            ),
        )
        run_store = _store(store)
    except UserError as exc:
        _fail_on(exc, 2)
    from agent.cli.approve import ask_on_terminal
    from agent.cli.session import start_run

    view = _view(json_out, events, show_thinking)
    report = _run(
        start_run(
            opts,
            store=run_store,
            view=view,
            run_id=run_id,
            approver=ask_on_terminal if interactive else None,
        )
    )
    _emit(report, json_out, output)


@app.command()
def batch(
    file: Annotated[Path, typer.Argument(help="Tasks, one per line (# comments allowed).")],
    model: Annotated[str, typer.Option(help="Model spec, as for `ponder run`.")] = "auto",
    base_url: Annotated[str | None, typer.Option()] = None,
    effort: Annotated[Effort, typer.Option()] = Effort.auto,
    corpus: Annotated[Path | None, typer.Option()] = None,
    search: Annotated[Search | None, typer.Option()] = None,
    searxng_url: Annotated[str | None, typer.Option()] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Runs at once.")] = 4,
    max_steps: Annotated[int, typer.Option(min=1, max=200)] = 48,
    timeout: Annotated[float, typer.Option(min=1.0)] = 900.0,
    jsonl: Annotated[bool, typer.Option(help="Print each run's report as a JSON line.")] = False,
    store: Annotated[Path | None, typer.Option()] = None,
) -> None:
    """Research many tasks, each as its own resumable run; print how each ended."""
    from agent.errors import ConfigError, UserError

    try:
        from agent.cli.task_input import read_batch

        tasks = read_batch(file)
        if corpus is not None and not corpus.is_dir():
            raise ConfigError(f"corpus folder {corpus} does not exist or is not a folder")
        from agent.cli.session import RunOptions
        from agent.cli.web_options import web_search_choice
        from agent.settings import Budgets, Settings

        kind, web_search = web_search_choice(
            (search or (Search.corpus if corpus else Search.web)).value,
            searxng_url=searxng_url,
            local_web=None,
        )
        base = RunOptions(
            task=tasks[0],
            model=model,
            base_url=base_url,
            corpus=str(corpus.resolve()) if corpus else None,
            search=kind,
            settings=Settings(
                effort=effort.value,
                web_search=web_search,
                budgets=Budgets(max_steps=max_steps, timeout_s=timeout),
            ),
        )
        run_store = _store(store)
    except UserError as exc:
        _fail_on(exc, 2)
    import asyncio

    from agent.cli.render import PlainView
    from agent.cli.session import run_batch

    items = asyncio.run(
        run_batch(
            tasks,
            base,
            store=run_store,
            concurrency=concurrency,
            make_view=lambda rid: PlainView(show_answer=False, prefix=rid),
        )
    )
    for item in items:
        if jsonl:
            typer.echo(item.model_dump_json(exclude={"report": {"plans", "reflections"}}))
        else:
            detail = item.error or (item.report.stop_reason if item.report else "")
            typer.echo(
                f"{item.index:>3} {item.run_id} {item.status:<16} {item.task[:60]}"
                + (f"  ({detail})" if item.status != "done" and detail else "")
            )
    worst = max((EXIT.get(i.status, 1) for i in items), key=lambda c: (c != 0, c))
    raise typer.Exit(worst)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
    events: Annotated[EventFormat | None, typer.Option()] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
    store: Annotated[Path | None, typer.Option()] = None,
) -> None:
    """Continue an interrupted run from its last checkpoint, redoing no finished step."""
    from agent.errors import UserError

    try:
        run_store = _store(store)
    except UserError as exc:
        _fail_on(exc, 2)
    from agent.cli.approve import ask_on_terminal
    from agent.cli.session import resume_run

    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    report = _run(
        resume_run(
            run_id,
            store=run_store,
            view=_view(json_out, events, False),
            approver=ask_on_terminal if interactive else None,
        )
    )
    _emit(report, json_out, output)


@app.command()
def runs(
    store: Annotated[Path | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
) -> None:
    """List the runs in the store, newest first."""
    import datetime

    from agent.errors import UserError

    try:
        records = _store(store).list(limit)
    except UserError as exc:
        _fail_on(exc, 2)
    for r in records:
        when = datetime.datetime.fromtimestamp(r.created_at).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{r.run_id}  {r.status:<16} {when}  {r.task[:70]}")


@app.command()
def show(
    run_id: Annotated[str, typer.Argument()],
    json_out: Annotated[bool, typer.Option("--json")] = False,
    store: Annotated[Path | None, typer.Option()] = None,
) -> None:
    """Print a stored run's answer and how it was reached."""
    from agent.cli.session import show_run
    from agent.errors import UserError

    try:
        run_store = _store(store)
    except UserError as exc:
        _fail_on(exc, 2)
    report = _run(show_run(run_id, store=run_store))
    typer.echo(report.model_dump_json(indent=2) if json_out else report.to_markdown())


app.command("tools")(tools_command)
app.command("mcp")(mcp_command)


def main() -> None:
    app()
