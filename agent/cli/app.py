"""The ``ponder`` command. Imports stay light here so ``ponder --help`` is instant.

Exit codes: 0 done · 1 the run failed · 2 usage error · 3 budget exhausted ·
4 unanswered (no cited answer) · 130 interrupted (finished steps are saved;
``ponder resume`` continues).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer._click.core import Context
from typer._coercion import PassThroughRuntimeParam
from typer.core import TyperGroup, TyperOption
from typer.models import OptionInfo

from agent.cli import options as o
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


def _view(json_out: bool, events: o.EventFormat | None, show_thinking: bool) -> Any:
    from agent.cli.live import LiveView
    from agent.cli.render import JsonLinesView, PlainView, QuietView

    if events is o.EventFormat.jsonl:
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


@app.command()
def run(
    task: Annotated[str | None, typer.Argument(help="The question or task.")] = None,
    task_file: Annotated[Path | None, typer.Option(help="Read the task from a file.")] = None,
    model: o.ModelOpt = "auto",
    fast_model: o.FastModelOpt = None,
    notes: o.NotesOpt = None,
    base_url: o.BaseUrlOpt = None,
    effort: o.EffortOpt = o.Effort.auto,
    corpus: o.CorpusOpt = None,
    search: o.SearchOpt = None,
    searxng_url: o.SearxngUrlOpt = None,
    local_web: o.LocalWebOpt = None,
    local_web_port: o.LocalWebPortOpt = 0,
    corpus_semantic: o.CorpusSemanticOpt = False,
    max_steps: o.MaxStepsOpt = 48,
    max_replans: o.MaxReplansOpt = 3,
    max_model_calls: o.MaxModelCallsOpt = 24,
    max_tokens: o.MaxTokensOpt = 400_000,
    timeout: o.TimeoutOpt = 900.0,
    step_timeout: o.StepTimeoutOpt = 60.0,
    samples: o.SamplesOpt = "1",
    plan_samples: o.PlanSamplesOpt = 1,
    show_thinking: Annotated[bool, typer.Option(help="Print the planner's reasoning.")] = False,
    json_out: o.JsonOpt = False,
    events: o.EventsOpt = None,
    output: o.OutputOpt = None,
    report_kind: o.ReportOpt = o.ReportKind.short,
    run_id: Annotated[str | None, typer.Option(help="Name the run (default: random).")] = None,
    clarify: Annotated[
        bool, typer.Option(help="Let the model ask one question first if the task is ambiguous.")
    ] = False,
    approve_plan: Annotated[bool, typer.Option(help="Approve each plan before it runs.")] = False,
    plan_format: o.PlanFormatOpt = o.PlanFormat.auto,
    approve_code: Annotated[
        bool,
        typer.Option(
            "--approve-actions",
            "--approve-code",
            help="Approve each code step and side-effecting MCP tool call before it runs.",
        ),
    ] = False,
    tools: o.ToolsOpt = None,
    mcp: o.McpOpt = None,
    allow_host: o.AllowHostOpt = None,
    store: o.StoreOpt = None,
) -> None:
    """Research TASK and answer with citations."""
    from agent.errors import ConfigError, UserError

    try:
        from agent.cli.task_input import read_task

        text = read_task(task, task_file)
        _check_output(output)
        interactive = sys.stdin.isatty() and sys.stderr.isatty()
        if (approve_plan or approve_code or clarify) and not interactive:
            raise ConfigError(
                "--clarify/--approve-plan/--approve-actions need a terminal to ask on",
                hint="run interactively, or drop the flag",
            )
        if run_id is not None and not run_id.replace("-", "").replace("_", "").isalnum():
            raise ConfigError("--run-id may hold only letters, digits, - and _")
        args = o.ResearchArgs(
            model=model, fast_model=fast_model, notes=notes, base_url=base_url, effort=effort,
            corpus=corpus, search=search, searxng_url=searxng_url, local_web=local_web,
            local_web_port=local_web_port, corpus_semantic=corpus_semantic, max_steps=max_steps,
            max_replans=max_replans, max_model_calls=max_model_calls, max_tokens=max_tokens,
            timeout=timeout, step_timeout=step_timeout, samples=samples,
            plan_samples=plan_samples, report=report_kind, plan_format=plan_format, tools=tools,
            mcp=mcp, allow_host=list(allow_host or []),
        )  # fmt: skip
        opts = args.to_run_options(
            text, clarify=clarify, approve_plan=approve_plan, approve_code=approve_code
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
    json_out: o.JsonOpt = False,
    events: o.EventsOpt = None,
    output: o.OutputOpt = None,
    run_id: Annotated[str | None, typer.Option(help="Name the new run (default: random).")] = None,
    store: o.StoreOpt = None,
) -> None:
    """Ask a follow-up to a finished run: its evidence is reused, not fetched again."""
    from agent.cli.session import ask_run, new_run_id

    new_id = run_id or new_run_id()
    _continue(
        lambda run_store, view, approver: ask_run(
            earlier, question, store=run_store, view=view, approver=approver, run_id=new_id
        ),
        new_id, json_out, events, output, store,
    )  # fmt: skip


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    json_out: o.JsonOpt = False,
    events: o.EventsOpt = None,
    output: o.OutputOpt = None,
    store: o.StoreOpt = None,
) -> None:
    """Continue an interrupted run from its last checkpoint, redoing no finished step."""
    from agent.cli.session import resume_run

    _continue(
        lambda run_store, view, approver: resume_run(
            run_id, store=run_store, view=view, approver=approver
        ),
        run_id, json_out, events, output, store,
    )  # fmt: skip


def _continue(
    work: Callable[[Store, Any, Any], Coroutine[Any, Any, RunReport]],
    run_id: str,
    json_out: bool,
    events: o.EventFormat | None,
    output: Path | None,
    store: str | None,
) -> NoReturn:
    """Run a command that continues from a stored run (``ask``, ``resume``) and exit."""
    from agent.cli.approve import ask_on_terminal
    from agent.errors import UserError

    try:
        _check_output(output)
        run_store = _store(store)
    except UserError as exc:
        _fail_on(exc, 2)
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    approver = ask_on_terminal if interactive else None
    report = _run(work(run_store, _view(json_out, events, False), approver), run_id)
    _emit(report, json_out, output)


@app.command()
def runs(
    store: o.StoreOpt = None,
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
    json_out: o.JsonOpt = False,
    output: o.OutputOpt = None,
    store: o.StoreOpt = None,
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
