"""The client's address: the connection's, or behind a TLS proxy the one the proxy appended to
TRUSTED_PROXY_HEADER (never a value the client could have sent itself)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    header = settings.TRUSTED_PROXY_HEADER
    if header:
        hops = [hop.strip() for hop in request.META.get(header, "").split(",") if hop.strip()]
        # Each trusted proxy appends the address it saw; the client's is TRUSTED_PROXY_COUNT from the end.
        if len(hops) >= settings.TRUSTED_PROXY_COUNT:
            return _valid(hops[-settings.TRUSTED_PROXY_COUNT])
    return _valid(request.META.get("REMOTE_ADDR", ""))


def _valid(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_address_for_axes(request: HttpRequest) -> str:
    """django-axes locks (user, address) pairs: the same address the access log records."""
    return client_address(request) or ""
