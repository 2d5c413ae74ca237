"""The SSRF guard: decide, before any connection, whether a URL may be fetched.

Pages and models choose URLs, so every URL the fetch and browser tools touch is
checked here first: only ``http``/``https``, and only hosts whose every
address is public unicast unless the policy opens a host or the private
network. Hosts are parsed the way a browser parses them (WHATWG URL rules:
backslashes, the last ``@``, percent-encoding, full-width digits and the
decimal/hex/octal/short IPv4 spellings that ``ipaddress`` and ``urllib`` do
not read), so the guard checks the host the connection really goes to.

A verdict carries the vetted addresses: callers connect to those (the fetch
transport and the browser's guard proxy do), so a name cannot re-resolve to a
private address between the check and the connection (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
import urllib.parse
from dataclasses import dataclass

import idna
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat

from agent.observation import ErrorKind

__all__ = [
    "GuardVerdict",
    "InvalidURL",
    "NetworkPolicy",
    "ParsedURL",
    "address_refusal",
    "check_host",
    "check_url",
    "parse_url",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
_FORBIDDEN_HOST_CHARS = frozenset("\x00\t\n\r #/:<>?@[\\]^|%\x7f") | {chr(i) for i in range(0x20)}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# Cloud metadata endpoints stay closed even when the private network is allowed.
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


class NetworkPolicy(BaseModel):
    """Which non-public destinations the tools may reach (none, by default)."""

    model_config = ConfigDict(frozen=True)

    allow_hosts: tuple[str, ...] = Field(
        default=(),
        description="hosts reachable whatever they resolve to: 'host', 'host:port', "
        "'[v6]:port' or '*.suffix'; 'host:port' opens that one port only",
    )
    allow_private_network: bool = Field(
        default=False,
        description="allow loopback, private, link-local and CGNAT addresses "
        "(cloud metadata, multicast and unspecified addresses stay refused)",
    )
    dns_timeout_s: PositiveFloat = 5.0

    def allows(self, host: str, port: int) -> bool:
        """Whether `host` (canonical, as `parse_url` gives it) and `port` are opened by name."""
        bare = host.rstrip(".")
        for entry in self.allow_hosts:
            if entry.startswith("*."):
                suffix = entry[1:].lower().rstrip(".")
                if bare.endswith(suffix) and not _looks_numeric(bare):
                    return True
                continue
            try:
                allowed_host, allowed_port = _split_host_port(entry)
                canonical, _ = canonical_host(allowed_host)
            except InvalidURL:
                continue
            if canonical.rstrip(".") == bare and allowed_port in (None, port):
                return True
        return False


class InvalidURL(ValueError):
    """A URL the guard will not pass; `rule` names why (scheme, invalid_url)."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


@dataclass(frozen=True)
class ParsedURL:
    """An http(s) URL reduced to what a connection uses, host in canonical form."""

    scheme: str
    host: str  # lower-case ASCII name, dotted IPv4, or IPv6 without brackets
    port: int
    target: str  # path and query, no fragment
    is_ip: bool

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.target}"


@dataclass(frozen=True)
class GuardVerdict:
    """The guard's answer; when not `allowed`, `rule` and `reason` say why."""

    allowed: bool
    url: str
    rule: (
        str  # public | allow_hosts | private_network | scheme | invalid_url | dns | <address rule>
    )
    reason: str = ""
    host: str = ""
    port: int = 0
    addresses: tuple[str, ...] = ()
    kind: ErrorKind = "refused"

    @property
    def message(self) -> str:
        if self.allowed:
            return f"allowed ({self.rule})"
        return f"refused: {self.reason}" if self.kind == "refused" else self.reason


