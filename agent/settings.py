"""Per-run settings as frozen value objects.

Settings reach a graph two ways: as the default given to the graph factory, and
per run through LangGraph's runtime context (``graph.invoke(..., context=
RunContext(settings=...))``), which wins. Environment variables are read only
in the CLI layer, never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from langchain_core.language_models import BaseChatModel
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

__all__ = [
    "DEPTHS",
    "Budgets",
    "Depth",
    "DepthName",
    "Effort",
    "PlanFormat",
    "ReportKind",
    "RunContext",
    "SearchEngine",
    "Settings",
    "WebSearchSettings",
]

Effort = Literal["low", "medium", "high", "auto"]
DepthName = Literal["low", "medium", "high"]
ReportKind = Literal["short", "long"]


class Depth(BaseModel):
    """How much thinking a task gets once triage has judged it."""

    model_config = ConfigDict(frozen=True)

    name: DepthName
    max_plan_steps: int = Field(description="largest plan the planner may write")
    max_replans: int
    reflect_every_step: bool = Field(
        description="judge successful steps with the model too, not only failures"
    )


DEPTHS: dict[DepthName, Depth] = {
    # Plan sizes are caps, not targets: a fan-out of 8 lookups that each need a
    # search and a read is 16 steps, and should be one plan, not three rounds.
    "low": Depth(name="low", max_plan_steps=4, max_replans=0, reflect_every_step=False),
    "medium": Depth(name="medium", max_plan_steps=16, max_replans=1, reflect_every_step=False),
    "high": Depth(name="high", max_plan_steps=32, max_replans=3, reflect_every_step=True),
}


class Budgets(BaseModel):
    """Hard limits; when one runs out the run ends as ``budget_exhausted``."""

    model_config = ConfigDict(frozen=True)

    max_steps: PositiveInt = 48
    max_replans: int = Field(default=3, ge=0)
    max_model_calls: PositiveInt = 24
    max_tokens: PositiveInt = 400_000
    timeout_s: PositiveFloat = 900.0
    step_timeout_s: PositiveFloat = 60.0
    model_timeout_s: PositiveFloat = 300.0


SearchEngine = Literal["ddgs", "searxng", "local"]
PlanFormat = Literal["auto", "compact", "json"]
"""How the planner writes steps: one line each (compact), JSON objects, or auto:
compact for llama.cpp in process (its grammar holds every line; output tokens dominate there),
else JSON."""


class WebSearchSettings(BaseModel):
    """Which engines ``web_search`` asks, in order: the next one when one fails.

    ``local`` is a folder of HTML pages served on 127.0.0.1 (an intranet
    mirror, or the offline test web); fetch_url reaches it only through
    ``allow_hosts``.
    """

    model_config = ConfigDict(frozen=True)

    engines: tuple[SearchEngine, ...] = Field(default=("ddgs",), min_length=1)
    searxng_url: str | None = Field(default=None, description="a SearXNG instance's address")
    local_web: str | None = Field(default=None, description="the folder the local engine serves")
    local_web_port: int = Field(default=0, ge=0, le=65535, description="0: stable per folder")
    rate_per_s: float = Field(
        default=1.0, gt=0, le=100, description="search requests per second (a batch: in all)"
    )

    @model_validator(mode="after")
    def _engines_configured(self) -> WebSearchSettings:
        if "searxng" in self.engines and not self.searxng_url:
            raise ValueError("the searxng engine needs searxng_url (--searxng-url URL)")
        if "local" in self.engines and not self.local_web:
            raise ValueError("the local engine needs local_web (--local-web DIR)")
        return self


class Settings(BaseModel):
    """Everything that shapes one run apart from the model and the tools."""

    model_config = ConfigDict(frozen=True)

    effort: Effort = "auto"
    budgets: Budgets = Budgets()
    plan_retries: int = Field(default=2, ge=0, description="re-asks after an invalid plan")
    output_retries: int = Field(default=2, ge=0, description="re-asks after other bad output")
    stream_planning: bool = Field(
        default=True, description="dispatch steps while the plan is still being written"
    )
    plan_format: PlanFormat = Field(
        default="auto",
        description="compact: one line per step (about half the output tokens); json: an "
        "object per step; auto: compact for llama.cpp in process (its grammar holds every "
        "line), else json",
    )
    clarify: bool = Field(
        default=False, description="before planning, ask one question when the task is ambiguous"
    )
    approve_plan: bool = False
    approve_code: bool = False
    evidence_chars: PositiveInt = Field(
        default=6000, description="evidence text shown to the synthesizer, in characters"
    )
    notes: bool | None = Field(
        default=None,
        description="turn each page a step reads into checked notes for the writer "
        "(one fast-model call a page); None: on at high depth",
    )
    report: ReportKind = Field(
        default="short",
        description="short: cited claims; long: outline, sections written in parallel, summary",
    )
    web_search: WebSearchSettings = WebSearchSettings()
    samples: PositiveInt | Literal["auto"] = Field(
        default=1,
        description="independent reasoning paths whose answers a verifier votes on; "
        "auto: chosen from triage and effort",
    )
    plan_samples: int = Field(
        default=1,
        ge=1,
        le=16,
        description="first plans sampled (each with its own approach hint); a critic picks "
        "one before any step runs",
    )

    def depth(self, chosen: DepthName | None = None) -> Depth:
        """The depth for this run: the effort if set, else triage's choice."""
        if self.effort != "auto":
            return DEPTHS[self.effort]
        return DEPTHS[chosen or "medium"]

    def notes_on(self, chosen: DepthName | None = None) -> bool:
        """Whether pages become notes: as set, else at high depth (where runs read widely)."""
        if self.notes is not None:
            return self.notes
        return self.depth(chosen).name == "high"

    def recursion_limit(self) -> int:
        """Supersteps needed by the worst run the budgets allow, plus slack.

        Each finished step costs at most one executor superstep and one
        reflection; each plan version costs a planner, an approval and a replan.
        """
        b = self.budgets
        return 4 * b.max_steps + 6 * (b.max_replans + 1) + 3 * b.max_model_calls + 20


@dataclass(frozen=True)
class RunContext:
    """LangGraph runtime context (``context_schema``) of Ponder's graphs.

    A dict context (``{"settings": {"effort": "low"}}``, as the LangGraph SDK and
    server send it) works too: LangGraph builds it with ``RunContext(**context)``.
    """

    settings: Settings | None = None
    # Not in the JSON schema: a model object is passed in process, never by a server client.
    fast_model: SkipJsonSchema[BaseChatModel | None] = None
    """Takes notes, extracts values and answers trivial tasks; None: the graph's own."""

    def __post_init__(self) -> None:
        # ``RunContext(**context)`` leaves the nested settings a plain dict.
        if isinstance(self.settings, Mapping):
            object.__setattr__(self, "settings", Settings.model_validate(self.settings))
