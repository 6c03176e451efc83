"""Registry tokens: the RS256 JWTs ``/jwt/auth`` issues and ``/v2`` accepts as Bearer tokens.

The claims are GitLab's (gitlab-api.md §8 "Token flow"): ``iss`` (``auth.registry_token_issuer``),
``aud`` = the service, ``sub`` = the username ("" when anonymous), ``iat``/``nbf``/``exp``,
``jti``, and ``access``, the list of granted ``{type, name, actions, meta}``. A verified token
is a ``Grant``: what ``/v2`` may let its bearer do, decided from the token alone, with no
catalog lookup (``TokenVerifier`` checks a token's signature once and its times on every use).
Signing and checking the signature, audience and issuer are PyJWT's; the times are checked here
against the injected clock (PyJWT would read the system clock).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from registry_service.errors import BearerTokenInvalid
from registry_service.services.signing_keys import SigningKey

# GitLab's audience for its container registry: the only ``service`` /jwt/auth serves.
SERVICE = "container_registry"
ALGORITHM = "RS256"
# Every action, as an access entry may grant it (GitLab's admin_container_image).
ALL_ACTIONS = "*"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "nbf", "exp", "access")


@dataclass(frozen=True)
class AccessEntry:
    """One granted resource: ``repository`` + image path, or ``registry`` + ``catalog``."""

    type: str
    name: str
    actions: tuple[str, ...]
    # For a repository: {project_path, project_id, root_namespace_id}.
    meta: Mapping[str, Any] | None = None

    def allows(self, action: str) -> bool:
        return action in self.actions or ALL_ACTIONS in self.actions

    def claim(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "actions": list(self.actions),
        }
        if self.meta is not None:
            entry["meta"] = dict(self.meta)
        return entry


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in_s: int
    issued_at: datetime


@dataclass(frozen=True)
class Grant:
    """What a verified token lets its bearer do."""

    subject: str
    access: tuple[AccessEntry, ...]

    def find(self, type_: str, name: str, action: str) -> AccessEntry | None:
        """The entry granting ``action`` on the resource, if any."""
        for entry in self.access:
            if entry.type == type_ and entry.name == name and entry.allows(action):
                return entry
        return None


def issue_token(
    key: SigningKey,
    *,
    issuer: str,
    subject: str,
    access: Sequence[AccessEntry],
    now: datetime,
    ttl_s: int,
) -> IssuedToken:
    """A signed token granting exactly ``access`` to ``subject`` for ``ttl_s`` seconds."""
    issued_at = now.astimezone(UTC).replace(microsecond=0)
    claims = {
        "iss": issuer,
        "aud": SERVICE,
        "sub": subject,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + timedelta(seconds=ttl_s),
        "jti": uuid.uuid4().hex,
        "access": [entry.claim() for entry in access],
    }
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.key_id})
    return IssuedToken(token, ttl_s, issued_at)


def verify_token(key: SigningKey, token: str, *, issuer: str, now: datetime) -> Grant:
    """The grant of a token signed by ``key`` for this service and issuer, valid at ``now``;
    ``BearerTokenInvalid`` otherwise. The reasons name no part of the token."""
    checked = _decode(key, token, issuer)
    checked.check_times(now)
    return checked.grant


class TokenVerifier:
    """``verify_token`` that remembers the tokens whose signature it has checked.

    A client sends one token with every request for its lifetime, and the RSA check costs more
    than the whole catalog lookup HTTP Basic does; the signature, issuer and audience of a
    token string cannot change, so they are checked once and its times on every request. Only
    tokens that passed are kept, at most ``max_entries``, the least recently used leaving first.
    """

    def __init__(
        self, key: Callable[[], SigningKey], issuer: str, max_entries: int = 4096
    ) -> None:
        # A callable: the key is read (or made) at start-up, after this is built.
        self._key = key
        self._issuer = issuer
        self._max_entries = max_entries
        self._checked: OrderedDict[str, _CheckedToken] = OrderedDict()

    def verify(self, token: str, now: datetime) -> Grant:
        checked = self._checked.get(token)
        if checked is None:
            checked = _decode(self._key(), token, self._issuer)
            self._checked[token] = checked
            if len(self._checked) > self._max_entries:
                self._checked.popitem(last=False)
        else:
            self._checked.move_to_end(token)
        checked.check_times(now)
        return checked.grant


@dataclass(frozen=True)
class _CheckedToken:
    """A token whose signature, issuer and audience are good; its times are checked per use."""

    grant: Grant
    not_before: float
    expires: float

    def check_times(self, now: datetime) -> None:
        timestamp = now.timestamp()
        if timestamp >= self.expires:
            raise BearerTokenInvalid("token has expired")
        if timestamp < self.not_before:
            raise BearerTokenInvalid("token is not valid yet")


def _decode(key: SigningKey, token: str, issuer: str) -> _CheckedToken:
    try:
        claims = jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
            audience=SERVICE,
            issuer=issuer,
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidAudienceError:
        raise BearerTokenInvalid("token is for another service") from None
    except jwt.InvalidSignatureError:
        raise BearerTokenInvalid("token signature is invalid") from None
    except jwt.InvalidTokenError:
        raise BearerTokenInvalid("token is malformed or not issued here") from None
    expires, not_before = claims["exp"], claims["nbf"]
    if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
        raise BearerTokenInvalid("token is malformed or not issued here")
    return _CheckedToken(
        Grant(str(claims["sub"]), _access(claims["access"])), float(not_before), float(expires)
    )


def _access(claim: Any) -> tuple[AccessEntry, ...]:
    # The signature vouches for the content; the shape is checked so a bug elsewhere that
    # signs a bad claim fails closed rather than with a 500.
    if not isinstance(claim, list):
        raise BearerTokenInvalid("token is malformed or not issued here")
    entries = []
    for item in claim:
        if not isinstance(item, dict):
            continue
        kind, name, actions = item.get("type"), item.get("name"), item.get("actions")
        if not (isinstance(kind, str) and isinstance(name, str) and isinstance(actions, list)):
            continue
        meta = item.get("meta")
        entries.append(
            AccessEntry(
                kind,
                name,
                tuple(a for a in actions if isinstance(a, str)),
                meta if isinstance(meta, dict) else None,
            )
        )
    return tuple(entries)
