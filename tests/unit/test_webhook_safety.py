"""Where webhooks may be sent: https to public addresses, checked again at connect time."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from service.webhooks.resolver import SafeResolver
from service.webhooks.safety import AllowedHosts, Refused, check_url
from service.webhooks.sender import Sender
from service.webhooks.settings import WebhookSettings

NONE = AllowedHosts()
LOCAL = AllowedHosts.parse("127.0.0.1, receiver.internal, 10.1.0.0/16")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.org/in", "must use https"),
        ("ftp://hooks.example.org/in", "absolute https:// URL"),
        ("hooks.example.org/in", "absolute https:// URL"),
        ("https://user:pw@hooks.example.org/in", "user name or password"),
        ("https://hooks.example.org/in#x", "#fragment"),
        ("https://127.0.0.1/in", "private, loopback or link-local address (127.0.0.1)"),
        ("https://10.0.0.7/in", "private, loopback or link-local address"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or link-local address"),
        ("https://[::1]/in", "private, loopback or link-local address"),
        ("https://[::ffff:127.0.0.1]/in", "private, loopback or link-local address"),
        ("https://localhost/in", "names this machine"),
        ("https://hooks.example.org:99999/in", "is not a URL"),
    ],
)
def test_urls_webhooks_may_not_be_sent_to_are_refused_saying_why(url: str, why: str) -> None:
    with pytest.raises(Refused, match=why.replace("(", r"\(").replace(")", r"\)")):
        check_url(url, NONE)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.org/in?sig=abc",
        "http://127.0.0.1:8080/in",
        "http://receiver.internal/in",
        "https://10.1.4.5/in",
    ],
)
def test_https_to_public_hosts_and_the_operators_allowed_hosts_are_accepted(url: str) -> None:
    assert check_url(url, LOCAL) == url


class _Dns(AbstractResolver):
    """A name server's answers, as a rebinding attacker's would give them."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.answers[host]
        ]

    async def close(self) -> None:
        return None


async def test_a_name_is_checked_again_when_connecting_and_private_answers_are_dropped() -> None:
    dns = _Dns({"rebind.example": ["127.0.0.1", "10.0.0.3"], "mixed.example": ["93.184.216.34", "192.168.1.1"]})
    resolver = SafeResolver(NONE, dns)

    with pytest.raises(OSError, match="rebind.example resolves to 10.0.0.3, 127.0.0.1: private"):
        await resolver.resolve("rebind.example", 443)
    kept = await resolver.resolve("mixed.example", 443)
    assert [r["host"] for r in kept] == ["93.184.216.34"]


async def test_a_delivery_to_a_name_that_now_resolves_to_this_machine_is_refused_without_connecting() -> None:
    sender = Sender(WebhookSettings(), _Dns({"rebind.example": ["127.0.0.1"]}))
    try:
        outcome = await sender.post("https://rebind.example/in", b"{}", {})
    finally:
        await sender.close()

    assert not outcome.delivered and outcome.status is None
    assert outcome.error is not None
    assert (
        "rebind.example resolves to 127.0.0.1: private, loopback or link-local addresses are refused" in outcome.error
    )
