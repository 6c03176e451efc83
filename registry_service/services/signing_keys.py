"""The RSA key that signs registry tokens: read from a configured file, or made on first start.

The default key lives in the data directory as ``registry_token_key.pem`` (mode 0600). It is
created atomically: the new key is written to a private temporary file and hard-linked to its
final name, which fails if the name exists, so two servers starting together on one data
directory end up with the same key (the loser of the race reads the winner's). Nothing here
knows about HTTP; the key's secret never leaves this module except to sign.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from registry_service.settings import SettingsInvalid

DEFAULT_KEY_FILE = "registry_token_key.pem"
KEY_BITS = 2048
PRIVATE_FILE_MODE = 0o600


class SigningKeyUnusable(SettingsInvalid):
    """The configured key file cannot be read or is not an RSA private key: a configuration
    error, which the CLI answers with exit code 2 (start-up loads the key before any port is
    bound)."""


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    # The JWT header's ``kid``: lets a verifier tell keys apart after a key change.
    key_id: str

    @functools.cached_property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()


class SigningKeyring:
    """The key one server signs and checks tokens with: loaded once, at start-up (``create_app``
    does it off the event loop) or else on first use."""

    def __init__(self, configured: str, data_dir: Path) -> None:
        self._configured = configured
        self._data_dir = data_dir
        self._key: SigningKey | None = None

    def get(self) -> SigningKey:
        if self._key is None:
            self._key = load_signing_key(self._configured, self._data_dir)
        return self._key


def key_path(configured: str, data_dir: Path) -> Path:
    return Path(configured) if configured else data_dir / DEFAULT_KEY_FILE


def load_signing_key(configured: str, data_dir: Path) -> SigningKey:
    """The configured key, or the data directory's (made now if there is none yet)."""
    path = key_path(configured, data_dir)
    if configured:
        try:
            return _read(path)
        except FileNotFoundError:
            raise SigningKeyUnusable(f"auth.registry_token_key: {path} does not exist") from None
    try:
        return _read(path)
    except FileNotFoundError:
        return _create(path)


def _read(path: Path) -> SigningKey:
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SigningKeyUnusable(f"auth.registry_token_key: cannot read {path}: {exc}") from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyUnusable(
            f"auth.registry_token_key: {path} is not an unencrypted PEM private key"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SigningKeyUnusable(
            f"auth.registry_token_key: {path} is not an RSA key (RS256 needs one)"
        )
    return SigningKey(key, _key_id(key))


def _create(path: Path) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0600 before a byte of the key is in it.
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".registry_token_key.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            # link, not rename: rename would replace a key another process already uses.
            os.link(temp_name, path)
        except FileExistsError:
            return _read(path)
    finally:
        os.unlink(temp_name)
    return SigningKey(key, _key_id(key))


def _key_id(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(der).digest()[:15]
    return base64.b32encode(digest).decode().rstrip("=")
