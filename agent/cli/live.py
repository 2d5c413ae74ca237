"""The live terminal view of a run: a plan tree with step states, a model-activity
line, recent reflections and replans, and a clock.

It is redrawn from a Rich refresh thread by calling `LiveView._render` each
time, so the clock and the token count move even while the run's own thread is
busy (llama.cpp releases the GIL while it evaluates). It steps aside while an
approval question is asked, and its final frame shows every step as the run
really left it: a step cut off when the run finished is "cancelled", one that
never started "not run", and after Ctrl-C unfinished steps are "stopped".
"""

from __future__ import annotations

import contextlib
import textwrap
import threading
import time
from collections.abc import Iterator

from langchain_core.callbacks import BaseCallbackHandler
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text
from rich.tree import Tree

from agent.cli.activity import ModelActivity
from agent.cli.render import BaseView, counted
from agent.events import Event, PlanEvent
from agent.report import RunReport, role_line

__all__ = ["LiveView"]

_ICONS = {
    "pending": "·",
    "running": "▶",
    "retry": "↻",
    "done": "✔",
    "failed": "✘",
    "skipped": "↷",
    "cancelled": "⊘",
    "not_run": "–",
    "stopped": "■",
}
_STYLES = {
    "pending": "dim",
    "running": "yellow",
    "retry": "yellow",
    "done": "green",
    "failed": "red",
    "skipped": "dim",
    "cancelled": "dim",
    "not_run": "dim",
    "stopped": "yellow",
}
# What a final frame says about a step that has no result of its own.
_ENDED = {
    "cancelled": "cancelled: the run finished without it",
    "not_run": "not run: the run finished without it",
    "stopped": "stopped by Ctrl-C; `ponder resume` runs it again",
}
_DOING = {
    "triage": "triaging",
    "plan": "planning",
    "reflect": "reflecting",
    "synthesize": "writing the answer",
    "write_report": "writing the report",
    "execute": "reading a step's output",
}
_DETAIL_CHARS = 90


