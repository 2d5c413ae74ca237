"""ChatLlamaCpp against the real SmolLM2-135M demo model (2 cores: replies kept short)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
from typing import Any, Literal

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from agent.models.llamacpp import ChatLlamaCpp
from agent.plan import STEP_ID, Plan

pytestmark = [pytest.mark.demo_model]


class City(BaseModel):
    """A city and a few facts about it."""

    name: str = Field(description="the city's name", max_length=40)
    country: str = Field(max_length=40)
    size: Literal["small", "medium", "large"]
    founded: int | None = Field(description="year founded, if known")
    code: str = Field(pattern=r"^[A-Z]{3}$", description="three-letter code")


VERDICT = {
    "title": "Verdict",
    "description": "Judge a claim.",
    "type": "object",
    "properties": {
        "supported": {"type": "boolean"},
        "kind": {"enum": ["fact", "opinion", "unknown"]},
        "confidence": {
            "anyOf": [{"type": "integer", "minimum": 0, "maximum": 10}, {"type": "null"}]
        },
        "reason": {"anyOf": [{"type": "string", "maxLength": 80}, {"type": "null"}]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 3},
    },
    "required": ["supported", "kind", "confidence", "reason", "tags"],
}


def assert_verdict(value: Any) -> None:
    assert isinstance(value, dict) and set(value) == set(VERDICT["properties"])
    assert isinstance(value["supported"], bool)
    assert value["kind"] in ("fact", "opinion", "unknown")
    assert value["confidence"] is None or (
        isinstance(value["confidence"], int) and 0 <= value["confidence"] <= 10
    )
    reason = value["reason"]
    assert reason is None or (isinstance(reason, str) and len(reason) <= 80)
    assert isinstance(value["tags"], list) and len(value["tags"]) <= 3
    assert all(isinstance(t, str) and len(t) <= 20 for t in value["tags"])


class SearchArgs(BaseModel):
    query: str = Field(max_length=80, description="what to search for")


class CalcArgs(BaseModel):
    # Bounded strings keep a tiny model from writing an endless argument.
    expression: str = Field(max_length=40, description="an arithmetic expression")
    precision: int = Field(default=2, ge=0, le=6)


@tool(args_schema=SearchArgs)
def web_search(query: str) -> str:
    """Search the web for pages about a query."""
    return query


@tool(args_schema=CalcArgs)
def calculator(expression: str, precision: int = 2) -> str:
    """Evaluate an arithmetic expression."""
    return expression


# -- plain chat -------------------------------------------------------------------------


def test_invoke_returns_text_with_usage(demo: ChatLlamaCpp) -> None:
    reply = demo.invoke("What is the capital of France? Answer in one sentence.", max_tokens=24)
    assert isinstance(reply, AIMessage) and reply.content.strip()
    usage = reply.usage_metadata
    assert usage is not None and usage["input_tokens"] > 10
    assert 0 < usage["output_tokens"] <= 24
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert reply.response_metadata["finish_reason"] in ("stop", "length")
    assert reply.response_metadata["model_name"].endswith(".gguf")


def test_usage_matches_llama_cpp_own_count(demo: ChatLlamaCpp) -> None:
    """Same prompt, greedy sampling, through llama-cpp-python's chat API: same text and counts."""
    question = "Name a primary colour."
    reply = demo.invoke(question, temperature=0.0, max_tokens=16, repeat_penalty=1.0, seed=3)
    engine = demo.load()
    with engine.lock:
        engine.llama.reset()
        theirs = engine.llama.create_chat_completion(
            messages=[{"role": "user", "content": question}],
            temperature=0.0,
            max_tokens=16,
            repeat_penalty=1.0,
            seed=3,
        )
    assert reply.content == theirs["choices"][0]["message"]["content"]
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["input_tokens"] == theirs["usage"]["prompt_tokens"]
    assert reply.usage_metadata["output_tokens"] == theirs["usage"]["completion_tokens"]


