"""The options ``ponder run`` and ``ponder batch`` share, declared once.

Why: typer reads a command's options from its signature, so each shared option
is an ``Annotated`` alias here that both signatures use (one help text, one
range), and `ResearchArgs` turns their values into `RunOptions` in one place.
Only typer is imported at the top, so ``ponder --help`` stays instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from agent.cli.session import RunOptions

__all__ = [
    "Effort",
    "EventFormat",
    "PlanFormat",
    "ReportFormat",
    "ReportKind",
    "ResearchArgs",
    "Search",
]


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


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"


class EventFormat(StrEnum):
    jsonl = "jsonl"


ModelOpt = Annotated[
    str, typer.Option(help="demo, auto, llamacpp:PATH, openai:M, anthropic:M, ollama:M")
]
FastModelOpt = Annotated[
    str | None,
    typer.Option(help="Model for notes, extraction and trivial answers (default: --model)."),
]
NotesOpt = Annotated[
    bool | None,
    typer.Option(
        "--notes/--no-notes",
        help="Turn each page read into checked notes for the writer (default: on at high effort).",
    ),
]
BaseUrlOpt = Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")]
EffortOpt = Annotated[Effort, typer.Option(help="How much thinking: low, medium, high or auto.")]
CorpusOpt = Annotated[Path | None, typer.Option(help="Folder of documents to research.")]
SearchOpt = Annotated[
    Search | None,
    typer.Option(
        help="web (ddgs), searxng, ddgs,searxng (a fallback chain), local, corpus or none "
        "(default: corpus if --corpus, else web)."
    ),
]
SearxngUrlOpt = Annotated[
    str | None, typer.Option(help="The SearXNG instance for --search searxng.")
]
LocalWebOpt = Annotated[
    Path | None, typer.Option(help="Folder of HTML pages served on 127.0.0.1 for --search local.")
]
LocalWebPortOpt = Annotated[
    int, typer.Option(min=0, max=65535, help="Port of the local web (0: stable per folder).")
]
CorpusSemanticOpt = Annotated[
    bool,
    typer.Option(help="Fuse corpus BM25 with embeddings (ponder[semantic]; slow first index)."),
]
MaxStepsOpt = Annotated[int, typer.Option(min=1, max=200, help="Most tool steps per run.")]
MaxReplansOpt = Annotated[int, typer.Option(min=0, max=20, help="Most replans per run.")]
MaxModelCallsOpt = Annotated[int, typer.Option(min=1, max=1000, help="Most model calls per run.")]
MaxTokensOpt = Annotated[int, typer.Option(min=100, help="Most model tokens per run.")]
TimeoutOpt = Annotated[float, typer.Option(min=1.0, help="Wall-clock budget of a run (s).")]
StepTimeoutOpt = Annotated[float, typer.Option(min=0.1, help="Wall-clock budget of a step (s).")]
SamplesOpt = Annotated[
    str, typer.Option(help="Independent reasoning paths a verifier votes on: N, or auto.")
]
PlanSamplesOpt = Annotated[
    int,
    typer.Option(
        min=1, max=16, help="First plans to sample; a critic picks one before any step runs."
    ),
]
ReportOpt = Annotated[
    ReportKind,
    typer.Option(
        "--report", help="short: cited claims; long: outline, sections, summary, references."
    ),
]
PlanFormatOpt = Annotated[
    PlanFormat,
    typer.Option(
        help="compact: one line per step (fewer output tokens); json: an object per step; "
        "auto: compact for in-process llama.cpp models (the demo), else json."
    ),
]
ToolsOpt = Annotated[
    str | None, typer.Option(help="Only these tools, comma-separated (e.g. corpus_search).")
]
McpOpt = Annotated[
    Path | None, typer.Option(help="MCP servers config (mcpServers JSON): add their tools.")
]
AllowHostOpt = Annotated[
    list[str] | None, typer.Option(help="Let web tools reach this host[:port].")
]
StoreOpt = Annotated[str | None, typer.Option(help="Run store: a file or postgresql:// URL.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON report.")]
EventsOpt = Annotated[EventFormat | None, typer.Option(help="Print the event stream (jsonl).")]
OutputOpt = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Write the report: .md, .html (one page) or .json."),
]


@dataclass(frozen=True)
class ResearchArgs:
    """The shared options' values, as a command received them."""

    model: str = "auto"
    fast_model: str | None = None
    notes: bool | None = None
    base_url: str | None = None
    effort: Effort = Effort.auto
    corpus: Path | None = None
    search: Search | None = None
    searxng_url: str | None = None
    local_web: Path | None = None
    local_web_port: int = 0
    corpus_semantic: bool = False
    max_steps: int = 48
    max_replans: int = 3
    max_model_calls: int = 24
    max_tokens: int = 400_000
    timeout: float = 900.0
    step_timeout: float = 60.0
    samples: str = "1"
    plan_samples: int = 1
    report: ReportKind = ReportKind.short
    plan_format: PlanFormat = PlanFormat.auto
    tools: str | None = None
    mcp: Path | None = None
    allow_host: list[str] = field(default_factory=list)
    search_rate: float | None = None  # web searches per second; None: the default

    def to_run_options(
        self,
        task: str,
        *,
        clarify: bool = False,
        approve_plan: bool = False,
        approve_code: bool = False,
    ) -> RunOptions:
        """The run's options; `ConfigError` for a missing folder or companion option."""
        from agent.cli.session import RunOptions
        from agent.cli.web_options import web_search_choice
        from agent.errors import ConfigError
        from agent.settings import Budgets, Settings

        if self.corpus is not None and not self.corpus.is_dir():
            raise ConfigError(f"corpus folder {self.corpus} does not exist or is not a folder")
        if self.mcp is not None:
            from tools.mcp import McpConfig

            McpConfig.from_file(self.mcp)  # a bad config fails here, before any task starts
        chosen, web_search = web_search_choice(
            (self.search or (Search.corpus if self.corpus else Search.web)).value,
            searxng_url=self.searxng_url,
            local_web=self.local_web,
            local_web_port=self.local_web_port,
        )
        if chosen == "corpus" and self.corpus is None:
            raise ConfigError("--search corpus needs --corpus DIR")
        if self.search_rate is not None:
            web_search = web_search.model_copy(update={"rate_per_s": self.search_rate})
        return RunOptions(
            task=task,
            model=self.model,
            fast_model=self.fast_model,
            base_url=self.base_url,
            corpus=str(self.corpus.resolve()) if self.corpus else None,
            corpus_semantic=self.corpus_semantic,
            search=chosen,
            allow_hosts=list(self.allow_host),
            tools=[t.strip() for t in (self.tools or "").split(",") if t.strip()],
            mcp_config=str(self.mcp.resolve()) if self.mcp else None,
            settings=Settings(
                effort=self.effort.value,
                notes=self.notes,
                clarify=clarify,
                report=self.report.value,
                samples=_samples(self.samples),
                plan_samples=self.plan_samples,
                approve_plan=approve_plan,
                approve_code=approve_code,
                plan_format=self.plan_format.value,
                web_search=web_search,
                budgets=Budgets(
                    max_steps=self.max_steps,
                    max_replans=self.max_replans,
                    max_model_calls=self.max_model_calls,
                    max_tokens=self.max_tokens,
                    timeout_s=self.timeout,
                    step_timeout_s=self.step_timeout,
                ),
            ),
        )


def _samples(text: str) -> int | Literal["auto"]:
    from agent.errors import ConfigError

    if text == "auto":
        return "auto"
    if not text.isdigit() or not 1 <= int(text) <= 32:
        raise ConfigError(f"--samples takes a number from 1 to 32 or auto, got {text!r}")
    return int(text)
