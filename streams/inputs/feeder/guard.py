"""SSRF guard: only http(s), and never an address that is not globally routable unless allowed.

The check sits in the connector's resolver, so it applies after DNS resolution to every connection,
redirect hops included, and a name that resolves differently at connect time is checked again.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver
from aiohttp.helpers import is_ip_address
from aiohttp.resolver import DefaultResolver
from yarl import URL


class BlockedAddress(OSError):
    """The URL's host resolves to an address the feeder must not reach."""


def check_url(url: str, allow_private: bool) -> None:
    """Scheme, and hosts written as IP addresses (the connector does not resolve those, so its check never runs).

    The host is read as the connector will read it: yarl folds full-width digits and ideographic dots
    (`１２７.０.０.１`, `127。0。0。1`) into an IP literal, and aiohttp takes legacy forms (`127.1`, `2130706433`,
    `0177.0.0.1`, a trailing dot) for addresses too; those never reach the resolver.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[bad": a listed link or a Location header the feeder must refuse, not crash on
        raise BlockedAddress(f"unreadable URL: {url[:200]}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BlockedAddress(f"only http and https are fetched: {url[:200]}")
    try:
        host = (URL(url).host or "").strip("[]")
    except ValueError:
        raise BlockedAddress(f"unreadable host: {url[:200]}") from None
    if "\0" in host or any(ord(c) < 0x20 for c in host):  # inet_aton and the resolver raise ValueError on them
        raise BlockedAddress(f"unreadable host: {url[:200]!r}")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if _numeric(host):
            if allow_private:
                return
            raise BlockedAddress(f"{host} is not a canonical IP address") from None
        return  # a name: checked by GuardedResolver after resolution
    if not allow_private and not is_public(host):
        raise BlockedAddress(f"{host} is not a globally routable address")


def _numeric(host: str) -> bool:
    """A host the connector or the C library would take for an IPv4 address though it is not written canonically."""
    if is_ip_address(host):
        return True
    try:
        socket.inet_aton(host.rstrip("."))
    except OSError:
        return False
    return True


# Not globally routable, whatever `is_global` says in a given Python version: shared address space (carrier NAT,
# cloud metadata such as 100.100.100.200), IETF protocol assignments, benchmarking, documentation, multicast,
# reserved, and their IPv6 counterparts (with the deprecated IPv4-compatible ::/96 and the IPv4-translated
# ::ffff:0:0:0/96 forms, which a translator may carry to the IPv4 address inside).
NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
    "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    "::/96", "::ffff:0:0:0/96", "3fff::/20", "5f00::/16",
))
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def is_public(address: str) -> bool:
    """Globally routable: `is_global`, none of NOT_GLOBAL, and the IPv4 address an IPv6 one carries (mapped,
    6to4, Teredo, NAT64) public too."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and any(ip in net for net in NAT64):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_public(str(embedded)):
            return False
        if ip.ipv4_mapped:
            return True
    return ip.is_global and not ip.is_multicast and not any(
        ip in net for net in NOT_GLOBAL if net.version == ip.version)


class GuardedResolver(AbstractResolver):
    def __init__(self, allow_private: bool = False) -> None:
        self.allow_private = allow_private
        self._resolver = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        answers = await self._resolver.resolve(host, port, family)
        if not self.allow_private:
            blocked = [a["host"] for a in answers if not is_public(a["host"])]
            if blocked:
                raise BlockedAddress(f"{host} resolves to an address that is not globally routable ({blocked[0]})")
        return answers

    async def close(self) -> None:
        await self._resolver.close()
