"""Refuse outbound URLs that point into our own network (SSRF).

Used when a customer registers a webhook URL, again right before each delivery (the name may
have been re-pointed since: DNS rebinding), and later for reference-image URLs.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

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


@dataclass(frozen=True)
class PinnedTarget:
    """Where to connect so that the checked address is the one used: the URL with its host
    replaced by that address, the original `Host` header, and the TLS server name for httpx
    (`extensions`), so certificates are still verified against the original host name."""

    url: str
    headers: dict
    extensions: dict


def url_pin(url: str, *, param: str = "url", allow_private: bool | None = None) -> PinnedTarget:
    """Check `url` like `url_assert_public` and pin the connection to a checked address: a
    name re-pointed between the check and the connection (DNS rebinding) cannot redirect it."""
    addresses = url_assert_public(url, param=param, allow_private=allow_private)
    parts = urlsplit(url)
    address = addresses[0].split("%", 1)[0]
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.hostname if not parts.port else f"{parts.hostname}:{parts.port}"
    if ":" in (parts.hostname or "") and not host_header.startswith("["):
        host_header = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return PinnedTarget(pinned, {"host": host_header}, extensions)
