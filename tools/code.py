"""The ``python`` tool: run model-written Python in an OS sandbox, return its text output.

The isolation itself (bubblewrap, rlimits, kills) lives in `tools._sandbox`;
this module turns a run into an `Observation`. A run that hits a limit is an
error observation (``timeout`` or ``too_large``) the reflection can act on,
never an exception. Without bubblewrap the tool refuses to run code unless the
caller opted into ``mode="best-effort"``, and then every observation says, in
``via`` and in its text, that the code ran without isolation.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from agent.errors import MissingDependencyError
from agent.observation import ErrorKind, Observation, ToolError
from tools._base import ObservingTool
from tools._sandbox import (
    RunResult,
    SandboxMode,
    SandboxOptions,
    SandboxProbe,
    probe_sandbox,
)
from tools._sandbox_run import run_python

__all__ = ["PythonArgs", "PythonTool", "SandboxMode", "SandboxOptions"]

_INSTALL_HINT = (
    "install bubblewrap (`apt-get install bubblewrap`), or allow unisolated runs "
    "with SandboxOptions(mode='best-effort')"
)
_MAX_CODE_CHARS = 200_000
_SHOWN_CHARS = 8_000  # of each stream, in the text the model reads
_UNSANDBOXED_WARNING = (
    "WARNING: bubblewrap is unavailable ({reason}); this code ran WITHOUT isolation, "
    "limited only by rlimits."
)


class PythonArgs(BaseModel):
    code: str = Field(
        description="A complete Python 3 script (standard library only). print() the "
        "result: the printed text is the step's value. No network; the working "
        "directory starts empty and files written there are returned."
    )


class PythonTool(ObservingTool):
    """Runs Python in a bubblewrap sandbox: no network, no host files, hard limits."""

    name: str = "python"
    description: str = (
        "Run a short Python 3 script in an isolated sandbox and get back what it "
        "prints. Use it for arithmetic, counting, dates, parsing and transforming "
        "text or JSON you already have. Standard library only, no network, no access "
        "to the user's files; it is killed at its CPU, memory and time limits."
    )
    args_schema: type[BaseModel] = PythonArgs
    options: SandboxOptions = SandboxOptions()

    def check(self) -> None:
        """Raise `MissingDependencyError` if code cannot run in the configured mode."""
        probe = probe_sandbox(self.options.bwrap, self.options.python)
        if not probe.ok and self.options.mode == "required":
            raise MissingDependencyError(
                f"the python tool needs a working sandbox: {probe.reason}", hint=_INSTALL_HINT
            )

    async def observe(self, **kwargs: Any) -> Observation:
        code = kwargs.get("code")
        if not isinstance(code, str) or not code.strip():
            return Observation.failure(self.name, "invalid_input", "`code` must be Python source")
        if len(code) > _MAX_CODE_CHARS:
            return Observation.failure(
                self.name, "invalid_input", f"code longer than {_MAX_CODE_CHARS} characters"
            )
        try:
            code.encode("utf-8")
        except UnicodeEncodeError as exc:
            return Observation.failure(self.name, "invalid_input", f"code is not text: {exc}")
        opts = self.options
        probe = await asyncio.to_thread(probe_sandbox, opts.bwrap, opts.python)
        if not probe.ok and opts.mode == "required":
            return Observation.failure(
                self.name,
                "unavailable",
                f"code was not run: no sandbox ({probe.reason}); {_INSTALL_HINT}",
                via="none",
            )
        try:
            result = await run_python(code, opts, probe=probe)
        except OSError as exc:  # the host could not start the run (disk full, bwrap gone)
            return Observation.failure(
                self.name, "unavailable", f"could not start the run: {exc}", via="none"
            )
        return to_observation(self.name, result, opts, probe)


def _clip(text: str, limit: int = _SHOWN_CHARS) -> str:
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 3 // 4], text[-limit // 4 :]
    return f"{head}\n[…{len(text) - len(head) - len(tail)} characters truncated…]\n{tail}"


def _status(result: RunResult, opts: SandboxOptions) -> tuple[str, ErrorKind | None]:
    """A one-line exit status and, for a failed run, its error kind."""
    code = result.exit_code
    if result.limit == "wall":
        return f"killed: wall-clock limit of {opts.wall_s:g} s", "timeout"
    if result.limit == "output":
        return f"killed: output passed {opts.output_bytes} bytes", "too_large"
    if result.limit == "cpu":
        return f"killed: CPU limit of {opts.cpu_s} s", "timeout"
    if result.limit == "file_size":
        return f"killed: file size limit of {opts.file_mb} MB", "too_large"
    if code == 0:
        return "exit status 0", None
    last = result.stderr.strip().splitlines()[-1:] or [""]
    if code == 1 and last[0].startswith("MemoryError"):
        return f"exit status 1: out of memory (limit {opts.memory_mb} MB)", "too_large"
    if code is None:
        return "killed", "error"
    if code < 0:
        return f"killed by signal {-code}", "error"
    if code > 128:
        return f"exit status {code} (killed by signal {code - 128}?)", "error"
    return f"exit status {code}", "error"


def _files_text(result: RunResult) -> str:
    if not result.files_known:
        return "files: unknown (the run ended before they could be listed)"
    if not result.files:
        return "files: none"
    lines = ["files in the working dir:"]
    for f in result.files:
        lines.append(f"- {f.path} ({f.size} bytes{'' if f.text is not None else ', not shown'})")
        if f.text is not None:
            lines.append(_clip(f.text, 2_000))
    if result.files_truncated:
        lines.append("[…more files not listed]")
    return "\n".join(lines)


def to_observation(
    tool: str, result: RunResult, opts: SandboxOptions, probe: SandboxProbe
) -> Observation:
    """Build the observation: text for the model, stdout as value, fields for placeholders."""
    status, kind = _status(result, opts)
    parts = []
    if not result.sandboxed:
        parts.append(_UNSANDBOXED_WARNING.format(reason=probe.reason or "not probed"))
    parts.append(status)
    stdout, stderr = result.stdout.rstrip("\n"), result.stderr.rstrip("\n")
    parts.append("stdout:\n" + (_clip(stdout) if stdout else "(empty)"))
    if stderr:
        parts.append("stderr:\n" + _clip(stderr))
    if result.output_truncated:
        parts.append("[output truncated at the output limit]")
    parts.append(_files_text(result))
    fields = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "exit_code": "" if result.exit_code is None else str(result.exit_code),
        "files": "\n".join(f.path for f in result.files),
    }
    fields.update({f"file:{f.path}": f.text for f in result.files if f.text is not None})
    error = None
    if kind is not None:
        error = ToolError(kind=kind, message=status, retryable=False)
    return Observation(
        tool=tool,
        ok=kind is None,
        content="\n\n".join(parts),
        value=result.stdout.strip(),
        fields=fields,
        error=error,
        # The code may echo web text the model pasted into it: data, not instructions.
        untrusted=True,
        via="bwrap" if result.sandboxed else "unsandboxed",
        truncated=result.output_truncated,
    )