def parse_url(raw: str) -> ParsedURL:
    """Read `raw` like a browser would, refusing non-http(s) schemes and bad hosts."""
    text = raw.strip("".join(chr(i) for i in range(0x21)))
    text = text.replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME.match(text)
    if match is None:
        raise InvalidURL("invalid_url", f"not an absolute http(s) URL: {raw[:200]!r}")
    scheme = match.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL("scheme", f"scheme '{scheme}:' is not allowed (only http and https)")
    rest = text[match.end() :].lstrip("/\\")  # special schemes skip any run of slashes
    end = min((i for i in (rest.find(c) for c in "/\\?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    authority = authority.rsplit("@", 1)[-1]  # userinfo ends at the last @
    host_text, port = _split_host_port(authority)
    host, is_ip = canonical_host(host_text)
    tail = tail.split("#", 1)[0]
    path, sep, query = tail.partition("?")
    target = (path.replace("\\", "/") or "/") + sep + query
    return ParsedURL(scheme, host, port or _DEFAULT_PORTS[scheme], target, is_ip)


def canonical_host(text: str) -> tuple[str, bool]:
    """The host a browser would connect to, and whether it is an IP literal."""
    if text.startswith("["):
        if not text.endswith("]"):
            raise InvalidURL("invalid_url", f"unterminated IPv6 host {text!r}")
        try:
            return ipaddress.IPv6Address(text[1:-1]).compressed, True
        except ValueError:
            raise InvalidURL("invalid_url", f"invalid IPv6 host {text!r}") from None
    try:
        decoded = urllib.parse.unquote_to_bytes(text).decode("utf-8")
        mapped = idna.uts46_remap(decoded, std3_rules=False, transitional=False)
        labels = [lab if lab.isascii() else idna.alabel(lab).decode() for lab in mapped.split(".")]
    except (UnicodeError, idna.IDNAError):
        raise InvalidURL("invalid_url", f"invalid host {text!r}") from None
    host = ".".join(labels).lower()
    if not host or any(c in _FORBIDDEN_HOST_CHARS for c in host):
        raise InvalidURL("invalid_url", f"invalid host {text!r}")
    if _looks_numeric(host):
        return str(_parse_ipv4(host)), True
    return host, False


def address_refusal(address: IPAddress, policy: NetworkPolicy) -> tuple[str, str] | None:
    """(rule, description) when `address` may not be reached under `policy`, else None."""
    ip = _embedded_ipv4(address)
    if ip in _METADATA or address in _METADATA:
        return "metadata", "a cloud metadata address"
    if ip.is_unspecified:
        return "unspecified", "an unspecified address"
    if ip.is_multicast:
        return "multicast", "a multicast address"
    if ip == _BROADCAST:
        return "broadcast", "the broadcast address"
    found: tuple[str, str] | None = None
    if address in _NAT64_LOCAL:
        found = ("private", "a private address (local NAT64)")
    elif ip.is_loopback:
        found = ("loopback", "a loopback address")
    elif ip.is_link_local:
        found = ("link_local", "a link-local address")
    elif isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        found = ("shared", "a shared (CGNAT) address")
    elif ip.is_reserved:
        found = ("reserved", "a reserved address")
    elif ip.is_private:
        found = ("private", "a private address")
    elif not ip.is_global:
        found = ("not_global", "an address that is not globally routable")
    if found is not None and policy.allow_private_network:
        return None
    return found


async def check_url(url: str, policy: NetworkPolicy) -> GuardVerdict:
    """Parse, resolve and vet `url`; never raises for a refusal."""
    try:
        parsed = parse_url(url)
    except InvalidURL as exc:
        kind: ErrorKind = "refused" if exc.rule == "scheme" else "invalid_input"
        return GuardVerdict(False, url, exc.rule, exc.reason, kind=kind)
    return await _vet(parsed, policy)


async def check_host(host: str, port: int, policy: NetworkPolicy) -> GuardVerdict:
    """Vet a bare host and port (a proxy's CONNECT target, a transport's connect)."""
    try:
        text = f"[{host}]" if ":" in host and not host.startswith("[") else host
        canonical, is_ip = canonical_host(text)
    except InvalidURL as exc:
        return GuardVerdict(False, host, exc.rule, exc.reason, kind="invalid_input")
    return await _vet(ParsedURL("https", canonical, port, "/", is_ip), policy)


async def _vet(parsed: ParsedURL, policy: NetworkPolicy) -> GuardVerdict:
    def verdict(
        allowed: bool,
        rule: str,
        reason: str = "",
        addresses: tuple[str, ...] = (),
        kind: ErrorKind = "refused",
    ) -> GuardVerdict:
        return GuardVerdict(
            allowed, parsed.url, rule, reason, parsed.host, parsed.port, addresses, kind
        )

    named = policy.allows(parsed.host, parsed.port)
    try:
        addresses = await _resolve(parsed, policy.dns_timeout_s)
    except TimeoutError:
        return verdict(False, "dns", f"DNS lookup for {parsed.host} timed out", kind="offline")
    except OSError as exc:
        reason = f"could not resolve host {parsed.host} ({exc.strerror or exc})"
        return verdict(False, "dns", reason, kind="offline")
    if named:
        return verdict(True, "allow_hosts", addresses=addresses)
    for text in addresses:
        refusal = address_refusal(ipaddress.ip_address(text), policy)
        if refusal is not None:
            rule, what = refusal
            subject = "host is" if parsed.is_ip else "host resolves to"
            return verdict(False, rule, f"{subject} {what} ({text})", addresses)
    return verdict(
        True, "private_network" if policy.allow_private_network else "public", "", addresses
    )


# A short cache: a page's many subresources share a few hosts.
_DNS_CACHE: dict[tuple[str, int], tuple[float, tuple[str, ...]]] = {}
_DNS_TTL_S = 30.0


async def _resolve(parsed: ParsedURL, timeout_s: float) -> tuple[str, ...]:
    if parsed.is_ip:
        return (parsed.host,)
    bare = parsed.host.rstrip(".")
    if bare == "localhost" or bare.endswith(".localhost"):
        return ("127.0.0.1", "::1")  # browsers never ask DNS for these (RFC 6761)
    key = (parsed.host, parsed.port)
    cached = _DNS_CACHE.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(parsed.host, parsed.port, type=socket.SOCK_STREAM), timeout_s
    )
    # Scope ids (fe80::1%eth0) are not part of the address.
    found = tuple(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    if not found:
        raise OSError(f"no addresses for {parsed.host}")
    if len(_DNS_CACHE) > 512:
        _DNS_CACHE.clear()
    _DNS_CACHE[key] = (time.monotonic() + _DNS_TTL_S, found)
    return found


def _split_host_port(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise InvalidURL("invalid_url", f"unterminated IPv6 host in {authority!r}")
        host, after = authority[: close + 1], authority[close + 1 :]
        if after and not after.startswith(":"):
            raise InvalidURL("invalid_url", f"invalid authority {authority!r}")
        port_text = after[1:]
    else:
        host, sep, port_text = authority.rpartition(":")
        if not sep:
            host, port_text = authority, ""
    if not port_text:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
        raise InvalidURL("invalid_url", f"invalid port {port_text!r}")
    return host, int(port_text)


def _looks_numeric(host: str) -> bool:
    """WHATWG "ends in a number": such hosts are IPv4 addresses or invalid."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    if last and last.isascii() and last.isdigit():
        return True
    return last[:2].lower() == "0x" and all(c in "0123456789abcdefABCDEF" for c in last[2:])


def _parse_ipv4(host: str) -> ipaddress.IPv4Address:
    """WHATWG IPv4 parsing: 1-4 parts, each decimal, 0x-hex or 0-octal."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        raise InvalidURL("invalid_url", f"invalid IPv4 host {host!r}")
    numbers = [_ipv4_number(part, host) for part in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise InvalidURL("invalid_url", f"invalid IPv4 host {host!r}")
    value = numbers[-1] + sum(n * 256 ** (3 - i) for i, n in enumerate(numbers[:-1]))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str, host: str) -> int:
    digits, radix, allowed = part, 10, "0123456789"
    if part[:2].lower() == "0x":
        digits, radix, allowed = part[2:], 16, "0123456789abcdefABCDEF"
    elif len(part) > 1 and part.startswith("0"):
        digits, radix, allowed = part[1:], 8, "01234567"
    if not part or any(c not in allowed for c in digits):
        raise InvalidURL("invalid_url", f"invalid IPv4 host {host!r}")
    return int(digits, radix) if digits else 0


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4), else the address."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return address
