"""Tools from MCP servers, as Ponder tools: prefixed, fenced, bounded, guarded.

``load_mcp_tools(McpConfig.from_file("mcp.json"))`` lists every configured
server's tools (through langchain-mcp-adapters) and wraps each one so that:

- its name is ``<server>_<tool>`` and its description is the server's own;
- its result is an `Observation` marked untrusted, so every prompt fences it
  as data, capped at the server's ``maxOutputChars``;
- a call that outlives the server's ``timeout``, a server that crashes or
  answers garbage, is an error observation the reflection can act on;
- a tool the config marks as side-effecting (or the server annotates as
  destructive) carries ``metadata={"needs_approval": True}``, which the
  approval gate honours under ``approve_code``;
- no ``env`` or ``headers`` value of the config appears in anything it returns.

A server that cannot be started or listed is left out with a one-line notice,
like any tool that cannot work here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from langchain_core.tools import BaseTool
from pydantic import Field, PrivateAttr

from agent._internal.io_loop import io_loop
from agent.observation import Observation, Passage
from tools._base import ObservingTool
from tools._mcp_config import McpConfig, McpServer
from tools._mcp_connect import connection_for, require_mcp, vet_server_url
from tools._mcp_link import McpLink, ServerGone
from tools.netguard import NetworkPolicy

if TYPE_CHECKING:
    from mcp import ClientSession

__all__ = ["McpConfig", "McpServer", "McpTool", "McpTools", "aload_mcp_tools", "load_mcp_tools"]

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAX_DESCRIPTION = 1000

# The SDK logs a misbehaving server's every bad line with a traceback; Ponder
# reports it once, as a notice or an error observation. An application that
# configures logging still gets the records.
logging.getLogger("mcp").addHandler(logging.NullHandler())


class McpTool(ObservingTool):
    """One tool of one MCP server, called through the server's kept session (`McpLink`)."""

    server: str
    remote_name: str
    inner: BaseTool
    link: McpLink | None = Field(default=None, exclude=True, repr=False)
    timeout_s: float = 30.0
    max_output_chars: int = 20_000
    _secrets: tuple[str, ...] = PrivateAttr(default=())

    def with_secrets(self, secrets: Iterable[str]) -> McpTool:
        self._secrets = tuple(secrets)
        return self

    async def observe(self, **kwargs: Any) -> Observation:
        call = {"name": self.inner.name, "args": kwargs, "id": "mcp-call", "type": "tool_call"}
        try:
            message = await asyncio.wait_for(self.inner.ainvoke(call), self.timeout_s)
        except TimeoutError:
            if self.link is not None:
                await self.link.check()
            return Observation.failure(
                self.name,
                "timeout",
                f"MCP server {self.server} did not answer {self.remote_name} "
                f"within {self.timeout_s:g}s",
                retryable=True,
                via="mcp",
            )
        except Exception as exc:
            gone = _gone(exc)
            if gone is not None:  # retryable: the next call restarts the server
                return Observation.failure(
                    self.name,
                    "unavailable",
                    self._scrub(f"MCP server {self.server} failed on {self.remote_name}: {gone}"),
                    retryable=True,
                    via="mcp",
                )
            return Observation.failure(  # an answer that could not be used: garbage, refusal
                self.name,
                "error",
                self._scrub(f"MCP server {self.server} on {self.remote_name}: {reason(exc)}"),
                via="mcp",
            )
        text = self._scrub(_text_of(getattr(message, "content", ""), message))
        if getattr(message, "status", "success") == "error":  # the server's words: fenced too
            failed = Observation.failure(
                self.name, "error", f"{self.remote_name}: {text[:2000]}", via="mcp"
            )
            return failed.model_copy(update={"untrusted": True})
        return self._observation(kwargs, text)

    def _observation(self, args: Mapping[str, Any], text: str) -> Observation:
        truncated = len(text) > self.max_output_chars
        if truncated:
            text = text[: self.max_output_chars] + "\n[…truncated]"
        digest = hashlib.sha1(
            json.dumps(args, sort_keys=True, default=str).encode(), usedforsecurity=False
        ).hexdigest()[:8]
        ref = f"mcp:{self.server}/{self.remote_name}#{digest}"
        shown = text[:2000]
        return Observation(
            tool=self.name,
            ok=True,
            content=text,
            passages=(Passage(ref=ref, title=self.name, text=shown, start=0, end=len(shown)),),
            documents={ref: text},
            value=text.strip()[:4000],
            untrusted=True,
            via="mcp",
            truncated=truncated,
        )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


