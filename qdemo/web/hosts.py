"""Which ``Host`` headers a server answers: the defence against DNS rebinding.

A page of another site whose name is rebound to this machine's address reaches the server
with *its own* name in the ``Host`` header. So a server answers only requests that name it by
an allowed name and its port: the loopback names, the address it is bound to (unless that
is a wildcard such as ``0.0.0.0`` or ``::``) and the names given with ``--allow-host``
(:func:`allowed_host_names`, :func:`host_allowed`). This holds on every bind, loopback or not.
"""

from __future__ import annotations

import ipaddress
import re

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
"""Host names every server answers to (with its port)."""

_DNS_NAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]{0,251}[a-z0-9_])?")


def allowed_host_names(bound: str, extra: tuple[str, ...] | list[str] = ()) -> frozenset[str]:
    """The names a server bound to ``bound`` answers to: the loopback names, ``bound`` itself
    unless it is a wildcard (``0.0.0.0``, ``::``), and the ``extra`` ones (``--allow-host``);
    ValueError for an ``extra`` name that is neither a DNS name nor an IP address."""
    for name in extra:
        if not _valid_name(_host_name(name)):
            raise ValueError(f"--allow-host {name[:80]!r}: give a host name or an IP address, without a port")
    names = set(LOOPBACK_NAMES) | {_host_name(n) for n in extra}
    if not is_wildcard(bound):
        names.add(_host_name(bound))
    return frozenset(n for n in names if n)


def _host_name(name: str) -> str:
    name = name.strip().lower().rstrip(".")
    return name[1:-1] if name.startswith("[") and name.endswith("]") else name


def _valid_name(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return bool(_DNS_NAME.fullmatch(name))


def is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(_host_name(host)).is_unspecified
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    name = _host_name(host)
    try:
        return name == "localhost" or ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(header: str | None, names: frozenset[str], port: int) -> bool:
    """Whether a ``Host`` header names this server: an allowed name and its port (which
    may be left out only on port 80)."""
    text = (header or "").strip().lower()
    if text.startswith("["):
        name, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return False
        given = rest[1:] if rest else None
    else:
        name, sep, given = text.rpartition(":") if ":" in text else (text, "", None)
    if given is None:
        ok_port = port == 80
    else:
        ok_port = given.isascii() and given.isdigit() and len(given) <= 5 and int(given) == port
    return ok_port and name.rstrip(".") in names



__all__ = ["LOOPBACK_NAMES", "allowed_host_names", "host_allowed", "is_loopback", "is_wildcard"]
