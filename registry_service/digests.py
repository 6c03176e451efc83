"""Content digests: the ``algorithm:encoded`` grammar, the algorithms we support, and hashing.

This module owns what a digest *is* — parsing text into a ``Digest``, refusing anything
malformed or unsupported with ``DigestInvalid``, and making the hasher that computes one. It does
no I/O: callers feed bytes to ``new_hasher`` while streaming and turn the result into a
``Digest`` with ``digest_from_hasher``. sha256 is required by the OCI specs; sha512 is accepted
(the distribution-spec main branch's ``digest-algorithm``). Both use lowercase hex only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from registry_service.errors import DigestInvalid

DEFAULT_ALGORITHM = "sha256"
# Supported algorithm → length of its lowercase hex encoding.
HEX_LENGTHS: dict[str, int] = {"sha256": 64, "sha512": 128}
SUPPORTED_ALGORITHMS = frozenset(HEX_LENGTHS)

# The OCI image-spec digest grammar (descriptor.md "Digests"); anything outside it is malformed.
_DIGEST_RE = re.compile(r"([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)")
_LOWER_HEX_RE = re.compile(r"[0-9a-f]+")
# Longest client text echoed back in an error message.
_SHOWN_CHARS = 80


class Hasher(Protocol):
    """The part of a ``hashlib`` object the service uses."""

    @property
    def name(self) -> str: ...

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...

    def copy(self) -> Hasher: ...


@dataclass(frozen=True, slots=True)
class Digest:
    """A supported, well-formed digest; ``str()`` gives the wire form ``alg:hex``."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        length = HEX_LENGTHS.get(self.algorithm)
        if length is None:
            raise DigestInvalid(f"unsupported digest algorithm {_shown(self.algorithm)}")
        if len(self.hex) != length or not _LOWER_HEX_RE.fullmatch(self.hex):
            raise DigestInvalid(
                f"invalid {self.algorithm} digest: expected {length} lowercase hex characters"
            )

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def parse_digest(text: str) -> Digest:
    """Parse ``alg:hex``; raise ``DigestInvalid`` if malformed or of an unsupported algorithm."""
    match = _DIGEST_RE.fullmatch(text)
    if match is None:
        raise DigestInvalid(f"invalid digest {_shown(text)}")
    algorithm, encoded = match.groups()
    if algorithm not in HEX_LENGTHS:
        # Well-formed per the grammar, but not an algorithm we can verify.
        raise DigestInvalid(f"unsupported digest algorithm {_shown(algorithm)}")
    return Digest(algorithm, encoded)


def new_hasher(algorithm: str = DEFAULT_ALGORITHM) -> Hasher:
    """A fresh hasher for ``algorithm``; raise ``DigestInvalid`` if it is unsupported."""
    if algorithm not in HEX_LENGTHS:
        raise DigestInvalid(f"unsupported digest algorithm {_shown(algorithm)}")
    return hashlib.new(algorithm)


def digest_from_hasher(hasher: Hasher) -> Digest:
    """The digest of everything fed to ``hasher`` so far (the hasher stays usable)."""
    return Digest(hasher.name, hasher.hexdigest())


def digest_of(data: bytes, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
    """The digest of ``data`` under ``algorithm``."""
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return digest_from_hasher(hasher)


def _shown(text: str) -> str:
    """Client text quoted for an error message, cut short so a huge value is not echoed."""
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "…"
    return repr(text)
