"""Throw-away certificate authorities and server certificates, made with the ``openssl`` command.

``make_authority`` writes a self-signed root CA; ``issue_server_cert`` has it sign an
intermediate CA, which signs a server certificate for the given names (IP addresses or DNS
names, as subjectAltName), and writes the server certificate followed by the intermediate into
one chain file, as ``server.tls_cert`` takes it. A client trusts the root alone, so a handshake
that succeeds shows that the server sent the whole chain. Keys are unencrypted P-256, valid for
two days. ``client_cert_dir`` makes a directory of ``*.crt`` CA files, which skopeo's
``--src-cert-dir``/``--dest-cert-dir`` and podman's ``--cert-dir`` trust.
"""

from __future__ import annotations

import ipaddress
import itertools
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
LOCAL_NAMES = ("127.0.0.1", "localhost")
VALID_DAYS = "2"
_serials = itertools.count(0x5EC0001)


@dataclass(frozen=True)
class Authority:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ServerCert:
    chain: Path  # server certificate, then the intermediate
    key: Path
    root: Authority  # what clients must trust
    serial: int


def _openssl(*args: str) -> None:
    result = subprocess.run(
        [OPENSSL, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"openssl {' '.join(args)}\n{result.stderr}"


def _new_key(path: Path) -> None:
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)
    )


def _sign(
    directory: Path, name: str, subject: str, issuer: Authority, extensions: str
) -> tuple[Authority, int]:
    key, csr, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    ext_file = directory / f"{name}.ext"
    ext_file.write_text(extensions)
    _new_key(key)
    _openssl("req", "-new", "-key", str(key), "-subj", f"/CN={subject}", "-out", str(csr))
    serial = next(_serials)
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(issuer.cert), "-CAkey", str(issuer.key),
        "-set_serial", str(serial), "-days", VALID_DAYS, "-extfile", str(ext_file),
        "-out", str(cert),
    )
    return Authority(cert, key), serial


def make_authority(directory: Path, name: str = "root-ca") -> Authority:
    """A self-signed root CA in ``directory`` (``<name>.crt``, ``<name>.key``)."""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    _new_key(key)
    _openssl(
        "req", "-x509", "-new", "-key", str(key), "-subj", f"/CN=registry-service test {name}",
        "-days", VALID_DAYS, "-out", str(cert),
    )
    return Authority(cert, key)


def issue_server_cert(
    directory: Path, root: Authority, names: Sequence[str] = LOCAL_NAMES, label: str = "server"
) -> ServerCert:
    """A server certificate for ``names`` under an intermediate of ``root``."""
    directory.mkdir(parents=True, exist_ok=True)
    intermediate, _ = _sign(
        directory, f"{label}-intermediate", f"{label} intermediate CA", root,
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    alt_names = ",".join(f"{'IP' if _is_ip(n) else 'DNS'}:{n}" for n in names)
    leaf, serial = _sign(
        directory, label, names[0], intermediate,
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage=serverAuth\nsubjectAltName={alt_names}\n",
    )
    chain = directory / f"{label}-chain.pem"
    chain.write_bytes(leaf.cert.read_bytes() + intermediate.cert.read_bytes())
    return ServerCert(chain=chain, key=leaf.key, root=root, serial=serial)


def client_cert_dir(directory: Path, *authorities: Authority) -> Path:
    """A directory of ``*.crt`` CA files: what skopeo and podman trust with ``--cert-dir``."""
    directory.mkdir(parents=True, exist_ok=True)
    for n, authority in enumerate(authorities):
        shutil.copyfile(authority.cert, directory / f"ca-{n}.crt")
    return directory


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
