"""Refuse outbound URLs that point into our own network (SSRF).

Used when a customer registers a webhook URL, again right before each delivery (the name may
have been re-pointed since: DNS rebinding), and later for reference-image URLs.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from config.errors import DomainError


class UnsafeUrl(DomainError):
    code = "unsafe_url"


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_assert_public(url: str, *, param: str = "url", allow_private: bool | None = None) -> list[str]:
    """The addresses `url`'s host resolves to, or UnsafeUrl when the URL is malformed, not
    http(s), or any address is loopback, private, link-local or otherwise not global.

    `allow_private` defaults to the `ALLOW_PRIVATE_WEBHOOK_URLS` setting (development only)."""
    if allow_private is None:
        allow_private = settings.ALLOW_PRIVATE_WEBHOOK_URLS
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("The URL must be an absolute http:// or https:// URL.", param=param)
    if parts.username or parts.password:
        raise UnsafeUrl("The URL must not contain credentials.", param=param)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise UnsafeUrl(f"The host '{parts.hostname}' does not resolve.", code="unresolvable_url",
                        param=param) from None
    addresses = sorted({info[4][0] for info in infos})
    if not allow_private:
        for address in addresses:
            if not _is_public(address):
                raise UnsafeUrl(f"The URL resolves to a non-public address ({address}); "
                                "only public internet addresses are allowed.", param=param)
    return addresses
