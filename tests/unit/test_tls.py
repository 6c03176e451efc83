"""TLS settings and the server context: both files or neither, https in every URL we build,
TLS 1.2 at least, and an error naming the setting and the file for every file that cannot be
used (never the key's content, never a passphrase prompt). Reloading against a live server is
in ``tests/e2e/test_tls.py``."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from registry_service.settings import Settings, SettingsInvalid, load
from registry_service.tls import load_server_tls
from tests.tls_certs import OPENSSL, ServerCert, issue_server_cert, make_authority


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[ServerCert, ServerCert]:
    pki = tmp_path_factory.mktemp("pki")
    root = make_authority(pki)
    return issue_server_cert(pki, root, label="one"), issue_server_cert(pki, root, label="two")


def tls_settings(cert: Path | str, key: Path | str) -> Settings:
    return Settings().replace("server", tls_cert=str(cert), tls_key=str(key))


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "missing"), [("TLS_CERT", "server.tls_key"), ("TLS_KEY", "server.tls_cert")]
)
def test_one_tls_file_without_the_other_is_refused(given: str, missing: str) -> None:
    with pytest.raises(SettingsInvalid, match=f"^{missing}: must be set too"):
        load(environ={f"REGISTRY_SERVICE_SERVER_{given}": "/etc/registry/tls.pem"})


def test_with_tls_the_urls_we_build_say_https() -> None:
    settings = load(
        environ={
            "REGISTRY_SERVICE_SERVER_TLS_CERT": "/etc/registry/chain.pem",
            "REGISTRY_SERVICE_SERVER_TLS_KEY": "/etc/registry/key.pem",
            "REGISTRY_SERVICE_LISTEN": "0.0.0.0:5443",
        }
    )

    assert settings.server.base_url == "https://0.0.0.0:5443"
    assert settings.registry_host == "0.0.0.0:5443"
    assert Settings().server.base_url == "http://127.0.0.1:5000"


def test_with_tls_a_plain_http_external_url_is_refused() -> None:
    with pytest.raises(SettingsInvalid, match=r"^server\.external_url: must start with https://"):
        Settings().replace(
            "server", tls_cert="c.pem", tls_key="k.pem", external_url="http://registry.example"
        )
    fine = Settings().replace(
        "server", tls_cert="c.pem", tls_key="k.pem", external_url="https://registry.example"
    )
    assert fine.server.base_url == "https://registry.example"


# --- the server context -------------------------------------------------------------------------


def test_without_tls_settings_there_is_no_context() -> None:
    assert load_server_tls(Settings().server) is None


def test_the_context_serves_the_chain_at_tls_1_2_or_later(
    tmp_path: Path, certs: tuple[ServerCert, ServerCert]
) -> None:
    one, _ = certs
    # Text around the PEM blocks, as some tools write it (not all of it ASCII), is fine.
    chain = tmp_path / "chain.pem"
    chain.write_bytes(b"Bag Attributes: friendlyName: R\xc3\xa9gistre\n" + one.chain.read_bytes())
    tls = load_server_tls(tls_settings(chain, one.key).server)

    assert tls is not None
    assert tls.context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert (tls.cert_path, tls.key_path) == (chain, one.key)


def test_unreadable_files_are_named(tmp_path: Path, certs: tuple[ServerCert, ServerCert]) -> None:
    one, _ = certs
    with pytest.raises(SettingsInvalid) as cert_error:
        load_server_tls(tls_settings(tmp_path / "none.pem", one.key).server)
    with pytest.raises(SettingsInvalid) as key_error:
        load_server_tls(tls_settings(one.chain, tmp_path).server)

    assert str(cert_error.value) == (
        f"server.tls_cert: cannot read {tmp_path / 'none.pem'}: No such file or directory"
    )
    assert str(key_error.value) == f"server.tls_key: cannot read {tmp_path}: Is a directory"


def test_a_file_without_a_certificate_is_named_as_the_certificate(
    tmp_path: Path, certs: tuple[ServerCert, ServerCert]
) -> None:
    one, _ = certs
    for content in (b"hello\n", one.key.read_bytes(), b"\xff\xfe", b""):
        bad = tmp_path / "bad.pem"
        bad.write_bytes(content)
        with pytest.raises(SettingsInvalid, match=f"^server.tls_cert: {bad}: no PEM certificate"):
            load_server_tls(tls_settings(bad, one.key).server)


def test_a_key_that_is_not_the_certificates_is_named_as_the_key(
    tmp_path: Path, certs: tuple[ServerCert, ServerCert]
) -> None:
    one, two = certs
    garbage = tmp_path / "garbage.key"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    for key in (two.key, garbage, one.chain):
        with pytest.raises(SettingsInvalid) as error:
            load_server_tls(tls_settings(one.chain, key).server)
        message = str(error.value)
        assert message.startswith(f"server.tls_key: {key}: not a PEM private key for the ")
        assert "BEGIN" not in message and two.key.read_text().splitlines()[1] not in message
        if key == two.key:
            assert message.endswith("(key values mismatch)")


@pytest.mark.timeout(30)
def test_an_encrypted_key_is_refused_without_asking_for_a_passphrase(
    tmp_path: Path, certs: tuple[ServerCert, ServerCert]
) -> None:
    one, _ = certs
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(
        [OPENSSL, "pkey", "-in", str(one.key), "-aes256", "-passout", "pass:sesame",
         "-out", str(encrypted)],
        check=True, capture_output=True,
    )

    with pytest.raises(SettingsInvalid, match=f"^server.tls_key: {encrypted} is encrypted"):
        load_server_tls(tls_settings(one.chain, encrypted).server)
