"""API tokens as text: made with `secrets`, kept only as a SHA-256 (a token is 256 random bits, so a
fast hash is enough: there is nothing to guess), read from `Authorization: Bearer ...`. No database."""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "b12_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def shown_prefix(token: str) -> str:
    return token[:12]


def bearer(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for any other header."""
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or " " in value:
        return None
    return value