def test_stream_yields_pieces_and_usage_on_the_last_chunk(demo: ChatLlamaCpp) -> None:
    chunks = list(demo.stream("List three fruits.", max_tokens=20, seed=11))
    assert len(chunks) > 3 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert [c.usage_metadata is not None for c in chunks] == [False] * (len(chunks) - 1) + [True]
    whole = demo.invoke("List three fruits.", max_tokens=20, seed=11)
    assert "".join(str(c.content) for c in chunks) == whole.content
    assert chunks[-1].usage_metadata == whole.usage_metadata


async def test_async_invoke_and_stream(demo: ChatLlamaCpp) -> None:
    reply = await demo.ainvoke("Say hello.", max_tokens=8, seed=5)
    assert reply.usage_metadata is not None and reply.content
    parts = [c async for c in demo.astream("Say hello.", max_tokens=8, seed=5)]
    assert "".join(str(p.content) for p in parts) == reply.content
    assert parts[-1].usage_metadata == reply.usage_metadata


async def test_leaving_a_stream_early_releases_the_model(demo: ChatLlamaCpp) -> None:
    stream = demo.astream("Write a long story about a dragon.", max_tokens=400)
    async for _ in stream:
        break
    await stream.aclose()
    # If the worker still held the lock this would hang until pytest's timeout.
    reply = await asyncio.wait_for(demo.ainvoke("Hi", max_tokens=4), timeout=120)
    assert reply.usage_metadata is not None


def test_cancel_stops_a_long_prompt_evaluation_within_a_second(demo: ChatLlamaCpp) -> None:
    """Ctrl-C reaches a call that is still reading its prompt: the prompt is evaluated
    in short slices with the cancel flag checked between them."""
    from agent.models._llama_engine import Finish, Sampling

    engine = demo.load()
    long_prompt = [{"role": "user", "content": "gather exceptions TaskGroup " * 400}]
    sampling = Sampling(0.2, 0.95, 40, 0.05, 1.1, max_tokens=8, seed=0)
    cancel = threading.Event()
    outcome: list[object] = []

    def generate() -> None:
        outcome.extend(engine.generate(long_prompt, sampling, cancel=cancel))

    worker = threading.Thread(target=generate)
    worker.start()
    time.sleep(0.5)
    cancelled_at = time.monotonic()
    cancel.set()
    worker.join(timeout=30)
    took = time.monotonic() - cancelled_at
    assert not worker.is_alive()
    assert took < 1.0, f"the prompt kept being evaluated for {took:.2f}s after cancel"
    finish = outcome[-1]
    assert isinstance(finish, Finish) and finish.reason == "cancelled"
    assert finish.completion_tokens == 0
    # The model is usable again, and the half-read prompt does not leak into it.
    assert demo.invoke("Hi", max_tokens=4).usage_metadata is not None


def test_concurrent_calls_are_serialised_not_corrupted(demo: ChatLlamaCpp) -> None:
    expected = demo.invoke("Name an animal.", max_tokens=10, seed=9).content
    results: list[Any] = []

    def call() -> None:
        results.append(demo.invoke("Name an animal.", max_tokens=10, seed=9).content)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 3


def test_seed_makes_replies_repeatable(demo: ChatLlamaCpp) -> None:
    prompt = [
        SystemMessage("You write short, vivid sentences."),
        HumanMessage("Write one sentence about rain."),
    ]
    first = demo.invoke(prompt, seed=42, temperature=1.0, max_tokens=20).content
    # Same prompt again (its prefix is now cached), then after a different prompt.
    assert demo.invoke(prompt, seed=42, temperature=1.0, max_tokens=20).content == first
    demo.invoke("Something else entirely.", max_tokens=5)
    assert demo.invoke(prompt, seed=42, temperature=1.0, max_tokens=20).content == first
    others = {
        demo.invoke(prompt, seed=s, temperature=1.0, max_tokens=20).content for s in (1, 2, 3)
    }
    assert len(others | {first}) > 1


