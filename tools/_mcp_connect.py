"""How Ponder reaches one configured MCP server: a langchain-mcp-adapters connection.

The connection is opened once and kept (see `tools._mcp_link`). An HTTP
server is reached only through the same SSRF guard as ``fetch_url``: the URL
is vetted before the first request and every connection goes to an address the
guard vetted at connect time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from agent.errors import ConfigError, MissingDependencyError
from tools._mcp_config import McpServer
from tools.netguard import NetworkPolicy, check_url

if TYPE_CHECKING:
    from langchain_mcp_adapters.sessions import Connection

__all__ = ["connection_for", "require_mcp", "vet_server_url"]


def require_mcp() -> None:
    """Fail with the install command when the MCP packages are absent."""
    try:
        import langchain_mcp_adapters  # noqa: F401
        import mcp  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "MCP support needs the mcp and langchain-mcp-adapters packages",
            hint="pip install 'ponder[mcp]'",
        ) from exc


def connection_for(server: McpServer, policy: NetworkPolicy) -> Connection:
    """The adapter's connection dict for ``server``, secrets revealed only here."""
    if server.command is not None:
        return {
            "transport": "stdio",
            "command": server.command,
            "args": list(server.args),
            # None lets the SDK pass its safe default subset (PATH, HOME…):
            # Ponder's own keys never reach a server unless the config names them.
            "env": {k: v.get_secret_value() for k, v in server.env.items()} or None,
            "cwd": server.cwd,
        }
    if server.url is None:
        raise ConfigError("an MCP server needs a command or a url")
    headers = {k: v.get_secret_value() for k, v in server.headers.items()}

    def guarded_client(
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        auth: httpx.Auth | None = None,
    ) -> httpx.AsyncClient:
        from tools.fetch import _GuardedTransport

        return httpx.AsyncClient(
            transport=_GuardedTransport(policy, httpx.Limits(max_connections=8)),
            headers=headers,
            timeout=timeout or httpx.Timeout(30.0, read=300.0),
            auth=auth,
            follow_redirects=False,  # the SDK follows same-origin redirects itself
            trust_env=False,  # an environment proxy would resolve names the guard vetted
        )

    http: dict[str, Any] = {
        "transport": "streamable_http",
        "url": server.url,
        "headers": headers or None,
        "timeout": server.timeout_s,
        "sse_read_timeout": server.timeout_s,
        "httpx_client_factory": guarded_client,
    }
    return http  # type: ignore[return-value]


async def vet_server_url(server: McpServer, policy: NetworkPolicy) -> str | None:
    """Why the guard refuses ``server``'s URL, or None when it may be reached."""
    if server.url is None:
        return None
    verdict = await check_url(server.url, policy)
    if verdict.allowed:
        return None
    return f"{verdict.message} (open it with --allow-host {verdict.host or 'HOST'}" + (
        f":{verdict.port})" if verdict.port else ")"
    )
