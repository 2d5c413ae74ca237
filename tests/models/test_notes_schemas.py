"""The notes reply on every schema path: OpenAI's json_schema response format (faked at the
transport), a llama.cpp grammar (the quote is one of the page's sentences), and the demo
model decoding a real notes reply under that grammar."""

from __future__ import annotations

import json
from typing import Any

from agent.budget import BudgetGate
from agent.models._grammar import schema_gbnf
from agent.models.llamacpp import ChatLlamaCpp
from agent.notes import notes_schema, take_notes
from agent.observation import Observation, Passage
from agent.settings import Budgets
from tests.models.conftest import needs_llama
from tests.models.test_openai_adapter import chunk, model_for
from tests.models.transports import FakeProvider, sse

PAGE = (
    "With the default return_exceptions=False, the first exception raised by any of the "
    "awaitables is immediately propagated to the code awaiting gather(). The other awaitables "
    "are not cancelled: they keep running in the background. With return_exceptions=True, "
    "exceptions are treated like successful results and placed in the result list."
)
URL = "https://docs.example/gather"
PAGE_OBS = Observation(
    tool="fetch_url", ok=True, content=PAGE, passages=(Passage(ref=URL, text=PAGE),),
    documents={URL: PAGE}, untrusted=True,
)  # fmt: skip


def _gate() -> BudgetGate:
    return BudgetGate({}, Budgets(), node="notes")


async def test_openai_json_schema_reply_becomes_checked_notes() -> None:
    fake = FakeProvider()
    reply = {
        "notes": [
            {"quote": "The other awaitables are not cancelled", "fact": "siblings keep running"},
            {"quote": "gather() cancels the siblings", "fact": "invented"},
        ]
    }
    text = json.dumps(reply)
    fake.queue(
        sse(
            chunk({"role": "assistant", "content": text[:30]}),
            chunk({"content": text[30:]}),
            chunk({}, "stop"),
        ),
        content_type="text/event-stream",
    )
    taken = await take_notes(
        model_for(fake), PAGE_OBS, task="How does gather fail?", goal="gather", gate=_gate(),
        retries=0,
    )  # fmt: skip
    response_format = fake.last["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Notes"
    assert [n.span for n in taken.notes] == ["The other awaitables are not cancelled"]
    assert taken.dropped == 1 and not taken.error


def test_the_grammar_schema_offers_the_pages_sentences_as_quotes() -> None:
    free = notes_schema([PAGE], grammar=False)
    assert "enum" not in free["properties"]["notes"]["items"]["properties"]["quote"]
    schema = notes_schema([PAGE], grammar=True)
    item: dict[str, Any] = schema["properties"]["notes"]["items"]
    assert list(item["properties"]) == ["quote", "fact"], "the quote is picked first"
    quotes = item["properties"]["quote"]["enum"]
    assert "The other awaitables are not cancelled: they keep running in the background." in quotes
    assert all(q in PAGE for q in quotes)
    assert schema["properties"]["notes"]["maxItems"] == 3
    assert "notes-item-quote ::=" in schema_gbnf(schema) or "quote" in schema_gbnf(schema)


@needs_llama
async def test_the_demo_model_writes_notes_under_its_grammar(demo: ChatLlamaCpp) -> None:
    small = demo.with_options(schema_in_prompt=False, max_tokens=300)
    taken = await take_notes(
        small, PAGE_OBS, task="How does asyncio.gather handle exceptions?",
        goal="how gather treats exceptions", gate=_gate(), retries=1,
    )  # fmt: skip
    assert not taken.error, taken.error
    assert taken.notes and taken.dropped == 0, "every quote came from the page's own sentences"
    assert all(PAGE[n.start : n.end] == n.span and n.fact for n in taken.notes)