def test_system_and_history_reach_the_prompt(demo: ChatLlamaCpp) -> None:
    short = demo.get_num_tokens_from_messages([HumanMessage("hi")])
    longer = demo.get_num_tokens_from_messages(
        [
            SystemMessage("You are terse."),
            HumanMessage("hi"),
            AIMessage("", tool_calls=[{"name": "web_search", "args": {"query": "x"}, "id": "c1"}]),
        ]
    )
    assert longer > short > 0
    assert demo.get_num_tokens("hello world") >= 2


def test_with_options_shares_the_loaded_model(demo: ChatLlamaCpp) -> None:
    cold = demo.with_options(temperature=0.0, max_tokens=8)
    assert cold.temperature == 0.0 and cold.load() is demo.load()
    with pytest.raises(ValueError):
        demo.with_options(max_tokens=0)


def test_unknown_call_options_are_rejected(demo: ChatLlamaCpp) -> None:
    with pytest.raises(TypeError, match="unsupported options"):
        demo.invoke("hi", frobnicate=True)


# -- structured output ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_pydantic_schema_gives_valid_instances(demo: ChatLlamaCpp, method: str) -> None:
    structured = demo.with_structured_output(City, method=method)  # type: ignore[arg-type]
    for question in ("Tell me about Paris.", "Describe Tokyo.", "What about a tiny village?"):
        city = structured.invoke(question)
        assert isinstance(city, City)
        assert re.fullmatch(r"[A-Z]{3}", city.code)


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_dict_schema_with_enums_and_anyof_is_always_valid(demo: ChatLlamaCpp, method: str) -> None:
    structured = demo.with_structured_output(VERDICT, method=method)  # type: ignore[arg-type]
    for claim in ("The sky is green.", "Cats are the best pets.", "Water boils at 100 C."):
        assert_verdict(structured.invoke(f"Claim: {claim}"))


def test_a_complex_schema_with_patterns_and_nesting(demo: ChatLlamaCpp) -> None:
    plan = demo.with_structured_output(Plan).invoke(
        "Plan how to find the population of Norway. Use the tool web_search.", max_tokens=600
    )
    assert isinstance(plan, Plan)
    assert all(re.fullmatch(STEP_ID, step.id) for step in plan.steps)


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_dict_schema_streams_growing_partial_dicts(demo: ChatLlamaCpp, method: str) -> None:
    structured = demo.with_structured_output(VERDICT, method=method)  # type: ignore[arg-type]
    parts = list(structured.stream("Claim: the moon is made of cheese.", seed=4))
    assert len(parts) > 2 and all(isinstance(p, dict) for p in parts)
    assert len(parts[0]) < len(parts[-1])
    assert_verdict(parts[-1])
    assert parts[-1] == structured.invoke("Claim: the moon is made of cheese.", seed=4)


def test_json_mode_gives_some_json_object(demo: ChatLlamaCpp) -> None:
    prompt = [
        SystemMessage('Reply with a JSON object like {"animal": "dog", "legs": 4}.'),
        HumanMessage("A cat."),
    ]
    value = demo.with_structured_output(VERDICT, method="json_mode").invoke(prompt, max_tokens=100)
    assert isinstance(value, dict) and value


def test_include_raw_returns_message_and_parsed(demo: ChatLlamaCpp) -> None:
    out = demo.with_structured_output(City, include_raw=True).invoke("Tell me about Rome.")
    assert isinstance(out, dict) and out["parsing_error"] is None
    assert isinstance(out["parsed"], City)
    assert isinstance(out["raw"], AIMessage) and out["raw"].usage_metadata is not None


def test_json_cut_off_by_max_tokens_raises_instead_of_passing_a_fragment(demo: ChatLlamaCpp):
    with pytest.raises(OutputParserException, match="max_tokens=6"):
        demo.with_structured_output(VERDICT).invoke("Claim: it rains.", max_tokens=6)
    forced = demo.bind_tools([calculator], tool_choice="calculator")
    with pytest.raises(OutputParserException):
        forced.invoke("What is 2+2?", max_tokens=4)


# -- tools ------------------------------------------------------------------------------


