"""Compact plans: the line parser, its exact errors, streaming, and the JSON round trip."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agent.compact_plan import CompactPlanError, closed_lines, format_plan, parse_line, parse_plan
from agent.nodes.planner import _closed_compact_steps
from agent.plan_rules import Planning, StepDraft
from agent.testing import plan_step


def test_a_line_is_an_id_a_call_and_a_goal() -> None:
    step = parse_line("s1 = web_search(query='asyncio gather', k=3)  # how gather fails")
    assert step == {
        "id": "s1",
        "goal": "how gather fails",
        "tool": "web_search",
        "input": {"query": "asyncio gather", "k": 3},
        "depends_on": [],
    }


def test_a_hash_inside_a_quoted_string_is_text_not_the_goal() -> None:
    step = parse_line("s1 = python(code=\"print('#1')  # not a goal\")  # run it # twice")
    assert step is not None
    assert step["input"] == {"code": "print('#1')  # not a goal"}
    assert step["goal"] == "run it # twice"


def test_placeholders_imply_dependencies_quoted_or_bare() -> None:
    text = (
        "s1 = web_search(query='x')  # find\n"
        "s2 = fetch_url(url={{s1}})  # read\n"
        "s3 = extract(text='{{s2.text}} and {{s1 | the year}}')  # pick"
    )
    drafts = [StepDraft.model_validate(s) for s in parse_plan(text)]
    assert drafts[1].input == {"url": "{{s1}}"} and drafts[1].depends_on == ["s1"]
    assert drafts[2].input == {"text": "{{s2.text}} and {{s1 | the year}}"}
    assert drafts[2].depends_on == ["s2", "s1"]


def test_for_each_and_after_are_read_after_the_call() -> None:
    step = parse_line("s4 = fetch_url(url='{{item.url}}') for s1.results[:5] after s2,s3  # each")
    draft = StepDraft.model_validate(step)
    assert draft.for_each == "s1.results[:5]"
    assert draft.depends_on == ["s2", "s3", "s1"]
    assert draft.input == {"url": "{{item.url}}"}


def test_literals_python_and_json_spellings() -> None:
    step = parse_line("s1 = t(a=True, b=null, c=[1, -2.5, 'x'], d={'k': false})  # g")
    assert step is not None
    assert step["input"] == {"a": True, "b": None, "c": [1, -2.5, "x"], "d": {"k": False}}


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("hello there", "plan line 3 ('hello there'): not a step; write it as: s2 = tool("),
        ("s1 = t(q='x')", "plan line 3 (\"s1 = t(q='x')\"): the step has no goal"),
        ("s1 = t(q='x'  # g", "the call's parenthesis is never closed"),
        ("s1 = t(q='x)  # g", "unterminated string literal"),
        ("s1 = t('x')  # g", "every argument must be named: tool(name='value')"),
        ("s1 = t(q=x)  # g", "argument q is not a literal"),
        ("step1 = t(q='x')  # g", "step id 'step1' is not s1, s2, ..."),
        ("s1 = t(q='x') then s2  # g", "only 'for sN.results[:K]' and then 'after sN,sM'"),
        ("s1 = t(q='x') after one  # g", "'after' names 'one', which is not a step id"),
    ],
)
def test_a_bad_line_gets_an_exact_error_naming_it(line: str, error: str) -> None:
    with pytest.raises(CompactPlanError) as caught:
        parse_line(line, 3)
    assert str(caught.value).startswith("plan line 3 (")
    assert error in str(caught.value)


def test_the_planning_reply_reports_the_failing_line_to_the_model() -> None:
    text = "s1 = lookup(query='a')  # find a\ns2 = lookup(query=b)  # find b"
    with pytest.raises(ValidationError) as caught:
        Planning.model_validate({"reasoning": "r", "plan": text})
    assert "plan line 2 ('s2 = lookup(query=b)  # find b'): argument query" in str(caught.value)


def test_blank_and_comment_lines_are_skipped() -> None:
    assert parse_plan("\n# thinking aloud\ns1 = t(q='x')  # g\n\n") == [
        parse_line("s1 = t(q='x')  # g")
    ]


def test_streaming_starts_only_lines_that_closed() -> None:
    whole = "s1 = lookup(query='a')  # find a\ns2 = lookup(query='b')  # find b\n"
    prefixes = [whole[:n] for n in range(len(whole) + 1)]
    seen = []
    for text in prefixes:
        drafts = _closed_compact_steps(text)
        assert drafts[-1] == {}, "the line still streaming is held back as the last draft"
        seen.append([d["id"] for d in drafts[:-1]])
    first_newline = whole.index("\n") + 1
    assert seen[first_newline - 1] == [] and seen[first_newline] == ["s1"]
    assert seen[-1] == ["s1", "s2"]
    # a cut-off line never yields a step with half an argument
    assert closed_lines("s1 = lookup(query='a')  # g\ns2 = lookup(query='a b") == [
        "s1 = lookup(query='a')  # g"
    ]


def test_a_broken_closed_line_is_left_to_validation_not_started() -> None:
    drafts = _closed_compact_steps("s1 = lookup(query=)  # g\ns2 = lookup(query='b')  # h\n")
    assert [d["id"] for d in drafts[:-1]] == ["s2"]


# -- round trip: JSON plan <-> compact ---------------------------------------------------

_words = st.text(string.ascii_letters + string.digits + " #'\"\\{}|.,:-_é", min_size=1, max_size=30)
_goal = (
    st.text(string.ascii_letters + string.digits + " #'\",.:-é", min_size=1, max_size=40)
    .map(lambda g: " ".join(g.split()))
    .filter(bool)
)
_scalar = st.one_of(
    _words,
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
)
_value = st.one_of(
    _scalar, st.lists(_scalar, max_size=3), st.dictionaries(_words, _scalar, max_size=2)
)
_names = st.sampled_from(["query", "url", "code", "k", "path", "lang"])


@st.composite
def _plans(draw: Any) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 6))
    steps = []
    for i in range(1, n + 1):
        sid = f"s{i}"
        earlier = [f"s{j}" for j in range(1, i)]
        args = draw(st.dictionaries(_names, _value, max_size=3))
        for_each = None
        after: list[str] = []
        if earlier and draw(st.booleans()):
            ref = draw(st.sampled_from(earlier))
            args["url"] = draw(st.sampled_from([f"{{{{{ref}}}}}", f"see {{{{{ref}.url}}}}"]))
        if earlier and draw(st.booleans()):
            for_each = f"{draw(st.sampled_from(earlier))}.results[:{draw(st.integers(1, 9))}]"
            args["url"] = "{{item.url}}"
        if earlier:
            after = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2))
        tool = draw(st.sampled_from(["web_search", "fetch_url", "mcp.tool-name"]))
        steps.append(plan_step(sid, tool, args, goal=draw(_goal), after=after, for_each=for_each))
    return steps


@settings(max_examples=150, deadline=None)
@given(_plans())
def test_json_plan_round_trips_through_compact(steps: list[dict[str, Any]]) -> None:
    text = format_plan(steps)
    assert len(text.splitlines()) == len(steps)
    back = [StepDraft.model_validate(s).model_dump() for s in parse_plan(text)]
    want = [StepDraft.model_validate(s).model_dump() for s in steps]
    for got, expected in zip(back, want, strict=True):
        assert sorted(got.pop("depends_on")) == sorted(expected.pop("depends_on"))
        assert got == expected


def test_scripted_models_send_a_scripted_plan_compactly_when_asked() -> None:
    from agent.plan_rules import planning_json_schema
    from agent.testing import ScriptedChatModel, planning_reply
    from agent.toolset import Toolset
    from bench.recording_tool import recording_tool

    tool, _log = recording_tool()
    steps = [plan_step("s1", "lookup", {"query": "a"}, goal="find a")]
    steps.append(plan_step("s2", "lookup", {"query": "{{s1}}"}, goal="then b"))
    model = ScriptedChatModel(script={"Planning": [planning_reply(*steps)] * 2})
    toolset = Toolset([tool])
    for compact, key in ((True, "plan"), (False, "steps")):
        js = planning_json_schema(
            toolset, max_steps=4, triage=True, allow_direct=False, compact=compact
        )
        sent = model.with_structured_output(js, method="function_calling").invoke("plan it")
        assert key in sent and ({"plan", "steps"} - {key}).isdisjoint(sent)
    assert sent["steps"] == steps
    js = planning_json_schema(toolset, max_steps=4, triage=True, allow_direct=False, compact=True)
    sent = (
        ScriptedChatModel(script={"Planning": [planning_reply(*steps)]})
        .with_structured_output(js, method="function_calling")
        .invoke("plan it")
    )
    assert sent["plan"] == "s1 = lookup(query='a') # find a\ns2 = lookup(query={{s1}}) # then b"
