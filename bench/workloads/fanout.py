"""B1 fan-out: N independent sub-questions, each a search then a fetch of the top result.

Scripts:

- ``seq``: one tool call per turn (search 1, fetch 1, search 2, ...), then the answer;
- ``par``: all N searches in one turn, all N fetches in the next, then the answer;
- ``ponder``: one plan (searches first, then fetches filling ``{{sK}}`` with the
  top URL), then the cited answer. Within Ponder's shipped plan caps
  (`agent.settings.DEPTHS`): a fan-out that fits depth "medium" is one plan;
  one that fits only "high" is one plan judged once when it finishes; a larger
  one is planned in batches, a replan per batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from agent.settings import DEPTHS
from agent.testing import plan_step, planning_reply
from bench.meter import ModelTurn, Reply, Script, ToolCall
from bench.workloads._common import (
    Flavor,
    ScriptError,
    Workload,
    evidence,
    judgement,
    synthesis,
    unexpected,
)
from bench.world import PLACES, World

__all__ = ["FanOut"]


def _sentence(place: str, population: str) -> str:
    """The fact as its page states it, so a cited claim says what its source says."""
    return f"The 2024 population of {place} was {population}."


def _facts(text: str, places: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for place in places:
        m = re.search(rf"The 2024 population of {re.escape(place)} was ([\d,]+)\.", text)
        if m:
            found[place] = m.group(1)
    return found


def _url(place: str, transcript: str, world: World) -> str:
    url = world.url_for(place)
    if url not in transcript:
        raise ScriptError(f"the search result for {place} is not in the model's context")
    return url


_CHECKSUM = re.compile(r"\b(\d{12,})\b")


def _checksum(text: str) -> str | None:
    m = _CHECKSUM.search(text)
    return m.group(1) if m else None


@dataclass(frozen=True)
class FanOut(Workload):
    """``real=True``: pages come from a loopback server at ``base`` through the real
    fetch tool, and one more independent step runs ``CODE`` in the real sandbox."""

    n: int
    real: bool = False
    base: str = "https://facts.example"

    @property
    def name(self) -> str:
        return "b1"

    # The sandbox prints the whole sentence the answer cites, not a bare number.
    CODE = 'print(f"The checksum is {sum(i * i for i in range(300000))}.")'

    @property
    def label(self) -> str:
        return f"fan-out N={self.n}" + (" real tools" if self.real else "")

    @property
    def places(self) -> tuple[str, ...]:
        return tuple(PLACES[i % len(PLACES)] for i in range(self.n))

    @property
    def task(self) -> str:
        return "What was the 2024 population of each of: " + ", ".join(self.places) + "?"

    @property
    def tools(self) -> tuple[str, ...]:
        return ("web_search", "fetch_url", "python") if self.real else ("web_search", "fetch_url")

    def world(self, seed: int, scale: float) -> World:
        return World(seed=seed, scale=scale, base=self.base)

    def max_steps(self) -> int:
        return 2 * self.n + 8

    def score(self, answer: str, world: World) -> dict[str, float]:
        right = sum(1 for p in self.places if _sentence(p, World.population(p)) in answer)
        out: dict[str, float] = {"facts": right, "facts_of": self.n}
        if self.real:
            expected = str(sum(i * i for i in range(300000)))
            out["exact"] = float(f"The checksum is {expected}." in answer)
        return out

    def script(self, flavor: Flavor, world: World) -> Script:
        if flavor in ("seq", "par"):
            return self._react(flavor, world)
        return self._ponder(world)

    # -- ReAct peers ---------------------------------------------------------------
    def _answer(self, facts: dict[str, str], text: str) -> str:
        lines = [_sentence(p, facts[p]) for p in self.places if p in facts]
        checksum = _checksum(text) if self.real else None
        if checksum:
            lines.append(f"The checksum is {checksum}.")
        return "\n".join(lines)

    def _react(self, flavor: Flavor, world: World) -> Script:
        places = self.places
        code = (ToolCall("python", {"code": self.CODE}),) if self.real else ()

        def answer(turn: ModelTurn) -> Reply:
            return Reply(answer=self._answer(_facts(turn.transcript, places), turn.transcript))

        def seq(turn: ModelTurn) -> Reply:
            i = turn.index
            if i == 2 * len(places) and code:
                return Reply(thought=self.say("checksum", i), calls=code)
            if i >= 2 * len(places):
                return answer(turn)
            place = places[i // 2]
            call = (
                ToolCall("web_search", {"query": f"population of {place}"})
                if i % 2 == 0
                else ToolCall("fetch_url", {"url": _url(place, turn.transcript, world)})
            )
            return Reply(thought=self.say(place, i), calls=(call,))

        def par(turn: ModelTurn) -> Reply:
            topic = "all places"
            if turn.index == 0:
                searches = tuple(
                    ToolCall("web_search", {"query": f"population of {p}"}) for p in places
                )
                calls = searches + code
            elif turn.index == 1:
                calls = tuple(
                    ToolCall("fetch_url", {"url": _url(p, turn.transcript, world)}) for p in places
                )
            else:
                return answer(turn)
            return Reply(thought=self.say(topic, turn.index), calls=calls)

        return seq if flavor == "seq" else par

    # -- Ponder --------------------------------------------------------------------
    def _batches(self) -> tuple[Literal["medium", "high"], list[list[str]]]:
        places = list(self.places)
        extra = 1 if self.real else 0
        medium, high = DEPTHS["medium"].max_plan_steps, DEPTHS["high"].max_plan_steps
        if 2 * len(places) + extra <= medium:
            return "medium", [places]
        if 2 * len(places) + extra <= high:
            return "high", [places]
        size = (high - extra) // 2
        return "high", [places[i : i + size] for i in range(0, len(places), size)]

    def _ponder(self, world: World) -> Script:
        depth, batches = self._batches()
        places = self.places

        def steps(batch_no: int) -> list[dict[str, Any]]:
            first = 1 + 2 * sum(len(b) for b in batches[:batch_no])
            batch = batches[batch_no]
            out = [
                plan_step(
                    f"s{first + j}", "web_search", {"query": f"population of {p}"}, goal=f"Find {p}"
                )
                for j, p in enumerate(batch)
            ]
            for j, p in enumerate(batch):
                search_id, sid = f"s{first + j}", f"s{first + len(batch) + j}"
                out.append(
                    plan_step(
                        sid,
                        "fetch_url",
                        {"url": f"{{{{{search_id}}}}}"},
                        goal=f"Read {p}",
                        after=(search_id,),
                    )
                )
            return out

        def reply(turn: ModelTurn) -> Reply:
            if turn.role == "Planning" and turn.index == 0:
                first = steps(0)
                if self.real:
                    sid = f"s{len(first) + 1}"
                    first.append(plan_step(sid, "python", {"code": self.CODE}, goal="Checksum"))
                return Reply(
                    structured=planning_reply(
                        *first,
                        reasoning=self.say("plan", 0),
                        depth=depth,
                        triage_reason="needs tools",
                    )
                )
            if turn.role == "Reflection":
                more = turn.index + 1 < len(batches)
                decision = "replan" if more else "finish"
                return Reply(structured=judgement(decision, self.say("judge", turn.index)))
            if turn.role == "Replanning" and turn.index + 1 < len(batches):
                batch = turn.index + 1
                return Reply(
                    structured={
                        "reasoning": self.say("replan", batch),
                        "keep": [],
                        "steps": steps(batch),
                    }
                )
            if turn.role == "Synthesis":
                order = {p: i for i, p in enumerate(places)}
                found = sorted(
                    (order[place], _sentence(place, pop), sid)
                    for sid, text in evidence(turn)
                    for place, pop in _facts(text, places).items()
                )
                claims = [(sentence, sid) for _, sentence, sid in found]
                for sid, text in evidence(turn):
                    checksum = _checksum(text) if self.real else None
                    if checksum:
                        claims.append((f"The checksum is {checksum}.", sid))
                return synthesis(claims)
            return unexpected(turn)

        return reply
