"""A loopback web site for the page-reading tests, and a canary that must never be hit.

`SiteServer` serves a folder (``bench/site_pages`` by default) plus dynamic
routes on 127.0.0.1, on a port of its own. `Canary` is a second listener on
another port that counts every TCP connection it accepts. `Site.policy` opens
exactly the site's host:port, so the canary stays closed to the tools: any
connection it counts is an SSRF the guard missed.

The tests' fixtures for it are in ``tests/tools/site_server.py``; it sits here, with the
other local servers, so that a benchmark can serve it too (bench/ never imports tests/).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

from agent.errors import MissingDependencyError
from bench.local_server import LocalServer
from tools.browser import BrowserOptions, find_chromium
from tools.netguard import NetworkPolicy

__all__ = [
    "HUGE_BYTES",
    "PAGES",
    "RUSSIAN",
    "TEST_BROWSER",
    "Canary",
    "SiteServer",
    "chromium_missing",
]

PAGES = Path(__file__).parent / "site_pages"
HUGE_BYTES = 20 * 1024 * 1024
RUSSIAN = (
    "Маяк на мысе Керроу был впервые зажжён четвёртого марта 1871 года. Девяносто три года "
    "его фонарь зажигали три поколения одной семьи смотрителей. Башня стоит на гранитном "
    "хребте, который рыбаки залива называют Наковальней.\n\n"
    "Последний смотритель, Маргарет Абернети, вела журнал, в который записывала каждое судно, "
    "проходившее в виду маяка. Зимой 1947 года шторм продолжался одиннадцать дней, и лодка "
    "с припасами не могла пристать к берегу."
)
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4c00000000049454e44ae426082"
)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _CanaryHandler(_Quiet):
    def do_GET(self) -> None:
        self.server.owner.paths.append(self.path)  # type: ignore[attr-defined]
        body = b"canary"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_HEAD = do_GET


class Canary:
    """A listener on its own port; `hits` counts connections, `paths` the requests."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._server = LocalServer(_CanaryHandler, self)

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def hits(self) -> int:
        return self._server.connections

    def stop(self) -> None:
        self._server.stop()


class SiteServer:
    """The test site; routes that attack the canary point at `canary`."""

    def __init__(self, root: Path = PAGES, *, latency_s: float = 0.0) -> None:
        self.root = root
        self.latency_s = latency_s
        self.canary = Canary()
        self.sent: dict[str, int] = {}
        self.done: dict[str, threading.Event] = {}
        self.requests: list[str] = []
        self.stopping = threading.Event()
        handler = partial(_SiteHandler, directory=str(root))
        self._server = LocalServer(handler, self)

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base(self) -> str:
        return self._server.url

    @property
    def policy(self) -> NetworkPolicy:
        """Opens this site's host:port only, so the canary (another port) stays refused."""
        return NetworkPolicy(allow_hosts=(f"127.0.0.1:{self.port}",))

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        self.stopping.set()
        self._server.stop()
        self.canary.stop()


class _SiteHandler(_Quiet):
    server: LocalServer

    @property
    def site(self) -> SiteServer:
        owner: SiteServer = self.server.owner
        return owner

    def do_GET(self) -> None:
        self.site.requests.append(self.path)
        path = urllib.parse.urlsplit(self.path).path
        if self.site.latency_s and (path.endswith((".html", "/")) or path.startswith("/__js__/")):
            time.sleep(self.site.latency_s)
        route = _ROUTES.get(path.split("/", 2)[1] if path.count("/") > 1 else path.lstrip("/"))
        if route is not None:
            route(self, path)
        else:
            super().do_GET()

    def send_body(
        self, body: bytes | str, content_type: str = "text/html; charset=utf-8", status: int = 200
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location: str, status: int = 302) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def stream(self, name: str, total: int, *, declared: bool) -> None:
        """`total` bytes of HTML, recording how many were written before the reader quit."""
        self.site.sent[name] = 0
        done = self.site.done.setdefault(name, threading.Event())
        done.clear()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            if declared:
                self.send_header("Content-Length", str(total))
            self.end_headers()
            block = b"<p>" + b"Kerrow tide table row. " * 2700 + b"</p>\n"
            self.wfile.write(b"<html><head><title>Huge</title></head><body>")
            written = 45
            while written < total and not self.site.stopping.is_set():
                chunk = block[: total - written]
                self.wfile.write(chunk)
                written += len(chunk)
                self.site.sent[name] = written
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            done.set()


def _html(title: str, body: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body>{body}<p>This page is part of the network guard tests and has enough text "
        f"to be read as a page of its own.</p></body></html>"
    )


def _attack(title: str, markup: str) -> Any:
    """A page route whose markup names the canary (``{canary}`` and ``{canary_ws}``)."""

    def route(h: _SiteHandler, path: str) -> None:
        canary = h.site.canary.url
        body = markup.format(canary=canary, canary_ws=canary.replace("http", "ws", 1))
        h.send_body(_html(title, body))

    return route


