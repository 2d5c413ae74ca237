"""The SSRF attack list, kept as data, and a runner that counts what was blocked.

Direct attacks are URLs a tool is asked to read: each must be refused before
any connection. Indirect attacks are pages on the allowed test site that try
to reach the canary listener themselves (redirect hops, meta refresh, script
navigation, iframes, ``fetch()``, images, WebSockets, preconnects, a form
post): those are blocked when the canary counts no connection. Both the fetch
tool (``mode="auto"``, so script pages escalate to the browser) and the
browser tool face every attack. Loopback attacks aim at the canary's port, so
a guard that let one through would be caught by the count, not just by the
verdict.

`run_ssrf_suite()` runs it all outside pytest for the reliability report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent._internal.io_loop import io_loop
from agent.observation import Observation
from bench.site_server import TEST_BROWSER, SiteServer, chromium_missing
from tools.browser import BrowserPool, BrowserTool
from tools.fetch import FetchTool

__all__ = ["ATTACKS", "TOOLS", "Outcome", "attempt", "run_ssrf_suite"]

ToolName = Literal["fetch", "browser"]
TOOLS: tuple[ToolName, ...] = ("fetch", "browser")

# (category, target): a URL ({port} is the canary's, {site_port} the allowed site's)
# or "page:/path", a page of the allowed test site that attacks on its own.
ATTACKS: list[tuple[str, str]] = [
    ("scheme", "file:///etc/passwd"),
    ("scheme", "file://localhost/etc/passwd"),
    ("scheme", "data:text/html,<script>fetch('http://127.0.0.1:{port}/data')</script>"),
    ("scheme", "javascript:fetch('http://127.0.0.1:{port}/js')"),
    ("scheme", "blob:http://127.0.0.1:{port}/blob"),
    ("scheme", "chrome://version"),
    ("scheme", "chrome-extension://abcdefghijklmnop/x.html"),
    ("scheme", "view-source:http://127.0.0.1:{port}/"),
    ("scheme", "ftp://127.0.0.1:{port}/"),
    ("scheme", "ws://127.0.0.1:{port}/"),
    ("scheme", "wss://127.0.0.1:{port}/"),
    ("scheme", "about:config"),
    ("loopback", "http://127.0.0.1:{port}/"),
    ("loopback", "https://127.0.0.1:{port}/"),
    ("loopback", "http://127.0.0.2:{port}/"),
    ("loopback-name", "http://localhost:{port}/"),
    ("loopback-name", "http://LOCALHOST.:{port}/"),
    ("loopback-name", "http://api.localhost:{port}/"),
    ("ipv6", "http://[::1]:{port}/"),
    ("ipv6-mapped", "http://[::ffff:127.0.0.1]:{port}/"),
    ("ipv6-mapped", "http://[::ffff:7f00:1]:{port}/"),
    ("ipv6-nat64", "http://[64:ff9b::127.0.0.1]:{port}/"),
    ("ipv6-6to4", "http://[2002:7f00:1::]:{port}/"),
    ("ipv6-compatible", "http://[::127.0.0.1]:{port}/"),
    ("decimal", "http://2130706433:{port}/"),
    ("hex", "http://0x7f000001:{port}/"),
    ("hex", "http://0x7f.0.0.1:{port}/"),
    ("hex", "http://0x7f.1:{port}/"),
    ("octal", "http://0177.0.0.1:{port}/"),
    ("octal", "http://017700000001:{port}/"),
    ("short", "http://127.1:{port}/"),
    ("short", "http://127.0.1:{port}/"),
    ("percent-encoded", "http://%31%32%37.0.0.1:{port}/"),
    ("percent-encoded", "http://127%2E0%2E0%2E1:{port}/"),
    ("full-width", "http://１２７。０。０。１:{port}/"),
    ("trailing-dot", "http://127.0.0.1.:{port}/"),
    ("userinfo", "https://allowed.example@127.0.0.1:{port}/"),
    ("userinfo", "http://127.0.0.1:{site_port}@127.0.0.1:{port}/"),
    ("backslash", "http://127.0.0.1:{port}\\@example.com/"),
    ("whitespace", " \thttp://127.0.0.1:{port}/"),
    ("unspecified", "http://0.0.0.0:{port}/"),
    ("unspecified", "http://0:{port}/"),
    ("unspecified", "http://[::]:{port}/"),
    ("private", "http://10.0.0.1/"),
    ("private", "http://172.16.0.1/"),
    ("private", "http://192.168.0.1/"),
    ("private", "http://[fd00::1]/"),
    ("cgnat", "http://100.64.0.1/"),
    ("link-local", "http://169.254.1.1/"),
    ("link-local", "http://[fe80::1]/"),
    ("metadata", "http://169.254.169.254/latest/meta-data/"),
    ("metadata", "http://[fd00:ec2::254]/"),
    ("multicast", "http://224.0.0.1/"),
    ("broadcast", "http://255.255.255.255/"),
    ("reserved", "http://240.0.0.1/"),
    ("redirect", "page:/to-canary"),
    ("redirect", "page:/to-canary-hex"),
    ("redirect", "page:/to-file"),
    ("meta-refresh", "page:/meta-refresh"),
    ("js-location", "page:/js-location"),
    ("iframe", "page:/iframe"),
    ("page-fetch", "page:/page-fetch"),
    ("img", "page:/img"),
    ("websocket", "page:/websocket"),
    ("preconnect", "page:/preconnect"),
    ("redirect-iframe", "page:/redirect-iframe"),
    ("redirect-img", "page:/redirect-img"),
    ("redirect-fetch", "page:/redirect-fetch"),
    ("form-post", "page:/form-post"),
]


@dataclass(frozen=True)
class Outcome:
    category: str
    target: str
    tool: ToolName
    blocked: bool
    canary_hits: int
    detail: str


def target_url(target: str, site: SiteServer) -> str:
    if target.startswith("page:"):
        return site.url(target.removeprefix("page:"))
    return target.replace("{port}", str(site.canary.port)).replace("{site_port}", str(site.port))


async def attempt(
    category: str, target: str, tool: ToolName, site: SiteServer, pool: BrowserPool
) -> Outcome:
    """Run one attack through one tool; blocked means refused (direct) and no canary hit."""
    url = target_url(target, site)
    before = site.canary.hits
    obs: Observation
    if tool == "fetch":
        obs = await FetchTool(policy=site.policy, browser=pool).observe(url=url)
    else:
        browser = BrowserTool(policy=site.policy, pool=pool)
        obs = await browser.observe(action="open", url=url)
        if obs.ok:  # let the page's scripts finish against the guard, then close it
            await browser.observe(action="close", session=obs.fields["session"])
    hits = site.canary.hits - before
    refused = obs.error is not None and obs.error.kind == "refused"
    direct = not target.startswith("page:")
    blocked = hits == 0 and (refused or not direct)
    detail = obs.error.message if obs.error is not None else f"read ok via {obs.via}"
    return Outcome(category, target, tool, blocked, hits, detail)


def run_ssrf_suite(
    attacks: list[tuple[str, str]] | None = None, tools: tuple[ToolName, ...] = TOOLS
) -> dict[str, object]:
    """Every attack through every tool: {"tried", "refused", "canary_hits", "failures"}."""
    if "browser" in tools and chromium_missing() is not None:
        tools = tuple(t for t in tools if t != "browser")
    chosen = ATTACKS if attacks is None else attacks
    site = SiteServer()
    pool = BrowserPool(TEST_BROWSER)

    async def run_all() -> list[Outcome]:
        return [
            await attempt(category, target, tool, site, pool)
            for category, target in chosen
            for tool in tools
        ]

    try:
        outcomes = io_loop().run(run_all())
    finally:
        io_loop().run(pool.aclose(), timeout=60)
        site.stop()
    return {
        "tried": len(outcomes),
        "refused": sum(o.blocked for o in outcomes),
        "canary_hits": site.canary.hits,
        "tools": list(tools),
        "failures": [
            f"{o.tool} {o.category} {o.target}: {o.detail}" for o in outcomes if not o.blocked
        ],
    }
