"""B2 dependencies: a slow branch (2 s) beside a fast chain (100 ms a step), values flowing on.

    s1 lookup "population of Atlantis"           (slow)   ─────────────┐
    s2 lookup "area of Lemuria"                  (fast)                 │
    s3 calc   "{{s2}} * 3 + 7"                   after s2               │
    s4 lookup "registry code for {{s3}}"         after s3               │
    s5 calc   "{{s1}} + {{s4}}"                  after s1, s4  ◄────────┘

The answer is exact (``A + code(3B + 7)``), so it proves each value reached
the next step. In the ``replan`` variant the registry is offline: s4 fails,
Ponder judges and replans (s6 reads the mirror, s7 sums) while s1 keeps
running; the ReAct peers just take one more turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.testing import plan_step, planning_reply
from bench.meter import (
    CallRecord,
    ModelTurn,
    Reply,
    Script,
    ToolCall,
    ToolSpan,
    critical_path_s,
)
from bench.workloads._common import (
    Flavor,
    Workload,
    evidence,
    judgement,
    synthesis,
    unexpected,
)
from bench.world import World

__all__ = ["Dependencies"]

_A = re.compile(r"Atlantis population: (\d+)")
_B = re.compile(r"Lemuria area: (\d+)")
_OFFLINE = "the registry is offline"


def _find(pattern: str | re.Pattern[str], text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


def _answer(a: str, r: str, total: str) -> str:
    """The sum as the calc tool states it, so the cited claim says what its source says."""
    return f"A + R = {a} + {r} = {total}."


@dataclass(frozen=True)
class Dependencies(Workload):
    replan: bool = False

    @property
    def name(self) -> str:
        return "b2"

    @property
    def label(self) -> str:
        return "deps + replan" if self.replan else "deps"

    @property
    def task(self) -> str:
        return (
            "Let A be the population of Atlantis and B the area of Lemuria. "
            "Compute C = B * 3 + 7, look up the registry code R for C, and report A + R."
        )

    @property
    def tools(self) -> tuple[str, ...]:
        return ("lookup", "calc")

    def world(self, seed: int, scale: float) -> World:
        broken = frozenset({"registry"}) if self.replan else frozenset()
        return World(seed=seed, scale=scale, broken=broken)

    def score(self, answer: str, world: World) -> dict[str, float]:
        a, r = world.atlantis(), world.registry_code(world.lemuria() * 3 + 7)
        return {"exact": float(_answer(str(a), str(r), str(world.expected_b2())) in answer)}

    def script(self, flavor: Flavor, world: World) -> Script:
        return self._react(flavor) if flavor in ("seq", "par") else self._ponder()

    # -- ReAct peers: the next action follows from what has been observed ------------
    def _react(self, flavor: Flavor) -> Script:
        def reply(turn: ModelTurn) -> Reply:
            t = turn.transcript
            a, b = _find(_A, t), _find(_B, t)
            say = self.say("the sum", turn.index)
            if flavor == "par" and a is None and b is None:
                return Reply(
                    thought=say,
                    calls=(
                        ToolCall("lookup", {"query": "population of Atlantis"}),
                        ToolCall("lookup", {"query": "area of Lemuria"}),
                    ),
                )
            if a is None:
                return Reply(say, (ToolCall("lookup", {"query": "population of Atlantis"}),))
            if b is None:
                return Reply(say, (ToolCall("lookup", {"query": "area of Lemuria"}),))
            c = _find(rf"{b} \* 3 \+ 7 = (\d+)", t)
            if c is None:
                return Reply(say, (ToolCall("calc", {"expression": f"{b} * 3 + 7"}),))
            r = _find(rf"Registry code for {c} is (\d+)", t)
            if r is None:
                mirror = "mirror " if _OFFLINE in t else ""
                query = f"registry {mirror}code for {c}"
                return Reply(say, (ToolCall("lookup", {"query": query}),))
            total = _find(rf"{a} \+ {r} = (\d+)", t)
            if total is None:
                return Reply(say, (ToolCall("calc", {"expression": f"{a} + {r}"}),))
            return Reply(answer=_answer(a, r, total))

        return reply

    # -- Ponder: one plan with placeholders; a replan when the registry fails ----------
    def _ponder(self) -> Script:
        plan = [
            plan_step("s1", "lookup", {"query": "population of Atlantis"}, goal="Find A"),
            plan_step("s2", "lookup", {"query": "area of Lemuria"}, goal="Find B"),
            plan_step(
                "s3", "calc", {"expression": "{{s2}} * 3 + 7"}, goal="Compute C", after=("s2",)
            ),
            plan_step(
                "s4", "lookup", {"query": "registry code for {{s3}}"}, goal="Find R", after=("s3",)
            ),
            plan_step(
                "s5",
                "calc",
                {"expression": "{{s1}} + {{s4}}"},
                goal="Sum A and R",
                after=("s1", "s4"),
            ),
        ]
        fix = [
            plan_step(
                "s6",
                "lookup",
                {"query": "registry mirror code for {{s3}}"},
                goal="Find R",
                after=("s3",),
            ),
            plan_step(
                "s7",
                "calc",
                {"expression": "{{s1}} + {{s6}}"},
                goal="Sum A and R",
                after=("s1", "s6"),
            ),
        ]

        def reply(turn: ModelTurn) -> Reply:
            if turn.role == "Planning" and turn.index == 0:
                return Reply(
                    structured=planning_reply(
                        *plan, reasoning=self.say("plan", 0), triage_reason="needs tools"
                    )
                )
            if turn.role == "Reflection" and turn.index == 0 and self.replan:
                return Reply(structured=judgement("replan", self.say("judge", 0), ("s4",)))
            if turn.role == "Replanning" and turn.index == 0 and self.replan:
                # Keep the slow lookup only if it is still running (a slow model may
                # replan after it finished); the plan digest shows its state.
                running = re.search(r"^s1 \[(pending|retry)\]", turn.transcript, re.M)
                keep = ["s1"] if running else []
                return Reply(
                    structured={"reasoning": self.say("replan", 0), "keep": keep, "steps": fix}
                )
            if turn.role == "Synthesis":
                for sid, text in evidence(turn):
                    m = re.fullmatch(r"(\d+) \+ (\d+) = (\d+)", text.strip())
                    if m:
                        return synthesis([(_answer(*m.groups()), sid)])
            return unexpected(turn)

        return reply

    # -- the critical path, by the formula every framework shares -----------------------
    def ideal_s(self, flavor: Flavor, calls: list[CallRecord], spans: list[ToolSpan]) -> float:
        """`critical_path_s` of the run: the same formula whatever the framework."""
        return critical_path_s(calls, spans)
