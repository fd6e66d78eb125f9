"""Forwarded headers (X-Forwarded-For, -Proto, -Host, -Prefix) count only when a trusted proxy
sent them: a peer whose address is in FORWARDED_ALLOW_IPS, or any peer of a Unix socket, which
only the proxy can open. Gunicorn's own rule for its scheme headers, with the same setting; from
anyone else the headers are left as they came and change nothing (URLs, scheme, client address)."""

import ipaddress
from collections.abc import Mapping

from werkzeug.middleware.proxy_fix import ProxyFix

from .settings import ConfigError

DEFAULT = "127.0.0.1,::1"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(raw: str, name: str = "FORWARDED_ALLOW_IPS") -> tuple[Network, ...] | None:
    """The trusted networks, or None for `*` (every peer)."""
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if "*" in items:
        return None
    found = []
    for item in items:
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{name}={raw!r}: {item!r} is not an IP address or network; allowed: "
                              "addresses and networks (10.0.0.0/8), comma-separated, or *") from None
    return tuple(found)


def read_setting(env: Mapping[str, str], name: str) -> str:
    from .settings import env_str
    raw = env_str(env, name, DEFAULT)
    networks(raw, name)  # checked now, so a typo stops startup
    return raw


def trusted(remote_addr: str | None, allowed: tuple[Network, ...] | None) -> bool:
    # No IP peer is a Unix socket, which only the proxy reaches: Gunicorn gives "" (checked first,
    # on every request behind Nginx, without raising), another server may give the socket's path.
    if allowed is None or not remote_addr:
        return True
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in allowed)


class TrustedProxyFix:
    """ProxyFix with the hops given, for requests from a trusted proxy only."""

    def __init__(self, app, allowed: str, **hops: int):
        self.app = app
        self.fixed = ProxyFix(app, **hops)
        self.allowed = networks(allowed)

    def __call__(self, environ, start_response):
        if trusted(environ.get("REMOTE_ADDR"), self.allowed):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)
