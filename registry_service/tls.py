"""HTTPS for ``serve``: the server's ``ssl.SSLContext`` from ``server.tls_cert``/``tls_key``,
and its reload on SIGHUP.

One context serves the whole run: asyncio's server hands it to every new connection, and
OpenSSL copies the certificate and key into each connection when it starts, so calling
``load_cert_chain`` again (on SIGHUP) changes what the next handshakes present and leaves the
open connections as they are. A failed ``load_cert_chain`` can leave a context half-changed
(new certificate, key gone), so the new files are first read once into memory, tried on a
scratch context, and only then loaded into the live one, from the same bytes. Errors name the
setting and the file, never the key's content. This module reads no environment and knows no
HTTP; the CLI builds the context before any port is bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from registry_service.settings import ServerSettings, SettingsInvalid

log = logging.getLogger("registry_service.tls")


@dataclass(frozen=True)
class ServerTls:
    """The live server context and the files it is (re)loaded from."""

    cert_path: Path
    key_path: Path
    context: ssl.SSLContext

    def reload(self) -> bool:
        """Load the files again into the live context; on failure keep the old certificate
        and log a WARNING naming the file. True if the new certificate is in use."""
        try:
            load_into(self.context, self.cert_path, self.key_path)
        except SettingsInvalid as exc:
            log.warning("TLS certificate not reloaded; still serving the previous one: %s", exc)
            return False
        log.info("TLS certificate reloaded from %s", self.cert_path)
        return True

    async def reload_on_sighup(self, _app: object) -> AsyncIterator[None]:
        """A ``cleanup_ctx`` entry: SIGHUP reloads the certificate while the app runs."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGHUP)


def load_server_tls(server: ServerSettings) -> ServerTls | None:
    """The server context for these settings (None: plain HTTP); raises ``SettingsInvalid``
    naming the setting and the file when one cannot be read or used."""
    if not server.tls_cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # Python's own default today, stated so that no OpenSSL configuration can lower it.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # aiohttp speaks HTTP/1.1 only; saying so stops clients from offering h2 first.
    context.set_alpn_protocols(["http/1.1"])
    tls = ServerTls(Path(server.tls_cert), Path(server.tls_key), context)
    load_into(context, tls.cert_path, tls.key_path)
    return tls


def load_into(context: ssl.SSLContext, cert_path: Path, key_path: Path) -> None:
    """Load the certificate chain and key into ``context``, all or nothing."""
    cert_pem = _read(cert_path, "server.tls_cert")
    key_pem = _read(key_path, "server.tls_key")
    _check_certificates(cert_pem, cert_path)
    with _in_memory(cert_pem, cert_path) as cert_ref, _in_memory(key_pem, key_path) as key_ref:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(
                cert_ref, key_ref, password=_refuse_passphrase
            )
        except _KeyEncrypted:
            raise SettingsInvalid(
                f"server.tls_key: {key_path} is encrypted; give an unencrypted key file "
                "(readable by this user only)"
            ) from None
        except ssl.SSLError as exc:
            raise SettingsInvalid(
                f"server.tls_key: {key_path}: not a PEM private key for the certificate in "
                f"{cert_path} ({_reason(exc)})"
            ) from None
        # The same bytes just worked on a scratch context, so this cannot fail half-way.
        context.load_cert_chain(cert_ref, key_ref, password=_refuse_passphrase)


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsInvalid(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None


def _check_certificates(pem: bytes, path: Path) -> None:
    """Refuse a certificate file without a PEM certificate, naming it (``load_cert_chain``
    alone cannot tell a bad certificate from a bad key)."""
    # PEM is ASCII; other bytes can only be in text around the blocks (or the file is binary,
    # and then no block parses either way).
    text = pem.decode("ascii", errors="ignore")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=text)
    except (ssl.SSLError, ValueError) as exc:  # ValueError: nothing at all to read
        reason = _reason(exc) if isinstance(exc, ssl.SSLError) else "empty"
        raise SettingsInvalid(
            f"server.tls_cert: {path}: no PEM certificate could be read ({reason})"
        ) from None


@contextlib.contextmanager
def _in_memory(data: bytes, path: Path) -> Iterator[str]:
    """A path OpenSSL can open that holds ``data`` (an anonymous in-memory file on Linux), so
    both loads read the same bytes even if the file is replaced in between."""
    if not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"):
        yield str(path)  # elsewhere: the file itself, racing only a replacement mid-reload
        return
    fd = os.memfd_create(path.name, os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


class _KeyEncrypted(Exception):
    pass


def _refuse_passphrase() -> str:
    # Without a callback OpenSSL would prompt for a passphrase on the terminal and hang.
    raise _KeyEncrypted


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason (``KEY_VALUES_MISMATCH`` → "key values mismatch"), else the message
    without the position in Python's C source."""
    if exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    return str(exc.strerror or exc).split(" (_ssl.c:")[0]
