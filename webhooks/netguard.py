"""The SSRF guard of callbacks: a callback may only reach public internet addresses.

The host of a callback URL is turned into addresses once (an IP literal in any spelling the C
library accepts: ``127.1``, ``2130706433``, ``0x7f000001``, ``017700000001``, ``[::1]``,
``[::ffff:127.0.0.1]``; else DNS), every address is checked, and the connection is made to
the checked address (``webhooks.transfer``), whose socket is checked again as it opens: a DNS
answer that changes between the check and the connect cannot smuggle an internal address in.
TLS and the ``Host`` header still name the host.
``WEBHOOKS_ALLOW_PRIVATE_CALLBACKS`` (development and tests) lets every address through.
See docs/decisions/0043-webhooks-ssrf-guard.md.
"""

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

from core.errors import ApplicationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
LOCAL_NAMES = ("localhost", "localhost.localdomain")


class CallbackRefusedError(ApplicationError):
    status_code = 400
    code = "callback_refused"


def resolve(host: str, port: int) -> list[str]:
    """The addresses DNS gives for ``host`` (the outside-world boundary; tests replace it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), else the address itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_is_public(ip: IPAddress) -> bool:
    inner = _embedded_ipv4(ip)
    return all(a.is_global and not a.is_multicast for a in {ip, inner})


def address_allowed(ip: IPAddress) -> bool:
    """Public, or inside a network the operator listed (WEBHOOKS_CALLBACK_ALLOWED_NETWORKS)."""
    if address_is_public(ip):
        return True
    return any(
        ip in network for network in _networks(tuple(settings.WEBHOOKS_CALLBACK_ALLOWED_NETWORKS))
    )


@lru_cache(maxsize=8)
def _networks(listed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The listed networks, parsed once per list (the setting is read on every call, so a test
    that changes it is seen at once)."""
    return tuple(ipaddress.ip_network(network, strict=False) for network in listed)


def _literal(host: str) -> IPAddress | None:
    """The address an IP literal names, in any spelling ``inet_aton`` takes (``127.1``...)."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def host_addresses(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` stands for, refused when any of them is not public."""
    name = host.rstrip(".").lower()
    if not name:
        raise CallbackRefusedError("The callback URL has no host.")
    literal = _literal(name)
    if literal is not None:
        addresses = [literal]
    elif name in LOCAL_NAMES or name.endswith(".localhost"):
        addresses = [ipaddress.ip_address("127.0.0.1")]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(name, port)]
        except (OSError, UnicodeError, ValueError):
            raise CallbackRefusedError(f"The callback host {host!r} does not resolve.") from None
    if not addresses:
        raise CallbackRefusedError(f"The callback host {host!r} does not resolve.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS:
        internal = [str(a) for a in addresses if not address_allowed(a)]
        if internal:
            raise CallbackRefusedError(
                f"The callback host {host!r} resolves to an internal address ({internal[0]})."
            )
    return addresses


def url_host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise CallbackRefusedError("The callback URL has an invalid port.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefusedError("The callback URL must be an absolute http(s) URL.")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def callback_check(url: str) -> str:
    """Check a callback URL now; returns the one address a connection should use."""
    host, port = url_host_port(url)
    return str(host_addresses(host, port)[0])
