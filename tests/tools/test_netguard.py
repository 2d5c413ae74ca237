"""The SSRF guard: URL parsing like a browser, address rules, policy openings."""

from __future__ import annotations

import ipaddress

import pytest

from tools.netguard import (
    InvalidURL,
    NetworkPolicy,
    address_refusal,
    check_host,
    check_url,
    parse_url,
)

CLOSED = NetworkPolicy()


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://2130706433/", "127.0.0.1"),  # decimal
        ("http://0x7f000001/", "127.0.0.1"),  # hex
        ("http://0x7f.0.0.1/", "127.0.0.1"),  # hex part
        ("http://0177.0.0.1/", "127.0.0.1"),  # octal part
        ("http://127.1/", "127.0.0.1"),  # short form
        ("http://127.0.1/", "127.0.0.1"),
        ("http://0/", "0.0.0.0"),
        ("http://%31%32%37.0.0.1/", "127.0.0.1"),  # percent-encoded
        ("http://127.0.0.1./", "127.0.0.1"),  # trailing dot
        ("http://１２７。０。０。１/", "127.0.0.1"),  # full-width digits and dots
        ("https://allowed.example@127.0.0.1/", "127.0.0.1"),  # userinfo
        ("https://a@b@127.0.0.1/", "127.0.0.1"),  # the last @ wins
        ("http://127.0.0.1\\@example.com/", "127.0.0.1"),  # backslash ends the authority
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("HTTP://Example.COM./path", "example.com."),
        (" \thttp://exa\nmple.com/", "example.com"),  # tabs and newlines are dropped
        ("http:\\\\example.com\\a", "example.com"),
    ],
)
def test_hosts_are_parsed_like_a_browser(url: str, host: str) -> None:
    assert parse_url(url).host == host


def test_parse_keeps_path_and_query_but_drops_the_fragment() -> None:
    parsed = parse_url("http://example.com:8080/a\\b/c?q=1#frag")
    assert (parsed.port, parsed.target) == (8080, "/a/b/c?q=1")
    assert parsed.url == "http://example.com:8080/a/b/c?q=1"
    assert parse_url("https://example.com:443").url == "https://example.com/"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "data:text/html,<b>x</b>",
        "blob:http://example.com/1",
        "javascript:alert(1)",
        "chrome://settings",
        "chrome-extension://abc/x.html",
        "view-source:http://example.com/",
        "ftp://example.com/",
        "ws://example.com/",
        "wss://example.com/",
        "about:blank",
        "gopher://127.0.0.1:25/",
    ],
)
async def test_only_http_and_https_schemes_pass(url: str) -> None:
    verdict = await check_url(url, NetworkPolicy(allow_private_network=True))
    assert not verdict.allowed
    assert verdict.rule == "scheme"
    assert verdict.message.startswith("refused: scheme")


@pytest.mark.parametrize(
    "url", ["http://256.0.0.1/", "http://1.2.3.4.5/", "http://foo.0x7f/", "http://1.1.1.1:70000/"]
)
async def test_malformed_hosts_and_ports_are_invalid_input(url: str) -> None:
    verdict = await check_url(url, CLOSED)
    assert (verdict.allowed, verdict.kind) == (False, "invalid_input")
    with pytest.raises(InvalidURL):
        parse_url(url)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://LOCALHOST./", "loopback"),
        ("http://api.localhost/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped
        ("http://[64:ff9b::7f00:1]/", "loopback"),  # NAT64
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4
        ("http://10.1.2.3/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fc00::1]/", "private"),
        ("http://[fd12:3456::1]/", "private"),
        ("http://[64:ff9b:1::a00:1]/", "private"),  # local-use NAT64
        ("http://100.64.0.1/", "shared"),
        ("http://169.254.10.10/", "link_local"),
        ("http://[fe80::1]/", "link_local"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://198.18.0.1/", "private"),  # benchmarking range
        ("http://192.0.2.1/", "private"),  # documentation range
    ],
)
async def test_non_public_addresses_are_refused_with_the_rule(url: str, rule: str) -> None:
    verdict = await check_url(url, CLOSED)
    assert not verdict.allowed
    assert verdict.rule == rule
    assert verdict.kind == "refused"
    assert verdict.message.startswith("refused: host")
    assert verdict.addresses  # says which address it judged