def test_forced_tool_call_has_schema_valid_args(demo: ChatLlamaCpp) -> None:
    bound = demo.bind_tools([web_search, calculator], tool_choice="calculator")
    reply = bound.invoke("What is 17 times 23?")
    assert reply.content == "" and len(reply.tool_calls) == 1
    call = reply.tool_calls[0]
    assert call["name"] == "calculator" and call["id"]
    assert isinstance(call["args"]["expression"], str) and len(call["args"]["expression"]) <= 40
    assert set(call["args"]) <= {"expression", "precision"}
    assert call["args"].get("precision", 2) in range(7)
    assert reply.response_metadata["finish_reason"] == "tool_calls"
    calculator.invoke(call)  # the tool itself accepts the arguments


def test_any_with_one_tool_forces_it_and_streams_argument_chunks(demo: ChatLlamaCpp) -> None:
    bound = demo.bind_tools([web_search], tool_choice="any")
    chunks = list(bound.stream("Find the weather in Oslo."))
    calls = [c.tool_call_chunks[0] for c in chunks if c.tool_call_chunks]
    assert len(calls) > 1
    assert calls[0]["name"] == "web_search" and calls[0]["id"]
    assert all(c["name"] is None and c["id"] is None for c in calls[1:])
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.tool_calls[0]["name"] == "web_search"
    assert isinstance(merged.tool_calls[0]["args"]["query"], str)


def test_any_with_several_tools_picks_one_of_them(demo: ChatLlamaCpp) -> None:
    bound = demo.bind_tools([web_search, calculator], tool_choice="required")
    for question in ("What is 3+4?", "Who won the 2018 World Cup?"):
        reply = bound.invoke(question, max_tokens=120)
        assert len(reply.tool_calls) == 1
        call = reply.tool_calls[0]
        assert call["name"] in ("web_search", "calculator")
        (web_search if call["name"] == "web_search" else calculator).invoke(call)


def test_auto_tool_choice_gives_text_or_a_valid_call(demo: ChatLlamaCpp) -> None:
    bound = demo.bind_tools([web_search, calculator])
    for question in ("Hi there!", "Search the web for the tallest building."):
        reply = bound.invoke(question, max_tokens=80)
        if reply.tool_calls:
            assert reply.content == ""
            assert reply.tool_calls[0]["name"] in ("web_search", "calculator")
        else:
            assert isinstance(reply.content, str) and not reply.content.startswith("{")


def test_tool_choice_none_and_unknown_names(demo: ChatLlamaCpp) -> None:
    reply = demo.bind_tools([web_search], tool_choice="none").invoke("Hi", max_tokens=8)
    assert not reply.tool_calls and reply.content
    with pytest.raises(ValueError, match="names no bound tool"):
        demo.bind_tools([web_search], tool_choice="calculator")


def test_tool_history_round_trip(demo: ChatLlamaCpp) -> None:
    from langchain_core.messages import ToolMessage

    history = [
        HumanMessage("What is 2+2?"),
        AIMessage(
            "", tool_calls=[{"name": "calculator", "args": {"expression": "2+2"}, "id": "call_1"}]
        ),
        ToolMessage("4", tool_call_id="call_1", name="calculator"),
    ]
    reply = demo.invoke(history, max_tokens=16)
    assert isinstance(reply.content, str) and reply.content


# -- the demo model ---------------------------------------------------------------------


def test_demo_model_prints_nothing_and_is_loaded_once() -> None:
    code = (
        "from agent.models.demo import demo_model\n"
        "m = demo_model()\n"
        "assert m is demo_model()\n"
        "m.invoke('hi', max_tokens=3)\n"
        "schema = {'title': 'T', 'type': 'object', 'properties': {'a': {'type': 'boolean'}},"
        " 'required': ['a']}\n"
        "assert isinstance(m.with_structured_output(schema).invoke('Is it?')['a'], bool)\n"
        "from agent.errors import ConfigError\n"
        "try:\n"
        "    m.load()._grammar('root ::= nope')\n"
        "except ConfigError:\n"
        "    pass\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
