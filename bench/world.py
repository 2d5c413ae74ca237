"""The simulated world behind the benchmark's tools: seeded data and seeded latency.

Every framework in a repetition sees the same world (same seed), so the same
query takes the same time and returns the same text for all of them. Latency
is real time (sleeps) scaled by the run's time scale; the tool bodies are
shared by the LangChain/Ponder tools (`bench.simtools`) and the smolagents
tools (`bench.smol_tools`).
"""

from __future__ import annotations

import ast
import operator
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.observation import Observation, Passage
from bench.meter import ToolMeter

__all__ = ["NOOP_TEXT", "PLACES", "World", "thought"]

# What the no-op tool says (and what an answer citing it says).
NOOP_TEXT = "The no-op tool ran."

PLACES = (
    "Aldmere", "Brisca", "Corvan", "Dunhollow", "Elsbury", "Farrowgate", "Glimmerton",
    "Harrowick", "Istonia", "Jorvale", "Kestrel Bay", "Lindqvist", "Marrowdeep",
    "Northfen", "Oakhaven", "Pellucid", "Quarrystone", "Rookmoor", "Saltmarsh", "Thistlewick",
)  # fmt: skip

_WORDS = (
    "the",
    "council",
    "archive",
    "records",
    "harbour",
    "trade",
    "river",
    "valley",
    "census",
    "survey",
    "district",
    "growth",
    "report",
    "annual",
    "market",
    "bridge",
    "station",
    "school",
    "history",
    "founded",
    "century",
    "northern",
    "southern",
    "industry",
    "farming",
    "museum",
    "library",
    "festival",
    "tourism",
    "rail",
    "road",
)


def thought(topic: str, turn: int) -> str:
    """The same amount of visible reasoning for every turn, every framework (~40 tokens)."""
    rng = random.Random(f"thought:{topic}:{turn}")
    head = f"Step {turn}: considering {topic}; "
    words = [rng.choice(_WORDS) for _ in range(40)]
    return (head + " ".join(words))[:160]


def _filler(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(12)).capitalize() + "."
        out.append(sentence)
        size += len(sentence) + 1
    return " ".join(out)[:chars].rstrip() + "."


_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def _arith(node: ast.AST) -> int:
    if isinstance(node, ast.Expression):
        return _arith(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.left), _arith(node.right))
    raise ValueError(f"not integer arithmetic: {ast.dump(node)[:80]}")


