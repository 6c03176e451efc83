"""The on-disk tree (registry_service/storage/layout.py): paths only, no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_service.digests import digest_of
from registry_service.errors import BlobUploadUnknown
from registry_service.storage import layout

ROOT = Path("/data")


def test_blobs_fan_out_by_the_first_two_hex_digits() -> None:
    digest = digest_of(b"x", "sha512")
    assert layout.blob_path(ROOT, digest) == (
        ROOT / "blobs" / "sha512" / digest.hex[:2] / digest.hex
    )


def test_sessions_and_temps_share_the_data_directory() -> None:
    assert layout.session_data_path(ROOT, "abc-123") == ROOT / "uploads" / "abc-123" / "data"
    assert layout.session_state_path(ROOT, "abc") == ROOT / "uploads" / "abc" / "session.json"
    temp = layout.new_temp_path(ROOT)
    assert temp.parent == ROOT / "tmp"
    assert temp.name.endswith(".part")
    assert temp != layout.new_temp_path(ROOT)


@pytest.mark.parametrize("session_id", ["..", "../x", "a/b", "", "-x", "a b", "x" * 129])
def test_a_session_id_that_is_not_one_path_component_is_unknown(session_id: str) -> None:
    assert not layout.is_session_id(session_id)
    with pytest.raises(BlobUploadUnknown):
        layout.session_dir(ROOT, session_id)


@pytest.mark.parametrize(
    ("algorithm", "fan_out", "name", "valid"),
    [
        ("sha256", "e3", digest_of(b"").hex, True),
        ("sha256", "00", digest_of(b"").hex, False),  # in the wrong fan-out directory
        ("sha256", "e3", "e3" + "0" * 10, False),
        ("md5", "e3", digest_of(b"").hex, False),
        ("sha256", "E3", digest_of(b"").hex.upper(), False),
    ],
)
def test_digest_at_trusts_only_names_of_the_tree(
    algorithm: str, fan_out: str, name: str, valid: bool
) -> None:
    found = layout.digest_at(algorithm, fan_out, name)
    assert (found is not None) is valid