class LiveView(BaseView):
    """Shows a run on a terminal while it happens; see the module docstring."""

    def __init__(self, console: Console | None = None, *, show_thinking: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.show_thinking = show_thinking
        self.activity = ModelActivity()
        self.task = ""
        self.model = ""
        self.triage = ""
        self.plans: list[PlanEvent] = []
        self.states: dict[str, tuple[str, str]] = {}
        self.log: list[str] = []
        self.usage = ""
        self.t0 = time.monotonic()
        self.ended: RunReport | None = None
        self._lock = threading.Lock()
        self.live = self._new_live()

    def _new_live(self) -> Live:
        return Live(
            console=self.console,
            get_renderable=self._render,
            refresh_per_second=4,
            transient=False,
        )

    def callbacks(self) -> list[BaseCallbackHandler]:
        return [self.activity]

    def start(self, task: str, model: str) -> None:
        with self._lock:
            self.task, self.model = task, model
            self.t0 = time.monotonic()
        self.live.start(refresh=True)

    def notice(self, text: str) -> None:
        with self._lock:
            self.log.append(f"note: {text}")
        self.live.refresh()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Erase the live frame so a question is seen and answered; redraw after."""
        self.live.transient = True
        self.live.stop()
        try:
            yield
        except BaseException:
            self.console.line()  # the unanswered question's line stays readable
            raise
        finally:
            # A fresh Live: the old one would erase as many lines as it last drew,
            # which are now the question and its answer.
            self.live = self._new_live()
            self.live.start(refresh=True)

    def on_event(self, e: Event) -> None:
        with self._lock:
            self._apply(e)
        self.live.refresh()

    def _apply(self, e: Event) -> None:
        if e.type == "triage":
            self.triage = f"{e.mode} · depth {e.depth} · {e.reason}"
        elif e.type == "plan":
            self.plans.append(e)
            if e.choice:
                pick = e.choice
                self.log.append(f"plan {pick.chosen} of {pick.samples} ({pick.by}): {pick.reasons}")
        elif e.type == "step_started":
            attempt = f" (attempt {e.attempt})" if e.attempt > 1 else ""
            self.states[e.step_id] = ("running", f"running{attempt}")
        elif e.type == "step_finished":
            self.states[e.step_id] = (e.status, f"{e.duration_s:.1f}s · {e.summary}")
        elif e.type == "reflection":
            self.log.append(f"reflection: {e.decision} — {e.reason}")
        elif e.type == "replan":
            self.log.append(f"replan from v{e.from_version}: {e.reason}")
        elif e.type == "approval":
            said = f": {e.feedback}" if e.feedback else ""
            self.log.append(f"plan v{e.version}: {e.decision}{said}")
        elif e.type == "citation_check":
            self.log.append(
                f"citations: {e.kept} of {e.checked} verified, {e.unsupported} unsupported"
            )
        elif e.type == "usage":
            self.usage = (
                f"{counted(e.model_calls, 'model call')} · "
                f"{e.input_tokens + e.output_tokens:,} tokens · "
                f"{counted(e.tool_calls, 'tool call')} · {e.wall_s:.1f}s"
                + (f"\n{role_line(e.by_role)}" if len(e.by_role) > 1 else "")
            )

    # -- drawing ---------------------------------------------------------------

    def _render(self) -> RenderableType:
        with self._lock:
            return Group(*self._parts())

    def _parts(self) -> list[RenderableType]:
        parts: list[RenderableType] = [
            Text(f"Task: {self.task}", style="bold"),
            Text(f"Model: {self.model}   Triage: {self.triage or '…'}", style="dim"),
        ]
        tree = self._tree()
        if tree is not None:
            parts.append(tree)
        if self.ended is None:
            parts.extend(self._activity())
        parts += [Text(line, style="cyan") for line in self.log[-6:]]
        elapsed = f"{time.monotonic() - self.t0:.1f}s elapsed"
        parts.append(Text(self.usage if self.ended and self.usage else elapsed, style="magenta"))
        return parts

    def _tree(self) -> Tree | None:
        if self.ended is not None and self.ended.plans:
            final = self.ended.plans[-1]
            title = f"Plan v{final.version}" + (f" — {final.reason}" if final.version > 1 else "")
            rows = [
                (s.id, s.tool, s.depends_on, s.goal, *self._final_state(s.id, s.status, s.summary))
                for s in final.steps
            ]
            reasoning = final.reasoning
        elif self.plans:
            p = self.plans[-1]
            title = f"Plan v{p.version}" + (f" — {p.reason}" if p.version > 1 else "")
            rows = [
                (
                    s.id,
                    s.tool,
                    list(s.depends_on),
                    s.goal + (f" (for each of {s.for_each})" if s.for_each else ""),
                    *self.states.get(s.id, ("pending", "")),
                )
                for s in p.steps
            ]
            reasoning = p.reasoning
        else:
            return None
        tree = Tree(title)
        if self.show_thinking and reasoning:
            tree.add(Text(reasoning.strip(), style="italic dim"))
        for sid, tool, deps, goal, status, detail in rows:
            after = f" ⟵ {', '.join(deps)}" if deps else ""
            line = Text(f"{_ICONS.get(status, '?')} {sid} {tool}{after}: {goal}")
            line.stylize(_STYLES.get(status, ""))
            if detail:
                short = textwrap.shorten(detail, _DETAIL_CHARS, placeholder=" …")
                line.append("\n" + short, style="dim")
            node = tree.add(line)
            self._add_children(node, sid)
        return tree

    def _add_children(self, node: Tree, sid: str) -> None:
        """A fan-out step's children (``s3.1``, ``s3.2``, …) under it, as their events come."""
        children = sorted(
            (k for k in self.states if k.startswith(f"{sid}.")),
            key=lambda k: int(k.rsplit(".", 1)[1]),
        )
        for child in children:
            status, detail = self.states[child]
            line = Text(f"{_ICONS.get(status, '?')} {child}")
            line.stylize(_STYLES.get(status, ""))
            if detail:
                line.append("  " + textwrap.shorten(detail, _DETAIL_CHARS, placeholder=" …"), "dim")
            node.add(line)

    def _final_state(self, sid: str, status: str, summary: str) -> tuple[str, str]:
        """A step's state in the final frame: the report's, named for what happened."""
        seen = self.states.get(sid, ("pending", ""))[0]
        interrupted = self.ended is not None and self.ended.status == "interrupted"
        if status in ("pending", "retry"):
            if interrupted:
                status = "stopped" if seen != "pending" else "pending"
            else:
                status = "cancelled" if seen != "pending" else "not_run"
            return status, _ENDED.get(status, "")
        detail = self.states.get(sid, ("", ""))[1] if seen == status else ""
        return status, detail or summary

    def _activity(self) -> list[RenderableType]:
        call = self.activity.current()
        if call is None:
            return []
        doing = _DOING.get(call.node, "calling the model")
        written = f"{counted(call.tokens, 'token')} so far" if call.tokens else "reading the prompt"
        line = Text(
            f"✎ {doing} · {time.monotonic() - call.started:.1f}s · {written}", style="yellow"
        )
        if not call.reasoning:
            return [line]
        tail = call.reasoning.strip().replace("\n", " ")[-_DETAIL_CHARS * 2 :]
        words = tail.split(" ", 1)[-1] if len(tail) >= _DETAIL_CHARS * 2 else tail
        return [line, Text(f"  “…{words}”", style="italic dim")]

    def finish(self, report: RunReport) -> None:
        with self._lock:
            self.ended = report
        self.live.stop()
        if report.status == "interrupted":
            return
        Console().print(
            Panel(
                Markdown(report.answer or "_No answer._"),
                title=f"Answer ({report.status})",
                border_style="green",
            )
        )
