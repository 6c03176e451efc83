"""What counts as a credential in text we write out, and how it is blotted out.

This module owns the one list of secret parameter and header names (``SECRET_NAMES``) and
``Redactor``, which every log record passes through (``logs.py`` installs it on the log
handler and in both formatters). It must not trust the text's author: aiohttp quotes the raw
request line or header line of a request it refuses, so a name is matched in any case, with
``-`` or ``_`` (or either percent-encoded) between its words and with a trailing ``[]``, and a
value is replaced whatever it looks like. Beside named values it replaces
``Basic``/``Bearer`` credentials, a URL's password (``jobs.redis_url``), anything shaped like a
token we mint, and literal secrets the caller names (the configured admin token). It never
decides what is logged, only what is hidden.
"""

from __future__ import annotations

from collections.abc import Iterable

import re2

from registry_service.services.deploy_credentials import DEPLOY_TOKEN_PREFIX
from registry_service.services.tokens import TOKEN_PREFIX

FILTERED = "[FILTERED]"

# Credentials a client may send as a query or form parameter or a header (gitlab-api.md §4),
# and passwords (arq's RedisSettings repr), written in their normal form: lower case, words
# joined by "_". Never echoed in a URL or a log.
SECRET_NAMES = frozenset(
    {
        "private_token",
        "access_token",
        "job_token",
        "deploy_token",
        "authorization",
        "proxy_authorization",
        "password",
    }
)
_AUTHORIZATION_NAMES = frozenset({"authorization", "proxy_authorization"})


def normal_name(name: str) -> str:
    """A parameter or header name as ``SECRET_NAMES`` spells it: ``PRIVATE-TOKEN``,
    ``Private_Token`` and ``private_token[]`` all become ``private_token``."""
    return name.strip().lower().replace("-", "_").removesuffix("[]")


def is_secret_name(name: str) -> bool:
    """True for a parameter or header name that carries a credential, however it is spelled."""
    return normal_name(name) in SECRET_NAMES


def _spelled_any_way(name: str) -> str:
    """An RE2 pattern (for case-insensitive use) of ``name`` in every spelling a client or a
    quoted request line may use: words joined by ``_`` or ``-``, either of them or the ``[]``
    suffix percent-encoded."""
    joiner = "(?:[-_]|%2d|%5f)"
    words = [re2.escape(word) for word in name.split("_")]
    return joiner.join(words) + r"(?:\[\]|%5b%5d)?"


_NAMES = "|".join(_spelled_any_way(name) for name in sorted(SECRET_NAMES))
# ``name=value`` in a query string, a form body or a keyword repr: the value ends where a URL
# or a quoted string would end it.
_PARAM = re2.compile(rf"""(?i)({_NAMES})(["']?[ \t]*=[ \t]*["']?)([^&\s"']*)""")
# ``Name: value`` in a header line, a mapping repr or JSON: the value runs to the end of the
# line or of the quoted string (a header value may hold spaces: ``Basic <credentials>``).
_HEADER = re2.compile(rf"""(?i)({_NAMES})(["']?[ \t]*:[ \t]*["']?)([^\r\n"']*)""")
# Credentials after an HTTP auth scheme, wherever they appear; 16 characters or more, so that
# prose such as "Basic credentials" stays readable (the shortest token is 20 characters).
_SCHEME_CREDENTIALS = re2.compile(r"(?i)\b(basic|bearer)([ \t]+)[A-Za-z0-9._~+/-]{16,}=*")
_TOKEN_SHAPE = re2.compile(
    f"(?:{re2.escape(TOKEN_PREFIX)}|{re2.escape(DEPLOY_TOKEN_PREFIX)})" + r"[A-Za-z0-9_-]+"
)
# The password of a URL's user information (``redis://:secret@host:6379``).
_URL_PASSWORD = re2.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@")
# Text that holds none of these (once lower-cased) cannot match a pattern above: a name
# matches only with each of its words present, so its last word is enough to look for. Most
# log lines hold none, and a substring test costs a fraction of an RE2 pass.
_MARKERS = tuple(
    sorted(
        {name.rsplit("_", 1)[-1] for name in SECRET_NAMES}
        | {"basic", "bearer", TOKEN_PREFIX.lower(), DEPLOY_TOKEN_PREFIX, "://"}
    )
)


def _may_hold_secret(text: str) -> bool:
    folded = text.lower()
    # A plain loop, not any() over a generator: it runs for every log record, and the
    # generator costs a third more.
    for marker in _MARKERS:  # noqa: SIM110
        if marker in folded:
            return True
    return False


def _hide_value(match: re2._Match) -> str:
    name, separator, value = match.group(1), match.group(2), match.group(3)
    if normal_name(name) in _AUTHORIZATION_NAMES:
        # Keep the scheme: "Authorization: Basic [FILTERED]" still says how the client tried.
        scheme, space, credentials = value.partition(" ")
        if space and credentials.strip():
            return f"{name}{separator}{scheme} {FILTERED}"
    return f"{name}{separator}{FILTERED}"


class Redactor:
    """``redactor(text)``: the text with every credential it can recognise replaced by
    ``[FILTERED]``; ``literals`` are secrets known by value (at least 8 characters, so that a
    short value cannot blank out ordinary words)."""

    def __init__(self, literals: Iterable[str] = ()) -> None:
        self._literals = tuple(sorted({s for s in literals if len(s) >= 8}, key=len, reverse=True))

    def may_change(self, text: str) -> bool:
        """False when ``self(text)`` is sure to return ``text`` unchanged: it holds no literal
        secret and nothing a pattern could match. Cheaper than a redaction, so that a caller
        with many strings can screen them joined together, once."""
        return _may_hold_secret(text) or any(literal in text for literal in self._literals)

    def __call__(self, text: str) -> str:
        for literal in self._literals:
            text = text.replace(literal, FILTERED)
        if not _may_hold_secret(text):
            return text
        text = _HEADER.sub(_hide_value, text)
        text = _PARAM.sub(_hide_value, text)
        text = _SCHEME_CREDENTIALS.sub(rf"\1\2{FILTERED}", text)
        text = _URL_PASSWORD.sub(rf"\1{FILTERED}@", text)
        return str(_TOKEN_SHAPE.sub(FILTERED, text))
