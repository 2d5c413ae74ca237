"""Views of a run's event stream: a live Rich view on a terminal, plain lines otherwise.

Both render exactly the typed events the graph emits (one source of truth), so
what the CLI shows is what ``--events jsonl`` prints and what any embedding
program can show.
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text
from rich.tree import Tree

from agent.events import Event
from agent.report import RunReport

__all__ = ["JsonLinesView", "LiveView", "PlainView", "RunView"]

_ICONS = {"pending": "·", "running": "▶", "done": "✔", "failed": "✘", "skipped": "↷"}
_STYLES = {
    "pending": "dim",
    "running": "yellow",
    "done": "green",
    "failed": "red",
    "skipped": "dim",
}


class RunView(Protocol):
    def start(self, task: str, model: str) -> None: ...
    def on_event(self, event: Event) -> None: ...
    def finish(self, report: RunReport) -> None: ...
    def notice(self, text: str) -> None: ...


class PlainView:
    """One line per event, for logs, pipes and CI."""

    def __init__(
        self,
        out: IO[str] | None = None,
        *,
        show_thinking: bool = False,
        show_answer: bool = True,
        prefix: str = "",
    ) -> None:
        self.out = out or sys.stderr
        self.show_thinking = show_thinking
        self.show_answer = show_answer
        self.prefix = f"{prefix} " if prefix else ""
        self.t0 = time.monotonic()

    def _line(self, text: str) -> None:
        stamp = f"[{time.monotonic() - self.t0:6.2f}s]"
        print(f"{self.prefix}{stamp} {text}", file=self.out, flush=True)

    def start(self, task: str, model: str) -> None:
        self._line(f"run: {task!r} with model {model}")

    def notice(self, text: str) -> None:
        self._line(f"note: {text}")

    def on_event(self, e: Event) -> None:
        if e.type == "triage":
            self._line(f"triage: {e.mode}, depth {e.depth} ({e.decided_by}): {e.reason}")
        elif e.type == "plan":
            diff = f" (+{len(e.diff.added)} -{len(e.diff.removed)})" if e.version > 1 else ""
            self._line(f"plan v{e.version}{diff}: {len(e.steps)} steps")
            if self.show_thinking and e.reasoning:
                for row in e.reasoning.strip().splitlines():
                    self._line(f"  thinking: {row}")
            for s in e.steps:
                after = f" after {','.join(s.depends_on)}" if s.depends_on else ""
                self._line(f"  {s.id} {s.tool}{after}: {s.goal}")
        elif e.type == "step_started":
            retry = f" (attempt {e.attempt})" if e.attempt > 1 else ""
            self._line(f"step {e.step_id} started{retry}: {e.tool} {json.dumps(e.input)[:120]}")
        elif e.type == "step_finished":
            via = f" via {e.via}" if e.via else ""
            self._line(
                f"step {e.step_id} {e.status} in {e.duration_s:.2f}s{via}: {e.summary[:140]}"
            )
        elif e.type == "reflection":
            self._line(
                f"reflection ({e.by}): {e.decision}: {e.reason}"
                + (" [stalled]" if e.stalled else "")
            )
        elif e.type == "replan":
            self._line(f"replan from v{e.from_version}: {e.reason}")
        elif e.type == "approval":
            self._line(
                f"plan v{e.version} {e.decision}d" + (f": {e.feedback}" if e.feedback else "")
            )
        elif e.type == "citation_check":
            self._line(
                f"citations: {e.kept} of {e.checked} verified ({e.quoted} quoted, "
                f"{e.supported} supported, {e.unsupported} unsupported"
                + (f", {e.snippets} search snippets" if e.snippets else "")
                + ")"
            )
        elif e.type == "usage":
            self._line(
                f"usage: {e.model_calls} model calls, {e.input_tokens}+{e.output_tokens} "
                f"tokens, {e.tool_calls} tool calls, {e.wall_s:.1f}s"
            )
        elif e.type == "answer":
            self._line(f"answer ({e.status})")

    def finish(self, report: RunReport) -> None:
        if self.show_answer:
            print(report.answer, file=sys.stdout, flush=True)


class JsonLinesView:
    """Every event as one JSON line on stdout, for other programs."""

    def start(self, task: str, model: str) -> None:
        return None

    def notice(self, text: str) -> None:
        print(text, file=sys.stderr)

    def on_event(self, event: Event) -> None:
        print(event.model_dump_json(), flush=True)

    def finish(self, report: RunReport) -> None:
        return None


class LiveView:
    """A live plan tree with step states, reflections, replans and a usage meter."""

    def __init__(self, console: Console | None = None, *, show_thinking: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.show_thinking = show_thinking
        self.task = ""
        self.model = ""
        self.triage = ""
        self.plans: list[Any] = []
        self.states: dict[str, tuple[str, str]] = {}
        self.log: list[str] = []
        self.usage = ""
        self.t0 = time.monotonic()
        self.live = Live(
            self._render(), console=self.console, refresh_per_second=8, transient=False
        )

    def start(self, task: str, model: str) -> None:
        self.task, self.model = task, model
        self.live.start()

    def notice(self, text: str) -> None:
        self.log.append(f"note: {text}")
        self._refresh()

    def on_event(self, e: Event) -> None:
        if e.type == "triage":
            self.triage = f"{e.mode} · depth {e.depth} · {e.reason}"
        elif e.type == "plan":
            self.plans.append(e)
        elif e.type == "step_started":
            self.states[e.step_id] = ("running", f"{e.tool}")
        elif e.type == "step_finished":
            self.states[e.step_id] = (e.status, f"{e.duration_s:.1f}s {e.summary[:70]}")
        elif e.type == "reflection":
            self.log.append(f"reflection: {e.decision} — {e.reason}")
        elif e.type == "replan":
            self.log.append(f"replan from v{e.from_version}: {e.reason}")
        elif e.type == "citation_check":
            self.log.append(
                f"citations: {e.kept}/{e.checked} verified, {e.unsupported} unsupported"
            )
        elif e.type == "usage":
            self.usage = (
                f"{e.model_calls} model calls · {e.input_tokens + e.output_tokens} tokens"
                f" · {e.tool_calls} tool calls · {e.wall_s:.1f}s"
            )
        self._refresh()

    def _refresh(self) -> None:
        self.live.update(self._render())

    def _render(self) -> Group:
        parts: list[Any] = [
            Text(f"Task: {self.task}", style="bold"),
            Text(f"Model: {self.model}   Triage: {self.triage or '…'}", style="dim"),
        ]
        if self.plans:
            p = self.plans[-1]
            tree = Tree(f"Plan v{p.version}" + (f" — {p.reason}" if p.version > 1 else ""))
            if self.show_thinking and p.reasoning:
                tree.add(Text(p.reasoning.strip(), style="italic dim"))
            for s in p.steps:
                status, detail = self.states.get(s.id, ("pending", ""))
                after = f" ⟵ {', '.join(s.depends_on)}" if s.depends_on else ""
                tree.add(
                    Text(
                        f"{_ICONS.get(status, '?')} {s.id} {s.tool}{after}: {s.goal}  {detail}",
                        style=_STYLES.get(status, ""),
                    )
                )
            parts.append(tree)
        parts += [Text(line, style="cyan") for line in self.log[-6:]]
        meter = self.usage or f"{time.monotonic() - self.t0:.1f}s elapsed"
        parts.append(Text(meter, style="magenta"))
        return Group(*parts)

    def finish(self, report: RunReport) -> None:
        self._refresh()
        self.live.stop()
        out = Console()
        out.print(
            Panel(
                Markdown(report.answer or "_No answer._"),
                title=f"Answer ({report.status})",
                border_style="green",
            )
        )
