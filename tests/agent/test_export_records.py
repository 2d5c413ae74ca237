"""The chat fine-tuning format refuses malformed examples; the redactor removes secrets."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agent.export import REDACTED, Redactor
from agent.export_records import ChatExample


def _call(cid: str = "c1", name: str = "lookup", args: str = '{"q": 1}') -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


GOOD = [
    {"role": "system", "content": "s"},
    {"role": "user", "content": "u"},
    {"role": "assistant", "tool_calls": [_call()], "weight": 0},
    {"role": "tool", "tool_call_id": "c1", "content": "r"},
    {"role": "assistant", "content": "a", "weight": 1},
]
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


def test_a_well_formed_example_validates() -> None:
    ChatExample.model_validate({"messages": GOOD, "tools": TOOLS})


@pytest.mark.parametrize(
    "messages",
    [
        [*GOOD[:-1], {"role": "user", "content": "last is not the assistant"}],
        [GOOD[0], GOOD[1], {"role": "tool", "tool_call_id": "c9", "content": "r"}, GOOD[4]],
        [GOOD[0], GOOD[1], {"role": "assistant", "tool_calls": [_call(args="[1]")]}, GOOD[4]],
        [GOOD[0], GOOD[1], {"role": "assistant", "content": None}],
        [GOOD[0], GOOD[1], {"role": "assistant", "tool_calls": [_call(name="other")]}, GOOD[4]],
        [GOOD[0], {"role": "critic", "content": "x"}, GOOD[4]],
        [GOOD[0], {"role": "user", "content": "u", "extra": 1}, GOOD[4]],
    ],
    ids=["last", "orphan-tool", "args-not-object", "empty", "undeclared", "role", "extra"],
)
def test_malformed_examples_are_refused(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(ValidationError):
        ChatExample.model_validate({"messages": messages, "tools": TOOLS})


def test_redactor_removes_env_secrets_and_key_shapes() -> None:
    redactor = Redactor({"MY_SERVICE_TOKEN": "hunter2hunter2", "HOME": "/root/home-dir"})
    text = "token hunter2hunter2, key sk-abcdefghijklmnop1234, aws AKIAABCDEFGHIJKLMNOP, "
    text += "/root/home-dir"
    out = redactor.value({"nested": [text]})["nested"][0]
    assert "hunter2" not in out and "sk-abc" not in out and "AKIA" not in out
    assert out.count(REDACTED) == 3 and "/root/home-dir" in out
