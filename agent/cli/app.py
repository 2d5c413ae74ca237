# Over 400 lines: typer needs every command's options declared on its function; the
# shared option sets (run, resume, ask, batch) are the next thing to factor out.
"""The ``ponder`` command. Imports stay light here so ``ponder --help`` is instant.

Exit codes: 0 done · 1 the run failed · 2 usage error · 3 budget exhausted ·
4 unanswered (no cited answer) · 130 interrupted (finished steps are saved;
``ponder resume`` continues).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from typer._click.core import Context
from typer._coercion import PassThroughRuntimeParam
from typer.core import TyperGroup, TyperOption
from typer.models import OptionInfo

from agent.cli.eval_command import eval_command
from agent.cli.export_command import export_command
from agent.cli.mcp_server import mcp_command
from agent.cli.tools_command import tools_command

if TYPE_CHECKING:
    from agent.errors import ErrorCode, PonderError
    from agent.report import RunReport
    from agent.store import Store

__all__ = ["app", "main"]


class _Commands(TyperGroup):
    """Ponder's command group, with a ``--help`` flag that needs no pydantic.

    Typer builds a pydantic TypeAdapter to coerce the group's unset ``--help``
    flag on every call (``ponder run --help`` included), which costs more than
    the rest of the CLI's start-up; a bool flag needs no adapter.
    """

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        option = super().get_help_option(ctx)
        if option is not None and getattr(option, "_runtime_param", "") is None:
            option._runtime_param = PassThroughRuntimeParam(
                annotation=bool, parameter_info=OptionInfo()
            )
        return option


app = typer.Typer(
    name="ponder",
    cls=_Commands,
    help="Reasoning-first research agent: triage, a visible plan, parallel tools, cited answers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it with rich costs more than the rest
)

EXIT = {
    "done": 0,
    "failed": 1,
    "budget_exhausted": 3,
    "unanswered": 4,
    "interrupted": 130,
    "running": 1,
}


class Effort(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    auto = "auto"


class PlanFormat(StrEnum):
    auto = "auto"
    compact = "compact"
    json = "json"


class Search(StrEnum):
    web = "web"
    searxng = "searxng"
    ddgs_searxng = "ddgs,searxng"
    local = "local"
    corpus = "corpus"
    none = "none"


class ReportKind(StrEnum):
    short = "short"
    long = "long"


class EventFormat(StrEnum):
    jsonl = "jsonl"


def _fail(message: str, exit_code: int, code: ErrorCode) -> NoReturn:
    """One line on stderr, ``ponder: error [CODE]: message (hint)``, then exit."""
    typer.echo(f"ponder: error [{code}]: {message}", err=True)
    raise typer.Exit(exit_code)


def _fail_on(exc: PonderError, exit_code: int) -> NoReturn:
    _fail(str(exc), exit_code, exc.code)


def _store(spec: str | None) -> Store:
    """The store named by --store (a file or postgresql:// URL), else PONDER_STORE, else the
    default file."""
    import os

    from agent.store import open_store

    return open_store(spec, os.environ)


def _run(work: Any, run_id: str | None = None) -> RunReport:
    """Run a CLI coroutine; turn every outcome into one line and an exit code."""
    from agent.cli.interrupt import run_interruptible
    from agent.errors import AgentRunError, ErrorCode, UserError

    try:
        report: RunReport = run_interruptible(
            work,
            last_words=lambda: f"ponder: error [{ErrorCode.INTERRUPTED}]: {_resume_line(run_id)}",
        )
        return report
    except UserError as exc:
        _fail_on(exc, 2)
    except AgentRunError as exc:
        _fail_on(exc, 1)
    except KeyboardInterrupt:
        _fail(_resume_line(run_id), 130, ErrorCode.INTERRUPTED)
    except Exception as exc:  # a framework bug: one line here, the traceback in a log file
        message = f"internal error {type(exc).__name__}: {exc} (traceback in {_log_traceback()})"
        _fail(message, 1, ErrorCode.INTERNAL)


def _resume_line(run_id: str | None) -> str:
    if run_id is None:
        return "interrupted"
    return f"run {run_id} was interrupted and is saved; continue it with: ponder resume {run_id}"


def _log_traceback() -> str:
    import os
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="ponder-crash-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        traceback.print_exc(file=f)
    return path


def _view(json_out: bool, events: EventFormat | None, show_thinking: bool) -> Any:
    from agent.cli.live import LiveView
    from agent.cli.render import JsonLinesView, PlainView, QuietView

    if events is EventFormat.jsonl:
        return JsonLinesView()
    if json_out:
        return (
            PlainView(show_thinking=show_thinking, show_answer=False)
            if sys.stderr.isatty()
            else QuietView()
        )
    if sys.stdout.isatty() and sys.stderr.isatty():
        return LiveView(show_thinking=show_thinking)
    return PlainView(show_thinking=show_thinking)


def _check_output(output: Path | None) -> None:
    from agent.report import check_report_path

    if output is not None:
        check_report_path(output)


def _emit(report: RunReport, json_out: bool, output: Path | None) -> NoReturn:
    if json_out:
        typer.echo(report.model_dump_json(indent=2))
    if output is not None:
        report.save(output)
    raise typer.Exit(EXIT.get(report.status, 1))


def _samples(text: str) -> int | Literal["auto"]:
    from agent.errors import ConfigError

    if text == "auto":
        return "auto"
    if not text.isdigit() or not 1 <= int(text) <= 32:
        raise ConfigError(f"--samples takes a number from 1 to 32 or auto, got {text!r}")
    return int(text)


@app.command()
def run(
    task: Annotated[str | None, typer.Argument(help="The question or task.")] = None,
    task_file: Annotated[Path | None, typer.Option(help="Read the task from a file.")] = None,
    model: Annotated[
        str, typer.Option(help="demo, auto, llamacpp:PATH, openai:M, anthropic:M, ollama:M")
    ] = "auto",
    fast_model: Annotated[
        str | None,
        typer.Option(help="Model for notes, extraction and trivial answers (default: --model)."),
    ] = None,
    notes: Annotated[
        bool | None,
        typer.Option(
            "--notes/--no-notes",
            help="Turn each page read into checked notes for the writer (default: on at high "
            "effort).",
        ),
    ] = None,
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
    corpus_semantic: Annotated[
        bool,
        typer.Option(help="Fuse corpus BM25 with embeddings (ponder[semantic]; slow first index)."),
    ] = False,
    max_steps: Annotated[int, typer.Option(min=1, max=200)] = 48,
    max_replans: Annotated[int, typer.Option(min=0, max=20)] = 3,
    max_model_calls: Annotated[int, typer.Option(min=1, max=1000)] = 24,
    max_tokens: Annotated[int, typer.Option(min=100)] = 400_000,
    timeout: Annotated[float, typer.Option(min=1.0, help="Wall-clock budget in seconds.")] = 900.0,
    step_timeout: Annotated[float, typer.Option(min=0.1)] = 60.0,
    samples: Annotated[
        str,
        typer.Option(help="Independent reasoning paths a verifier votes on: N, or auto."),
    ] = "1",
    plan_samples: Annotated[
        int,
        typer.Option(
            min=1, max=16, help="First plans to sample; a critic picks one before any step runs."
        ),
    ] = 1,
    show_thinking: Annotated[bool, typer.Option(help="Print the planner's reasoning.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON report.")] = False,
    events: Annotated[
        EventFormat | None, typer.Option(help="Print the event stream (jsonl).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write the report: .md, .html (one page) or .json."),
    ] = None,
    report_kind: Annotated[
        ReportKind,
        typer.Option(
            "--report", help="short: cited claims; long: outline, sections, summary, references."
        ),
    ] = ReportKind.short,
    run_id: Annotated[str | None, typer.Option(help="Name the run (default: random).")] = None,
    clarify: Annotated[
        bool, typer.Option(help="Let the model ask one question first if the task is ambiguous.")
    ] = False,
    approve_plan: Annotated[bool, typer.Option(help="Approve each plan before it runs.")] = False,
    plan_format: Annotated[
        PlanFormat,
        typer.Option(
            help="compact: one line per step (fewer output tokens); json: an object per step; "
            "auto: compact for in-process llama.cpp models (the demo), else json."
        ),
    ] = PlanFormat.auto,
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
        str | None, typer.Option(help="Run store: a file or postgresql:// URL.")
    ] = None,
) -> None:
    """Research TASK and answer with citations."""
    from agent.errors import ConfigError, UserError

    try:
        from agent.cli.task_input import read_task

        text = read_task(task, task_file)
        _check_output(output)
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
        if (approve_plan or approve_code or clarify) and not interactive:
            raise ConfigError(
                "--clarify/--approve-plan/--approve-actions need a terminal to ask on",
                hint="run interactively, or drop the flag",
            )
        if run_id is not None and not run_id.replace("-", "").replace("_", "").isalnum():
            raise ConfigError("--run-id may hold only letters, digits, - and _")
        from agent.cli.session import RunOptions
        from agent.settings import Budgets, Settings

        opts = RunOptions(
            task=text,
            model=model,
            fast_model=fast_model,
            base_url=base_url,
            corpus=str(corpus.resolve()) if corpus else None,
            corpus_semantic=corpus_semantic,
            search=chosen,
            allow_hosts=list(allow_host or []),
            tools=[t.strip() for t in (tools or "").split(",") if t.strip()],
            mcp_config=str(mcp.resolve()) if mcp else None,
            settings=Settings(
                effort=effort.value,
                notes=notes,
                clarify=clarify,
                report=report_kind.value,
                samples=_samples(samples),
                plan_samples=plan_samples,
                approve_plan=approve_plan,
                approve_code=approve_code,
                plan_format=plan_format.value,
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
    from agent.cli.session import new_run_id, start_run

    view = _view(json_out, events, show_thinking)
    run_id = run_id or new_run_id()
    report = _run(
        start_run(
            opts,
            store=run_store,
            view=view,
            run_id=run_id,
            approver=ask_on_terminal if interactive else None,
        ),
        run_id,
    )
    _emit(report, json_out, output)


@app.command()
def ask(
    earlier: Annotated[str, typer.Argument(help="The finished run to follow up on.")],
    question: Annotated[str, typer.Argument(help="The follow-up question.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON report.")] = False,
    events: Annotated[EventFormat | None, typer.Option()] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
    run_id: Annotated[str | None, typer.Option(help="Name the new run (default: random).")] = None,
    store: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Ask a follow-up to a finished run: its evidence is reused, not fetched again."""
    from agent.errors import UserError

    try:
        _check_output(output)
        run_store = _store(store)
    except UserError as exc:
        _fail_on(exc, 2)
    from agent.cli.approve import ask_on_terminal
    from agent.cli.session import ask_run, new_run_id

    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    run_id = run_id or new_run_id()
    report = _run(
        ask_run(
            earlier,
            question,
            store=run_store,
            view=_view(json_out, events, False),
            approver=ask_on_terminal if interactive else None,
            run_id=run_id,
        ),
        run_id,
    )
    _emit(report, json_out, output)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
    events: Annotated[EventFormat | None, typer.Option()] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
    store: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Continue an interrupted run from its last checkpoint, redoing no finished step."""
    from agent.errors import UserError

    try:
        _check_output(output)
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
        ),
        run_id,
    )
    _emit(report, json_out, output)


@app.command()
def runs(
    store: Annotated[str | None, typer.Option()] = None,
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
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write it to .md, .html or .json.")
    ] = None,
    store: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Print a stored run's answer and how it was reached (or write it with -o)."""
    from agent.cli.session import show_run
    from agent.errors import UserError

    try:
        _check_output(output)
        run_store = _store(store)
    except UserError as exc:
        _fail_on(exc, 2)
    report = _run(show_run(run_id, store=run_store))
    if output is not None:
        report.save(output)
        return
    typer.echo(report.model_dump_json(indent=2) if json_out else report.to_markdown())


app.command("tools")(tools_command)
app.command("mcp")(mcp_command)
app.command("export")(export_command)
app.command("eval")(eval_command)

# Commands in their own modules register here, after the shared helpers above exist.
from agent.cli.batch import batch as _batch  # noqa: E402

app.command(name="batch")(_batch)


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        if exc.code == 130:
            from agent.cli.interrupt import leave_now

            leave_now(130)
        raise