async def test_public_addresses_pass_with_their_canonical_url() -> None:
    verdict = await check_url("http://8.8.8.8:80/a?b=1#c", CLOSED)
    assert verdict.allowed and verdict.rule == "public"
    assert verdict.url == "http://8.8.8.8/a?b=1"
    assert verdict.addresses == ("8.8.8.8",)


async def test_refusal_names_the_address_a_name_resolves_to() -> None:
    verdict = await check_url("http://localhost:8080/", CLOSED)
    assert verdict.message == "refused: host resolves to a loopback address (127.0.0.1)"


async def test_allow_hosts_with_a_port_opens_that_port_only() -> None:
    policy = NetworkPolicy(allow_hosts=("127.0.0.1:8080",))
    assert (await check_url("http://127.0.0.1:8080/x", policy)).allowed
    assert (await check_url("http://2130706433:8080/x", policy)).allowed  # same host, spelled oddly
    assert not (await check_url("http://127.0.0.1:8081/x", policy)).allowed
    assert not (await check_url("http://127.0.0.1/x", policy)).allowed
    assert not (await check_url("http://localhost:8080/x", policy)).allowed  # a different name


async def test_allow_hosts_without_a_port_and_wildcards() -> None:
    policy = NetworkPolicy(allow_hosts=("localhost", "*.internal.test", "[::1]:9000"))
    assert (await check_url("http://localhost:1234/", policy)).allowed
    assert (await check_url("http://[::1]:9000/", policy)).allowed
    assert not (await check_url("http://[::1]:9001/", policy)).allowed
    assert not (await check_url("http://127.0.0.1/", policy)).allowed
    verdict = await check_url("http://db.internal.test/", policy)
    assert verdict.rule != "loopback"  # matched by name; resolving it is a DNS question
    assert not policy.allows("internal.test.evil.example", 80)


async def test_private_network_policy_still_refuses_metadata_and_unspecified() -> None:
    policy = NetworkPolicy(allow_private_network=True)
    assert (await check_url("http://127.0.0.1:9/", policy)).allowed
    assert (await check_url("http://10.0.0.1/", policy)).allowed
    assert (await check_url("http://[fe80::1]/", policy)).rule == "private_network"
    assert (await check_url("http://169.254.169.254/", policy)).rule == "metadata"
    assert (await check_url("http://0.0.0.0/", policy)).rule == "unspecified"
    assert (await check_url("http://239.1.1.1/", policy)).rule == "multicast"


async def test_unresolvable_names_are_offline_not_refused() -> None:
    verdict = await check_url("http://no-such-host.invalid/", CLOSED)
    assert (verdict.allowed, verdict.rule, verdict.kind) == (False, "dns", "offline")


async def test_check_host_vets_a_bare_host_and_port() -> None:
    assert (await check_host("127.0.0.1", 80, CLOSED)).rule == "loopback"
    assert (await check_host("::1", 443, CLOSED)).rule == "loopback"
    assert (await check_host("8.8.8.8", 443, CLOSED)).allowed
    policy = NetworkPolicy(allow_hosts=("127.0.0.1:5000",))
    assert (await check_host("127.0.0.1", 5000, policy)).allowed


def test_address_rules_look_inside_ipv6_forms() -> None:
    def rule(text: str) -> str | None:
        found = address_refusal(ipaddress.ip_address(text), CLOSED)
        return found[0] if found else None

    assert rule("::ffff:10.0.0.1") == "private"
    assert rule("64:ff9b::a9fe:a9fe") == "metadata"
    assert rule("2002:c0a8:0101::1") == "private"
    assert rule("2606:4700::1111") is None
    assert rule("1.1.1.1") is None