@dataclass
class McpTools:
    """The tools of every server that answered, and a notice for each that did not.

    Each server's session stays open (a stdio server keeps running) until
    `aclose`, or until the process exits: a stdio server then reads the end
    of its input and stops.
    """

    tools: list[BaseTool] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    links: list[McpLink] = field(default_factory=list)

    async def aclose(self) -> None:
        await asyncio.gather(*(link.aclose() for link in self.links))

    def close(self) -> None:
        io_loop().run(self.aclose())


async def aload_mcp_tools(config: McpConfig, *, policy: NetworkPolicy | None = None) -> McpTools:
    """List every enabled server's tools, all servers at once."""
    require_mcp()
    policy = policy or NetworkPolicy()
    found = McpTools()
    enabled = [(n, s) for n, s in config.servers.items() if not s.disabled]
    results = await asyncio.gather(*(_server_tools(n, s, policy) for n, s in enabled))
    for (name, server), result in zip(enabled, results, strict=True):
        if isinstance(result, str):
            found.notices.append(
                f"MCP server {name} is off: {_scrub_all(result, server.secrets())}"
            )
        else:
            found.links.append(result[0])
            found.tools += result[1]
    return found


def load_mcp_tools(config: McpConfig, *, policy: NetworkPolicy | None = None) -> McpTools:
    """`aload_mcp_tools` for synchronous callers (runs on Ponder's I/O loop)."""
    return io_loop().run(aload_mcp_tools(config, policy=policy))


async def _server_tools(
    name: str, server: McpServer, policy: NetworkPolicy
) -> tuple[McpLink, list[BaseTool]] | str:
    from langchain_mcp_adapters.tools import load_mcp_tools as adapter_tools

    refusal = await vet_server_url(server, policy)
    if refusal:
        return refusal
    link = McpLink(connection_for(server, policy), startup_timeout_s=server.startup_timeout_s)
    try:
        listed = await asyncio.wait_for(
            adapter_tools(cast("ClientSession", link), server_name=name),
            server.startup_timeout_s,
        )
    except TimeoutError:
        await link.aclose()
        return f"it did not list its tools within {server.startup_timeout_s:g}s"
    except Exception as exc:  # a server that will not start or speak MCP
        await link.aclose()
        return f"it did not start or speak MCP ({reason(exc)})"
    secrets = server.secrets()
    return link, [_wrap(name, server, link, tool, secrets) for tool in listed]


def _wrap(
    name: str, server: McpServer, link: McpLink, inner: BaseTool, secrets: tuple[str, ...]
) -> McpTool:
    remote = inner.name
    hints = inner.metadata or {}
    approval = server.needs_approval(remote) or hints.get("destructiveHint") is True
    description = _CONTROL.sub(" ", inner.description or remote).strip()[:_MAX_DESCRIPTION]
    return McpTool(
        name=f"{name}_{_NAME_CHARS.sub('_', remote)}"[:64],
        description=description,
        args_schema=inner.args_schema,
        server=name,
        remote_name=remote,
        inner=inner,
        link=link,
        timeout_s=server.timeout_for(remote),
        max_output_chars=server.max_output_chars,
        metadata={"mcp_server": name, "needs_approval": approval},
    ).with_secrets(secrets)


def _text_of(content: Any, message: Any) -> str:
    if isinstance(content, str):
        text = content
    else:
        parts = []
        for block in content or []:
            if isinstance(block, Mapping) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif isinstance(block, Mapping):
                parts.append(f"[{block.get('type', 'non-text')} content omitted]")
            else:
                parts.append(str(block))
        text = "\n".join(parts)
    artifact = getattr(message, "artifact", None)
    if not text.strip() and isinstance(artifact, Mapping) and artifact.get("structured_content"):
        text = json.dumps(artifact["structured_content"], ensure_ascii=False, default=str)
    return text


def _gone(exc: BaseException) -> str | None:
    """Why the server went away, if that is what ``exc`` (perhaps grouped) says."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) if isinstance(exc, ServerGone) else None


def reason(exc: BaseException) -> str:
    """The innermost cause, one line: anyio wraps a server's failure in task groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


def _scrub_all(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return text