def _slow(h: _SiteHandler, path: str) -> None:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)
    delay = float(query.get("s", ["30"])[0])
    h.site.stopping.wait(delay)
    h.send_body(_html("Slow", "<p>Finally here.</p>"))


def _redirect(h: _SiteHandler, path: str) -> None:
    left = int(path.rsplit("/", 1)[1] or 0)
    h.redirect(f"/redirect/{left - 1}" if left > 0 else "/article.html")


def _charset(h: _SiteHandler, path: str) -> None:
    how = path.rsplit("/", 1)[1]
    meta = '<meta charset="windows-1251">' if how == "meta" else ""
    paragraphs = "".join(f"<p>{p}</p>" for p in RUSSIAN.split("\n\n"))
    page = f"<html><head>{meta}<title>Маяк</title></head><body>{paragraphs}</body></html>"
    header = "text/html; charset=windows-1251" if how == "header" else "text/html"
    h.send_body(page.encode("cp1251"), header)


def _js_doc(h: _SiteHandler, path: str) -> None:
    """Any page of the site, rendered only by script (the bench's JavaScript pages)."""
    target = "/" + path.split("/", 2)[2]
    script = (
        f"fetch({json.dumps(target)}).then(r => r.text()).then(t => {{"
        " const d = new DOMParser().parseFromString(t, 'text/html');"
        " document.title = d.title; document.getElementById('root').innerHTML = d.body.innerHTML;"
        " });"
    )
    h.send_body(
        f'<html><head><title>app</title></head><body><div id="root"></div>'
        f"<noscript>Please enable JavaScript.</noscript><script>{script}</script></body></html>"
    )


_ROUTES: dict[str, Any] = {
    "slow": _slow,
    "redirect": _redirect,
    "redirect-loop": lambda h, p: h.redirect("/redirect-loop"),
    "charset": _charset,
    "__js__": _js_doc,
    "huge": lambda h, p: h.stream("huge", HUGE_BYTES, declared=False),
    "huge-declared": lambda h, p: h.stream("huge-declared", HUGE_BYTES, declared=True),
    "text": lambda h, p: h.send_body("Tide tables for Kerrow.\n\nHigh water 06:12.", "text/plain"),
    "binary": lambda h, p: h.send_body(bytes(range(256)) * 64, "application/octet-stream"),
    "image.png": lambda h, p: h.send_body(_PNG, "image/png"),
    "missing": lambda h, p: h.send_body(_html("Gone", "<p>Not here.</p>"), status=404),
    "download": lambda h, p: _download(h),
    "to-canary": lambda h, p: h.redirect(h.site.canary.url + "/redirected"),
    "to-canary-hex": lambda h, p: h.redirect(f"http://0x7f000001:{h.site.canary.port}/hex"),
    "to-file": lambda h, p: h.redirect("file:///etc/passwd"),
    "meta-refresh": _attack(
        "Meta refresh", '<meta http-equiv="refresh" content="0;url={canary}/meta"><p>Moving.</p>'
    ),
    "js-location": _attack(
        "JS location", '<p>Moving.</p><script>location.href = "{canary}/js";</script>'
    ),
    "iframe": _attack("Iframe", '<iframe src="{canary}/iframe"></iframe>'),
    "page-fetch": _attack(
        "Fetch", '<script>fetch("{canary}/fetch", {{mode: "no-cors"}}).catch(() => 0);</script>'
    ),
    "img": _attack("Image", '<img src="{canary}/img.png" alt="x">'),
    "websocket": _attack(
        "WebSocket", '<script>try {{ new WebSocket("{canary_ws}/ws"); }} catch (e) {{}}</script>'
    ),
    "preconnect": _attack(
        "Preconnect",
        '<link rel="preconnect" href="{canary}"><link rel="dns-prefetch" href="{canary}">'
        '<link rel="prefetch" href="{canary}/prefetch">',
    ),
    "redirect-iframe": _attack("Iframe hop", '<iframe src="/to-canary"></iframe>'),
    "redirect-img": _attack("Image hop", '<img src="/to-canary" alt="x">'),
    "redirect-fetch": _attack("Fetch hop", '<script>fetch("/to-canary").catch(() => 0);</script>'),
    "form-post": _attack(
        "Form",
        '<form id="f" method="post" action="{canary}/post"><input name="a" value="1"></form>'
        '<script>document.getElementById("f").submit();</script>',
    ),
}


def _download(h: _SiteHandler) -> None:
    data = b"root:x:0:0:root:/root:/bin/bash\n"
    h.send_response(200)
    h.send_header("Content-Type", "application/octet-stream")
    h.send_header("Content-Disposition", 'attachment; filename="../../etc/passwd"')
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium is found."""
    try:
        find_chromium()
    except MissingDependencyError as exc:
        return str(exc)
    return None


TEST_BROWSER = BrowserOptions(page_timeout_s=10, network_idle_s=1.5, max_bytes=2_000_000)
