"""The ``mcpServers`` config file: which MCP servers a run may start or reach.

The format is the one Claude Desktop, Cursor and VS Code share::

    {"mcpServers": {
        "notes": {"command": "python", "args": ["notes_server.py"], "env": {"TOKEN": "…"}},
        "issues": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "…"}}
    }}

plus Ponder's own optional keys per server: ``timeout`` (seconds per call,
a stdio server's start included), ``toolTimeouts`` (``{tool: seconds}``
overrides), ``startupTimeout`` (seconds to list its
tools), ``maxOutputChars``, ``sideEffects`` (``true`` for every tool of the server, or a
list of tool names: those wait for approval) and ``disabled``.

A server command comes only from this file, which the user names (``--mcp``);
nothing a task, a web page or a plan says can add one. ``env`` and ``headers``
values are held as secrets: they reach the server and nothing else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, SecretStr, ValidationError

from agent.errors import ConfigError

__all__ = ["McpConfig", "McpServer"]

_MIN_SECRET = 6
_SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


class McpServer(BaseModel):
    """One server: stdio (``command``) or streamable HTTP (``url``)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    type: (
        Literal["stdio", "http", "streamable-http", "streamable_http", "streamableHttp"] | None
    ) = Field(default=None, alias="type")
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, SecretStr] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout_s: PositiveFloat = Field(default=30.0, alias="timeout")
    tool_timeouts: dict[str, PositiveFloat] = Field(default_factory=dict, alias="toolTimeouts")
    startup_timeout_s: PositiveFloat = Field(default=30.0, alias="startupTimeout")
    max_output_chars: int = Field(default=20_000, alias="maxOutputChars", ge=100)
    side_effects: bool | tuple[str, ...] = Field(default=False, alias="sideEffects")
    disabled: bool = False

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.command is not None else "http"

    def timeout_for(self, tool: str) -> float:
        """Seconds a call of ``tool`` (its name on the server) may take."""
        return self.tool_timeouts.get(tool, self.timeout_s)

    def needs_approval(self, tool: str) -> bool:
        """Whether the user marked ``tool`` (its name on the server) as side-effecting."""
        if isinstance(self.side_effects, bool):
            return self.side_effects
        return tool in self.side_effects

    def secrets(self) -> tuple[str, ...]:
        """Every env and header value, to scrub from anything a run records."""
        values = [v.get_secret_value() for v in (*self.env.values(), *self.headers.values())]
        # A header like "Bearer abc123" leaks "abc123" alone too. Values this short
        # are no credential (PYTHONPATH=.), and scrubbing them would mangle text.
        parts = {p for v in values for p in (v, *v.split()) if len(p) >= _MIN_SECRET}
        return tuple(sorted(parts, key=len, reverse=True))


class McpConfig(BaseModel):
    """The servers of one config file, by name (the prefix of their tools' names)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    servers: dict[str, McpServer] = Field(default_factory=dict, alias="mcpServers")

    @classmethod
    def from_file(cls, path: str | Path) -> McpConfig:
        """Read and check a config file; every problem is one `ConfigError` line."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read the MCP config {path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise ConfigError(f"the MCP config {path} is not valid JSON: {exc}") from exc
        return cls.from_mapping(raw, source=str(path))

    @classmethod
    def from_mapping(cls, raw: object, *, source: str = "the MCP config") -> McpConfig:
        if not isinstance(raw, dict) or not isinstance(raw.get("mcpServers"), dict):
            raise ConfigError(f'{source} needs an object {{"mcpServers": {{NAME: {{...}}}}}}')
        try:
            config = cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            # The message names the field, never its value: values may be secrets.
            raise ConfigError(f"{source}: {where} is invalid ({first.get('msg')})") from None
        for name, server in config.servers.items():
            _check_server(name, server, source)
        return config


def _check_server(name: str, server: McpServer, source: str) -> None:
    if not _SERVER_NAME.match(name):
        raise ConfigError(
            f"{source}: server name {name[:40]!r} must be letters, digits, - and _ "
            "(at most 32): it prefixes the names of its tools"
        )
    if (server.command is None) == (server.url is None):
        raise ConfigError(f"{source}: server {name} needs either a command (stdio) or a url (HTTP)")
    if server.command is not None and server.type not in (None, "stdio"):
        raise ConfigError(f"{source}: server {name} has a command but type {server.type}")
    if server.url is not None and server.type == "stdio":
        raise ConfigError(f"{source}: server {name} has a url but type stdio")
    if server.url is not None and not server.url.startswith(("http://", "https://")):
        raise ConfigError(f"{source}: server {name} url must start with http:// or https://")
