"""Every error Ponder raises, as one tree.

    PonderError
    ├── UserError                  the caller must change something (exit code 2)
    │   ├── ConfigError            a bad setting, argument or combination of them
    │   ├── ModelSpecError         a model spec that `resolve_model` cannot read
    │   ├── MissingDependencyError an optional package, browser or sandbox is absent
    │   ├── CorpusError            the corpus folder is missing or unreadable
    │   └── RunNotFoundError       `ponder resume/show` got an unknown run id
    └── AgentRunError              the run itself failed (exit code 1)
        ├── ModelCallError         the provider failed (HTTP status, network, timeout)
        ├── ModelOutputError       the model's output stayed unusable after repairs
        │   └── PlanningError      no valid plan after the allowed re-asks
        ├── ApprovalRequiredError  a plan needs approval but nobody can give it
        ├── CheckpointError        a stored checkpoint is unreadable or names a refused type
        └── StoreUnavailableError  the run store (Postgres) cannot be reached mid-run

A tool failing is not in this tree: it becomes an error observation that the
reflection reads. A budget running out is not an error either: the run ends with
status ``budget_exhausted`` and a partial answer.

Every error carries a short ``hint`` (what to do) and a ``code``, one member of
`ErrorCode`, that the CLI prints (``ponder: error [model-spec]: ...``) and that
names its row in the README's troubleshooting table (a test keeps the two equal).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AgentRunError",
    "ApprovalRequiredError",
    "CheckpointError",
    "ConfigError",
    "CorpusError",
    "ErrorCode",
    "MissingDependencyError",
    "ModelCallError",
    "ModelOutputError",
    "ModelSpecError",
    "PlanningError",
    "PonderError",
    "RunNotFoundError",
    "StoreUnavailableError",
    "UserError",
]


class ErrorCode(StrEnum):
    """What went wrong, in a word; each value is a row of the README's troubleshooting table."""

    CONFIG = "config"
    MODEL_SPEC = "model-spec"
    MISSING_DEPENDENCY = "missing-dependency"
    CORPUS = "corpus"
    RUN_NOT_FOUND = "run-not-found"
    USAGE = "usage"
    MODEL_CALL = "model-call"
    MODEL_OUTPUT = "model-output"
    PLANNING = "planning"
    APPROVAL_REQUIRED = "approval-required"
    CHECKPOINT = "checkpoint"
    RUN_FAILED = "run-failed"
    INTERRUPTED = "interrupted"
    INTERNAL = "internal"
    STORE_UNAVAILABLE = "store-unavailable"


class PonderError(RuntimeError):
    """Root of Ponder's errors; `str()` is one line a person can act on.

    A `RuntimeError`, as in pydantic-ai: LangGraph's server passes the message of
    builtin error types to clients and replaces any other with "An internal
    error occurred", which would hide the hint a person needs.
    """

    # The root is never raised on its own; the CLI treats an unclassified one as a bug.
    code: ErrorCode = ErrorCode.INTERNAL
    hint = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        text = self.message.strip().replace("\n", " ")
        return f"{text} ({self.hint})" if self.hint else text


class UserError(PonderError):
    """The caller asked for something that cannot work as asked."""

    code = ErrorCode.USAGE


class ConfigError(UserError):
    code = ErrorCode.CONFIG


class ModelSpecError(UserError):
    code = ErrorCode.MODEL_SPEC
    hint = "use demo, auto, llamacpp:/path.gguf, openai:MODEL, anthropic:MODEL or ollama:MODEL"


class MissingDependencyError(UserError, ImportError):
    """An optional piece is not installed; the hint names the install command."""

    code = ErrorCode.MISSING_DEPENDENCY


class CorpusError(UserError):
    code = ErrorCode.CORPUS


class RunNotFoundError(UserError):
    code = ErrorCode.RUN_NOT_FOUND
    hint = "`ponder runs` lists the runs in this store"


class AgentRunError(PonderError):
    """The run started but could not finish."""

    code = ErrorCode.RUN_FAILED


class ModelCallError(AgentRunError):
    """The model provider failed after retries; `status` is the HTTP status if any."""

    code = ErrorCode.MODEL_CALL

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ModelOutputError(AgentRunError):
    """The model kept answering in a shape Ponder cannot use."""

    code = ErrorCode.MODEL_OUTPUT
    hint = "try a larger model, or raise the retry setting"


class PlanningError(ModelOutputError):
    code = ErrorCode.PLANNING
    hint = "the last validation error is above; a larger model or a simpler task may help"


class ApprovalRequiredError(AgentRunError):
    code = ErrorCode.APPROVAL_REQUIRED
    hint = "run on a terminal to approve the plan, or drop --approve-plan"


class CheckpointError(AgentRunError):
    """A checkpoint could not be read back safely, so nothing of it was used."""

    code = ErrorCode.CHECKPOINT
    hint = "the run store was changed outside Ponder or is damaged; start the run again"


class StoreUnavailableError(AgentRunError):
    """The run store stopped answering; what was checkpointed before is kept."""

    code = ErrorCode.STORE_UNAVAILABLE
    hint = "finished steps are saved: once the store is back, `ponder resume RUN_ID` continues"
