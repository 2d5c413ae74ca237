"""The compact plan grammar, run by llama.cpp's own grammar sampler over the demo vocabulary.

A reply is fed token by token (the demo model's tokenizer) through
``llama_sampler_init_grammar``: each token must be allowed where it comes, and
the end of generation must be allowed after the last one, exactly as when the
model writes it.
"""

from __future__ import annotations

import ctypes
import json
import math
from typing import Any

import pytest
from langchain_core.tools import StructuredTool

from agent.compact_plan import parse_plan
from agent.models._grammar import schema_gbnf
from agent.plan_rules import Planning, planning_json_schema
from agent.toolset import Toolset
from tests.models.conftest import needs_llama


def _toolset() -> Toolset:
    def search(query: str, k: int = 5) -> str:
        return query

    def read(path: str, section: str | None = None) -> str:
        return path

    return Toolset(
        [
            StructuredTool.from_function(search, name="corpus_search", description="search"),
            StructuredTool.from_function(read, name="read_document", description="read"),
        ]
    )


def _accepts(engine: Any, gbnf: str, text: str) -> bool:
    c = engine._llama_cpp
    llama = engine.llama
    vocab = llama._model.vocab
    sampler = c.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
    assert sampler, "llama.cpp rejected the grammar"
    one = c.llama_token_data(id=0, logit=1.0, p=0.0)
    array = c.llama_token_data_array(data=ctypes.pointer(one), size=1, selected=-1, sorted=False)

    def allowed(token: int) -> bool:
        one.id, one.logit, one.p = token, 1.0, 0.0
        array.size, array.selected, array.sorted = 1, -1, False
        c.llama_sampler_apply(sampler, ctypes.byref(array))
        return not math.isinf(one.logit)

    try:
        for token in llama.tokenize(text.encode(), add_bos=False, special=False):
            if not allowed(token):
                return False
            c.llama_sampler_accept(sampler, token)
        return allowed(int(llama.token_eos()))
    finally:
        c.llama_sampler_free(sampler)


def _reply(plan: str, reasoning: str = "Search, then read.") -> str:
    fields = {
        "mode": "research",
        "depth": "low",
        "triage_reason": "needs the docs",
        "reasoning": reasoning,
        "plan": plan,
    }
    return json.dumps(fields, separators=(",", ":"))


GOOD = [
    "s1 = corpus_search(query='gather exceptions') # find gather\n"
    "s2 = read_document(path={{s1}}) # read it\n"
    "s3 = corpus_search(query='TaskGroup # errors', k=3) # find TaskGroup\n"
    "s4 = read_document(path='{{s3.url}}', section='Errors') after s2 # read that",
    "s1 = corpus_search(query='asyncio') # look\n"
    "s2 = read_document(path={{item.url}}) for s1.results[:3] # read each\n"
    "s3 = corpus_search(query='{{s2 | the class name}} docs') # look again\n"
    "s4 = read_document(path={{s3}}) after s1,s2 # read",
    "s1 = corpus_search(query='asyncio') # look\n"
    "s2 = read_document(path={{s1}}, section=None) # read all of it\n"
    "s3 = corpus_search(query='TaskGroup') # look again\n"
    "s4 = read_document(path={{s3}}, section='Errors') # read that part",
]
BAD = {
    "unknown tool": GOOD[0].replace("corpus_search(query='gather", "web_search(query='gather"),
    "unknown argument": GOOD[0].replace("(query='gather", "(q='gather"),
    "a number where text goes": GOOD[0].replace("query='gather exceptions'", "query=7"),
    "text where a number goes": GOOD[0].replace("k=3", "k='3'"),
    "a later step's result": GOOD[0].replace("path={{s1}}", "path={{s3}}"),
    "its own result": GOOD[0].replace("path={{s1}}", "path={{s2}}"),
    "ids out of order": GOOD[0].replace("s2 = read", "s7 = read"),
    "no goal": GOOD[0].replace(" # find gather", ""),
    "unquoted text": GOOD[0].replace("'gather exceptions'", "gather"),
    "fan-out over a later step": GOOD[1].replace("for s1.results", "for s3.results"),
    "a fifth step": GOOD[0] + "\ns5 = corpus_search(query='x') # more",
    "a missing step": GOOD[0].rsplit("\n", 1)[0],
    "an item outside a fan-out": GOOD[0].replace("path={{s1}}", "path={{item.url}}"),
    "a fan-out that never uses its item": GOOD[1].replace("path={{item.url}}", "path={{s1}}"),
    # `section: str | None` takes text or None, never a number (the demo model wrote one)
    "a number where optional text goes": GOOD[0].replace("section='Errors'", "section=3"),
    "a goal that runs into the next step": GOOD[0].replace(
        "# find gather\n", "# find gather s2 = read_document(path={{s1}}) # more\n"
    ),
}


def _grammar() -> str:
    schema = planning_json_schema(
        _toolset(), max_steps=4, triage=True, allow_direct=False, ordered=True, compact=True
    )
    return schema_gbnf(schema)


@pytest.mark.parametrize("plan", GOOD)
def test_the_good_plans_parse(plan: str) -> None:
    value = Planning.model_validate_json(_reply(plan))
    assert [s.id for s in value.steps] == ["s1", "s2", "s3", "s4"]
    assert len(parse_plan(plan)) == 4


@needs_llama
@pytest.mark.parametrize("plan", GOOD, ids=["placeholders", "for-each", "optional-none"])
def test_llama_cpp_accepts_valid_compact_plans(demo: Any, plan: str) -> None:
    assert _accepts(demo.load(), _grammar(), _reply(plan))


@needs_llama
@pytest.mark.parametrize("problem", sorted(BAD))
def test_llama_cpp_rejects_invalid_compact_plans(demo: Any, problem: str) -> None:
    assert not _accepts(demo.load(), _grammar(), _reply(BAD[problem])), problem


@needs_llama
@pytest.mark.timeout(120)
async def test_the_demo_model_plans_compactly_and_a_step_starts_before_the_plan_ends() -> None:
    """The README's model, planning through the real graph: its compact plan is valid by
    construction, and the first step is dispatched while later lines are still written."""
    import uuid

    from agent.events import parse_event
    from agent.models.demo import demo_model
    from agent.settings import Settings
    from bench.simtools import make_tools
    from bench.world import World
    from graphs.research import build_research_graph

    model = demo_model()
    graph = build_research_graph(
        model,
        make_tools(World(seed=0, scale=0.0), ["web_search", "fetch_url"]),
        settings=Settings(effort="medium"),  # plan_format auto: compact under llama.cpp
    )
    config: Any = {"configurable": {"thread_id": uuid.uuid4().hex}}
    seen: list[str] = []
    plan: Any = None
    task = "What was the 2024 population of Aldmere and of Brisca?"
    async for chunk in graph.astream({"task": task}, config, stream_mode="custom"):
        event = parse_event(chunk)
        seen.append(event.type)
        if event.type == "plan":
            plan = event
            break
    assert plan is not None, seen
    assert "step_started" in seen[: seen.index("plan")], "no step started before the plan ended"
    assert plan.steps and all(s.tool in ("web_search", "fetch_url") for s in plan.steps)
