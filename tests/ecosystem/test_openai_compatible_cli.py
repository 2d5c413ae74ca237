"""``ponder run --model openai:NAME --base-url URL`` against a real llama_cpp.server, via the CLI.

The server runs the demo GGUF; Ponder reaches it through the resolver and
``langchain-openai``'s ``ChatOpenAI`` (`ChatOpenAICompatible`), with structured
output as a forced tool call. llama.cpp's server decodes that call under a
grammar built from the tool's schema; naming the model as the server lists it
(a ``.gguf``) tells Ponder so, and it sends plan schemas that are DAGs by
construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.models.resolve import resolve_model
from agent.models.structured import grammar_constrained
from agent.plan_rules import planning_json_schema
from agent.testing import ScriptedChatModel
from agent.toolset import Toolset
from bench.cli_runner import CORPUS, check_corpus_run, ponder
from graphs.research import build_research_graph
from tests.conftest import planning, recording_tool, step, synthesis
from tests.ecosystem.llama_server import llama_server, server_missing

TASK = "How does asyncio.gather handle exceptions, and how does TaskGroup differ?"
TOOLS = ("corpus_search", "read_document")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with llama_server(log) as (url, name):
        yield url, name, log


@pytest.mark.demo_model
@pytest.mark.slow
@pytest.mark.skipif(server_missing(), reason="needs llama-cpp-python[server] and the demo model")
def test_cli_run_through_chat_openai_plans_and_cites(
    server: tuple[str, str, Path], tmp_path: Path
) -> None:
    url, name, log = server
    assert name.endswith(".gguf"), name
    done = ponder(
        "run",
        TASK,
        "--model",
        f"openai:{name}",
        "--base-url",
        url,
        "--corpus",
        str(CORPUS),
        "--tools",
        ",".join(TOOLS),
        "--effort",
        "medium",
        "--json",
        home=tmp_path,
        timeout=900,
    )
    report = check_corpus_run(done, TOOLS)

    # Every model call of the run went to the server, as an OpenAI chat completion.
    posts = log.read_text(errors="replace").count('"POST /v1/chat/completions HTTP/1.1" 200')
    assert posts >= report["usage"]["model_calls"] >= 2


def test_a_served_gguf_is_grammar_constrained_and_sampled_like_the_local_model() -> None:
    served = resolve_model("openai:SmolLM2.Q4_1.gguf", base_url="http://127.0.0.1:9/v1", env={})
    assert grammar_constrained(served)
    assert served.temperature == 0.2  # type: ignore[attr-defined]
    other = resolve_model("openai:llama3.1-70b", base_url="http://127.0.0.1:9/v1", env={})
    assert not grammar_constrained(other)
    assert other.temperature is None  # type: ignore[attr-defined]
    told = resolve_model(
        "openai:a.gguf",
        base_url="http://127.0.0.1:9/v1",
        env={},
        constrained_tool_calls=False,
        temperature=0.7,
    )
    assert not grammar_constrained(told) and told.temperature == 0.7  # type: ignore[attr-defined]


def test_an_ordered_replan_may_keep_only_unfinished_steps() -> None:
    tool, _ = recording_tool()
    toolset = Toolset([tool])
    kw: dict[str, Any] = {"max_steps": 3, "triage": False, "allow_direct": False, "replan": True}
    ordered = planning_json_schema(toolset, ordered=True, unfinished=["s3"], **kw)
    assert ordered["properties"]["keep"]["items"]["enum"] == ["s3"]
    nothing = planning_json_schema(toolset, ordered=True, unfinished=[], **kw)
    assert nothing["properties"]["keep"]["maxItems"] == 0
    free = planning_json_schema(toolset, ordered=False, unfinished=["s3"], **kw)
    assert "enum" not in free["properties"]["keep"]["items"]


def test_the_synthesis_schema_requires_claims() -> None:
    tool, _ = recording_tool()
    model = ScriptedChatModel(
        script={"Planning": [planning(step("s1", "a"))], "Synthesis": [synthesis("s1.1")]}
    )
    build_research_graph(model, [tool]).invoke({"task": "What is a?"})
    schema = model.calls_for("Synthesis")[0].schema
    assert schema["required"] == ["claims"]
    assert schema["properties"]["claims"]["minItems"] == 1
