"""The versioned record schemas ``ponder export`` writes, one JSON object a line.

- `ChatExample` (``openai``): the chat fine-tuning format (``{"messages": [...],
  "tools": [...]}``), modelled here so every exported line is validated against
  it: roles system/user/assistant/tool, assistant tool calls with JSON-string
  arguments, each tool message answering an earlier call, and an assistant
  message last (the one the job learns from).
- `TrajectoryRecord` (``trajectory``): one whole run, for analysis or
  process-supervision data.

Bump ``*_SCHEMA`` when a field changes meaning; readers check it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from agent.plan import TriageDecision
from agent.state import Citation, Reflection

__all__ = [
    "CHAT_SCHEMA",
    "TRAJECTORY_SCHEMA",
    "AssistantMessage",
    "CandidateView",
    "ChatExample",
    "ChatTool",
    "CitationCheckView",
    "EvalScore",
    "FunctionCall",
    "PlanRecord",
    "StepDigest",
    "SystemMessage",
    "ToolCall",
    "ToolMessage",
    "TrajectoryRecord",
    "UserMessage",
]

CHAT_SCHEMA = "ponder.chat/1"
TRAJECTORY_SCHEMA = "ponder.trajectory/1"

_Strict = ConfigDict(extra="forbid", frozen=True)


class FunctionCall(BaseModel):
    model_config = _Strict

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    arguments: str = Field(description="a JSON object, as a string")

    @model_validator(mode="after")
    def _arguments_are_an_object(self) -> FunctionCall:
        if not isinstance(json.loads(self.arguments), dict):
            raise ValueError("function arguments must encode a JSON object")
        return self


class ToolCall(BaseModel):
    model_config = _Strict

    id: str = Field(min_length=1)
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(BaseModel):
    model_config = _Strict

    role: Literal["system"] = "system"
    content: str = Field(min_length=1)


class UserMessage(BaseModel):
    model_config = _Strict

    role: Literal["user"] = "user"
    content: str = Field(min_length=1)


class AssistantMessage(BaseModel):
    model_config = _Strict

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    weight: Literal[0, 1] | None = None

    @model_validator(mode="after")
    def _says_something(self) -> AssistantMessage:
        if not self.content and not self.tool_calls:
            raise ValueError("an assistant message needs content or tool_calls")
        return self


class ToolMessage(BaseModel):
    model_config = _Strict

    role: Literal["tool"] = "tool"
    tool_call_id: str = Field(min_length=1)
    content: str


ChatMessage = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class ChatTool(BaseModel):
    model_config = _Strict

    type: Literal["function"] = "function"
    function: dict[str, JsonValue]


class ChatExample(BaseModel):
    """One chat fine-tuning example. ``metadata`` is Ponder's and is dropped by
    `to_training_line` (the fine-tuning API refuses unknown keys)."""

    model_config = _Strict

    messages: list[ChatMessage] = Field(min_length=2)
    tools: list[ChatTool] | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _well_formed(self) -> ChatExample:
        if not isinstance(self.messages[-1], AssistantMessage):
            raise ValueError("the last message must be the assistant's")
        if not any(isinstance(m, UserMessage) for m in self.messages):
            raise ValueError("an example needs a user message")
        open_calls: set[str] = set()
        for message in self.messages:
            if isinstance(message, AssistantMessage):
                open_calls |= {c.id for c in message.tool_calls or []}
            elif isinstance(message, ToolMessage) and message.tool_call_id not in open_calls:
                raise ValueError(f"tool message answers no call: {message.tool_call_id}")
        names = {t.function.get("name") for t in self.tools or []}
        for message in self.messages:
            if isinstance(message, AssistantMessage) and self.tools is not None:
                for call in message.tool_calls or []:
                    if call.function.name not in names:
                        raise ValueError(f"call of an undeclared tool {call.function.name!r}")
        return self

    def to_training_line(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude={"metadata"})


class PlanRecord(BaseModel):
    version: int
    reasoning: str
    reason: str = ""
    steps: list[dict[str, JsonValue]]
    choice: dict[str, JsonValue] | None = Field(
        default=None, description="with plan_samples > 1: the sampled plans and the critic's pick"
    )


class StepDigest(BaseModel):
    step_id: str
    plan_version: int
    attempt: int
    tool: str
    input: dict[str, JsonValue]
    status: str
    digest: str = Field(description="the observation, shortened; untrusted text stays fenced")
    untrusted: bool = False
    duration_s: float = 0.0


class CandidateView(BaseModel):
    """One sampled reasoning path's answer and how the verifier scored it."""

    path: int
    answer: str
    short_answer: str = ""
    score: float = 0.0
    supported: int = 0
    unsupported: int = 0
    votes: int = 0
    chosen: bool = False
    error: str = ""


class CitationCheckView(BaseModel):
    citations: list[Citation]
    rejected: list[str]
    unsupported_claims: int
    verified: bool = Field(description="at least one citation held and no claim is unsupported")


class EvalScore(BaseModel):
    dataset: str
    item: int
    correct: bool
    score: float


class TrajectoryRecord(BaseModel):
    schema_: Literal["ponder.trajectory/1"] = Field(default="ponder.trajectory/1", alias="schema")
    run_id: str
    task: str
    status: str
    stop_reason: str = ""
    triage: TriageDecision | None = None
    plans: list[PlanRecord]
    steps: list[StepDigest]
    reflections: list[Reflection]
    candidates: list[CandidateView] = Field(default_factory=list)
    vote: dict[str, int] = Field(default_factory=dict)
    answer: str
    citation_check: CitationCheckView
    eval: EvalScore | None = None
    usage: dict[str, float | int] = Field(default_factory=dict)

    model_config = ConfigDict(populate_by_name=True)