@dataclass
class World:
    """Seeded facts and latencies; ``scale`` multiplies every sleep."""

    seed: int = 0
    scale: float = 1.0
    meter: ToolMeter = field(default_factory=ToolMeter)
    broken: frozenset[str] = frozenset()  # lookup queries that fail (scripted replans)
    base: str = "https://facts.example"  # where the fact pages live (a loopback server, or none)

    # -- B1: search, then fetch ------------------------------------------------------
    def search_latency(self, query: str) -> float:
        return random.Random(f"{self.seed}:search:{query}").uniform(0.3, 0.8) * self.scale

    def fetch_latency(self, url: str) -> float:
        return random.Random(f"{self.seed}:fetch:{url}").uniform(0.15, 0.4) * self.scale

    def url_for(self, place: str) -> str:
        return f"{self.base}/{place.lower().replace(' ', '-')}"

    @staticmethod
    def population(place: str) -> str:
        n = random.Random(f"pop:{place}").randint(10_000, 990_000)
        return f"{n:,}"

    def search(self, query: str) -> Observation:
        place = next((p for p in PLACES if p.lower() in query.lower()), query.strip())
        rng = random.Random(f"serp:{query}")
        results = [
            (f"{place}: facts and figures", self.url_for(place)),
            (f"Visiting {place}", f"https://travel.example/{place.lower().replace(' ', '-')}"),
            (f"{place} on the map", f"https://maps.example/?q={place.replace(' ', '+')}"),
        ]
        passages, lines = [], []
        for i, (title, url) in enumerate(results, start=1):
            snippet = f"{title}. " + _filler(rng, 150)
            passages.append(Passage(ref=url, title=title, text=snippet))
            lines.append(f"{i}. {title}\n   {url}\n   {snippet}")
        return Observation(
            tool="web_search",
            ok=True,
            content="\n".join(lines),
            passages=tuple(passages),
            value=results[0][1],
            fields={"url": results[0][1], "title": results[0][0]},
            untrusted=True,
            via="simulated",
        )

    def page(self, place: str) -> list[str]:
        """The paragraphs of a place's fact page (the same whatever the seed)."""
        rng = random.Random(f"page:{place}")
        fact = f"The 2024 population of {place} was {self.population(place)}."
        return [
            f"{place}. " + _filler(rng, 300),
            _filler(rng, 200) + " " + fact + " " + _filler(rng, 250),
            _filler(rng, 780),
        ]

    def fetch(self, url: str) -> Observation:
        place = next((p for p in PLACES if self.url_for(p) == url.strip()), None)
        if place is None:
            return Observation.failure("fetch_url", "not_found", f"no page at {url}")
        paragraphs = self.page(place)
        text = "\n\n".join(paragraphs)
        passages, start = [], 0
        for para in paragraphs:
            passages.append(
                Passage(ref=url, title=place, text=para, start=start, end=start + len(para))
            )
            start += len(para) + 2
        return Observation(
            tool="fetch_url",
            ok=True,
            content=text,
            passages=tuple(passages),
            documents={url: text},
            value=text,
            untrusted=True,
            via="simulated",
        )

    # -- B2: lookups and arithmetic along a dependency graph -------------------------
    def lookup_latency(self, query: str) -> float:
        return (2.0 if "atlantis" in query.lower() else 0.1) * self.scale

    def atlantis(self) -> int:
        return 1000 + (self.seed * 7919) % 9000

    def lemuria(self) -> int:
        return 100 + (self.seed * 104729) % 800

    @staticmethod
    def registry_code(n: int) -> int:
        return (n * 31) % 97 + 10

    def lookup(self, query: str) -> Observation:
        q = query.lower().strip()
        text: str | None = None
        if "population of atlantis" in q:
            value, text = self.atlantis(), f"Atlantis population: {self.atlantis()} (census)"
        elif "area of lemuria" in q:
            value, text = self.lemuria(), f"Lemuria area: {self.lemuria()} km2"
        elif m := re.search(r"registry (mirror )?code for (\d+)", q):
            if not m.group(1) and "registry" in self.broken:
                return Observation.failure("lookup", "not_found", "the registry is offline")
            value = self.registry_code(int(m.group(2)))
            text = f"Registry code for {m.group(2)} is {value}"
        if text is None:
            return Observation.failure("lookup", "not_found", f"nothing known about {query!r}")
        passage = Passage(ref=f"lookup:{q}", title="lookup", text=text, start=0, end=len(text))
        return Observation(
            tool="lookup",
            ok=True,
            content=text,
            passages=(passage,),
            documents={passage.ref: text},
            value=str(value),
            via="simulated",
        )

    def calc(self, expression: str) -> Observation:
        try:
            value = _arith(ast.parse(expression.strip(), mode="eval"))
        except (SyntaxError, ValueError, ZeroDivisionError) as exc:
            return Observation.failure("calc", "invalid_input", str(exc))
        text = f"{expression.strip()} = {value}"
        ref = f"calc:{expression.strip()}"
        passage = Passage(ref=ref, title="calc", text=text, start=0, end=len(text))
        return Observation(
            tool="calc",
            ok=True,
            content=text,
            passages=(passage,),
            documents={ref: text},
            value=str(value),
            via="simulated",
        )

    def expected_b2(self) -> int:
        return self.atlantis() + self.registry_code(self.lemuria() * 3 + 7)

    # -- B4: a chain of large records --------------------------------------------------
    @staticmethod
    def next_key(key: str) -> str:
        return f"k{int(key.lstrip('k') or 0) + 1}"

    def record(self, key: str, chars: int = 8000) -> Observation:
        rng = random.Random(f"record:{key}")
        nxt = self.next_key(key)
        # The sentence the answer cites: it must say the whole claim, key to key.
        text = f"Record {key} names the next key: {nxt}. " + _filler(rng, chars - 40)
        ref = f"record:{key}"
        passage = Passage(ref=ref, title=key, text=text[:2000], start=0, end=2000)
        return Observation(
            tool="read_record",
            ok=True,
            content=text,
            passages=(passage,),
            documents={ref: text},
            value=nxt,
            fields={"next": nxt},
            via="simulated",
        )
