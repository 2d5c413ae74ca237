"""A finished (or stopped) run as one JSON-ready object: what ``ponder run --json`` prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agent.plan import PlanChoice, TriageDecision
from agent.progress import step_state
from agent.state import (
    Citation,
    CitationTally,
    NodeUsage,
    Reference,
    Reflection,
    ReportClaim,
    ReportSection,
    ResearchState,
    RunStatus,
    Usage,
)

__all__ = ["PlanView", "RunReport", "StepView", "check_report_path", "role_line"]

_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".json")


def check_report_path(path: Path) -> None:
    """Refuse a report path `RunReport.save` cannot write, before a run rather than after it."""
    from agent.errors import ConfigError

    if path.suffix.lower() not in _SUFFIXES:
        raise ConfigError(
            f"-o {path}: unknown report format {path.suffix or '(no suffix)'!r}",
            hint="name it .md (Markdown), .html (a self-contained page) or .json",
        )
    if not path.parent.is_dir():
        raise ConfigError(f"-o {path}: folder {path.parent} does not exist")


class StepView(BaseModel):
    id: str
    goal: str
    tool: str
    input: dict[str, Any]
    depends_on: list[str]
    status: str
    attempts: int = 0
    summary: str = ""
    for_each: str | None = None
    parent: str | None = Field(default=None, description="the fan-out step a child belongs to")


class PlanView(BaseModel):
    version: int
    reasoning: str
    reason: str = ""
    steps: list[StepView]
    choice: PlanChoice | None = None


class RunReport(BaseModel):
    run_id: str
    task: str
    status: RunStatus
    stop_reason: str = ""
    answer: str = ""
    citations: list[Citation] = Field(default_factory=list)
    citation_check: CitationTally | None = None
    answer_by: str = Field(
        default="none", description="model, evidence (built without the model) or none"
    )
    gaps: list[str] = Field(default_factory=list, description="what the evidence did not cover")
    title: str = Field(default="", description="a long report's title")
    summary: list[ReportClaim] = Field(default_factory=list, description="a long report's")
    sections: list[ReportSection] = Field(
        default_factory=list, description="a long report's sections, each claim with its citations"
    )
    references: list[Reference] = Field(
        default_factory=list, description="a long report's sources, numbered as cited"
    )
    triage: TriageDecision | None = None
    plans: list[PlanView] = Field(default_factory=list)
    reflections: list[Reflection] = Field(default_factory=list)
    usage: dict[str, float | int] = Field(default_factory=dict)
    usage_by_role: dict[str, NodeUsage] = Field(
        default_factory=dict,
        description="model calls and tokens per model role: model (plan, reflect, write) "
        "and fast_model (notes, extraction, trivial answers)",
    )
    notes: int = Field(default=0, description="checked notes the run's steps took")
    sampling: dict[str, Any] | None = Field(
        default=None, description="with --samples N: every candidate, its score, the vote"
    )

    @classmethod
    def from_state(cls, state: ResearchState, *, status: RunStatus | None = None) -> RunReport:
        from agent.step_views import record_digest

        records = state.get("steps") or {}
        plans = []
        for plan in state.get("plans") or []:
            steps = []
            for s in plan.steps:
                record = records.get(s.id)
                in_version = record is not None and record.plan_version <= plan.version
                children = sorted(
                    (r for k, r in records.items() if k.startswith(f"{s.id}.")),
                    key=lambda r: int(r.step_id.rsplit(".", 1)[1]),
                )
                children = [r for r in children if r.plan_version <= plan.version]
                if s.for_each and record is None and children:
                    in_version = True
                steps.append(
                    StepView(
                        id=s.id,
                        goal=s.goal,
                        tool=s.tool,
                        input=s.input,
                        depends_on=list(s.depends_on),
                        status=step_state(state, s.id) if in_version else "pending",
                        attempts=record.attempt if in_version and record else 0,
                        summary=record_digest(record, limit=200) if in_version and record else "",
                        for_each=s.for_each,
                    )
                )
                steps.extend(
                    StepView(
                        id=r.step_id,
                        goal=s.goal,
                        tool=r.tool,
                        input=r.input,
                        depends_on=list(s.depends_on),
                        status=step_state(state, r.step_id),
                        attempts=r.attempt,
                        summary=record_digest(r, limit=200),
                        parent=s.id,
                    )
                    for r in children
                )
            plans.append(
                PlanView(
                    version=plan.version,
                    reasoning=plan.reasoning,
                    reason=plan.reason,
                    steps=steps,
                    choice=plan.choice,
                )
            )
        answer = state.get("answer")
        return cls(
            run_id=state.get("run_id", ""),
            task=state.get("task", ""),
            status=status or state.get("status") or "running",
            stop_reason=state.get("stop_reason", ""),
            answer=answer.markdown if answer else "",
            citations=list(answer.citations) if answer else [],
            citation_check=answer.tally if answer and answer.tally.checked else None,
            answer_by=answer.written_by if answer else "none",
            gaps=list(answer.gaps) if answer else [],
            title=answer.title if answer else "",
            summary=list(answer.summary) if answer else [],
            sections=list(answer.sections) if answer else [],
            references=list(answer.references) if answer else [],
            triage=state.get("triage"),
            plans=plans,
            reflections=list(state.get("reflections") or []),
            usage=(state.get("usage") or Usage()).summary(),
            usage_by_role=dict((state.get("usage") or Usage()).by_role()),
            notes=sum(len(r.notes) for r in records.values()),
            sampling=state.get("sampling"),  # type: ignore[typeddict-item]
        )

    def save(self, path: Path) -> None:
        """Write the report as the file's suffix says: ``.html``, ``.json``, else Markdown."""
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            from agent.report_html import render_html

            text = render_html(self)
        elif suffix == ".json":
            text = self.model_dump_json(indent=2)
        else:
            text = self.to_markdown()
        path.write_text(text, encoding="utf-8")

    def to_markdown(self) -> str:
        """A report a person can read: the answer, then how it was reached."""
        lines = (
            [f"# {self.title}", "", f"_Task: {self.task}_"] if self.title else [f"# {self.task}"]
        )
        lines += [
            "",
            self.answer or "_No answer._",
            "",
            "---",
            f"Status: {self.status}" + (f" ({self.stop_reason})" if self.stop_reason else ""),
        ]
        for plan in self.plans:
            lines += [
                "",
                f"## Plan v{plan.version}" + (f" — {plan.reason}" if plan.reason else ""),
                "",
                plan.reasoning,
                "",
            ]
            lines += [f"- `{s.id}` [{s.status}] {s.tool}: {s.goal}" for s in plan.steps]
            if plan.choice:
                lines += ["", f"Sampled plans ({plan.choice.by}: {plan.choice.reasons}):"]
                for c in plan.choice.candidates:
                    mark = "chosen" if c.get("n") == plan.choice.chosen else c.get("error")
                    steps = c.get("steps")
                    said = "; ".join(map(str, steps)) if isinstance(steps, list) else ""
                    tag = f" [{mark}]" if mark else ""
                    lines.append(f"- plan {c.get('n')}{tag}: {said}")
        if self.sampling:
            lines += ["", f"## Candidates ({self.sampling.get('samples', 0)} paths)", ""]
            for c in self.sampling.get("candidates", []):
                mark = "chosen" if c.get("chosen") else c.get("error") or f"{c.get('votes')} votes"
                lines.append(f"- path {c['path']} [{mark}] score {c['score']}: {c['short_answer']}")
        if self.reflections:
            lines += ["", "## Reflections", ""]
            lines += [f"- {r.decision}: {r.reason}" for r in self.reflections]
        u = self.usage
        lines += [
            "",
            f"Usage: {_counted(u.get('model_calls', 0), 'model call')}, "
            f"{u.get('input_tokens', 0)}+{u.get('output_tokens', 0)} tokens, "
            f"{_counted(u.get('tool_calls', 0), 'tool call')}, {u.get('wall_s', 0)} s",
        ]
        if len(self.usage_by_role) > 1 or self.notes:
            noted = _counted(self.notes, "note")
            lines.append(f"By role: {role_line(self.usage_by_role)}; {noted}")
        return "\n".join(lines) + "\n"


def role_line(by_role: dict[str, NodeUsage]) -> str:
    """``model 3 calls 2,400 tokens · fast_model 5 calls 9,100 tokens``."""
    return " · ".join(
        f"{role} {_counted(u.model_calls, 'call')} {u.input_tokens + u.output_tokens:,} tokens"
        for role, u in sorted(by_role.items())
    )


def _counted(n: float, noun: str) -> str:
    """``1 tool call``, ``2 tool calls``."""
    return f"{n:g} {noun}" if n == 1 else f"{n:g} {noun}s"
