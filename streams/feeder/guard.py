"""SSRF guard: only http(s), and never a private, loopback or link-local address unless allowed.

The check sits in the connector's resolver, so it applies after DNS resolution to every connection,
redirect hops included, and a name that resolves differently at connect time is checked again.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver


class BlockedAddress(OSError):
    """The URL's host resolves to an address the feeder must not reach."""


def check_url(url: str, allow_private: bool) -> None:
    """Scheme, and hosts written as IP addresses (the connector does not resolve those, so its check never runs)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedAddress(f"only http and https are fetched: {url[:200]}")
    host = (parts.hostname or "").strip("[]")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name: checked by GuardedResolver after resolution
    if not allow_private and not is_public(host):
        raise BlockedAddress(f"{host} is not a public address")


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified)


class GuardedResolver(AbstractResolver):
    def __init__(self, allow_private: bool = False) -> None:
        self.allow_private = allow_private
        self._resolver = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET):
        answers = await self._resolver.resolve(host, port, family)
        if not self.allow_private:
            blocked = [a["host"] for a in answers if not is_public(a["host"])]
            if blocked:
                raise BlockedAddress(f"{host} resolves to a non-public address ({blocked[0]})")
        return answers

    async def close(self) -> None:
        await self._resolver.close()
