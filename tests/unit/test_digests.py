"""Digest grammar, supported algorithms and hashing (registry_service/digests.py)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_service.digests import (
    Digest,
    digest_from_hasher,
    digest_of,
    new_hasher,
    parse_digest,
)
from registry_service.errors import DigestInvalid

SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA512_EMPTY = hashlib.sha512(b"").hexdigest()


@pytest.mark.parametrize(
    ("text", "algorithm", "hex_"),
    [
        (f"sha256:{SHA256_EMPTY}", "sha256", SHA256_EMPTY),
        (f"sha512:{SHA512_EMPTY}", "sha512", SHA512_EMPTY),
        ("sha256:" + "0" * 64, "sha256", "0" * 64),
    ],
)
def test_parse_digest_accepts_supported_digests(text: str, algorithm: str, hex_: str) -> None:
    digest = parse_digest(text)
    assert digest == Digest(algorithm, hex_)
    assert str(digest) == text


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("sha256", id="no-colon"),
        pytest.param(SHA256_EMPTY, id="bare-hex"),
        pytest.param("sha256:", id="empty-encoded"),
        pytest.param(":" + SHA256_EMPTY, id="empty-algorithm"),
        pytest.param("sha256:" + SHA256_EMPTY.upper(), id="uppercase-hex"),
        pytest.param("SHA256:" + SHA256_EMPTY, id="uppercase-algorithm"),
        pytest.param("sha256:" + SHA256_EMPTY[:-1], id="too-short"),
        pytest.param("sha256:" + SHA256_EMPTY + "0", id="too-long"),
        pytest.param("sha256:" + "g" * 64, id="not-hex"),
        pytest.param("sha512:" + SHA256_EMPTY, id="sha512-with-sha256-length"),
        pytest.param("sha256:" + SHA256_EMPTY + "\n", id="trailing-newline"),
        pytest.param(" sha256:" + SHA256_EMPTY, id="leading-space"),
        pytest.param("sha256::" + SHA256_EMPTY, id="double-colon"),
        pytest.param("sha256:" + "ab" * 31 + "=/", id="slash-in-encoded"),
        pytest.param("sha-:" + SHA256_EMPTY, id="dangling-separator"),
        pytest.param("sha256:" + "\u0660" * 64, id="non-ascii-digits"),
    ],
)
def test_parse_digest_rejects_malformed_digests(text: str) -> None:
    with pytest.raises(DigestInvalid):
        parse_digest(text)


@pytest.mark.parametrize(
    "text",
    [
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha384:" + hashlib.sha384(b"").hexdigest(),
        "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
        "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
    ],
)
def test_parse_digest_says_well_formed_unknown_algorithms_are_unsupported(text: str) -> None:
    with pytest.raises(DigestInvalid, match="unsupported"):
        parse_digest(text)


def test_digest_invalid_carries_the_oci_code() -> None:
    with pytest.raises(DigestInvalid) as caught:
        parse_digest("nope")
    assert caught.value.oci_code == "DIGEST_INVALID"
    assert caught.value.status == 400


def test_error_message_does_not_echo_huge_input() -> None:
    with pytest.raises(DigestInvalid) as caught:
        parse_digest("x" * 100_000)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("algorithm", "hex_"),
    [("sha256", "ab"), ("sha256", SHA256_EMPTY.upper()), ("md5", "0" * 32), ("sha512", "")],
)
def test_digest_cannot_be_built_invalid(algorithm: str, hex_: str) -> None:
    with pytest.raises(DigestInvalid):
        Digest(algorithm, hex_)


@pytest.mark.parametrize(
    ("data", "algorithm", "expected"),
    [
        (b"", "sha256", f"sha256:{SHA256_EMPTY}"),
        (b"", "sha512", f"sha512:{SHA512_EMPTY}"),
        (b"hello", "sha256", "sha256:" + hashlib.sha256(b"hello").hexdigest()),
    ],
)
def test_digest_of_hashes_bytes(data: bytes, algorithm: str, expected: str) -> None:
    assert str(digest_of(data, algorithm)) == expected


def test_digest_of_defaults_to_sha256() -> None:
    assert digest_of(b"").algorithm == "sha256"


def test_new_hasher_streams_to_the_same_digest() -> None:
    hasher = new_hasher("sha512")
    for chunk in (b"he", b"ll", b"o"):
        hasher.update(chunk)
    assert digest_from_hasher(hasher) == digest_of(b"hello", "sha512")
    hasher.update(b"!")  # still usable after reading the digest
    assert digest_from_hasher(hasher) == digest_of(b"hello!", "sha512")


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "SHA256", ""])
def test_new_hasher_refuses_unsupported_algorithms(algorithm: str) -> None:
    with pytest.raises(DigestInvalid, match="unsupported"):
        new_hasher(algorithm)


@given(st.binary(), st.sampled_from(["sha256", "sha512"]))
def test_str_then_parse_round_trips(data: bytes, algorithm: str) -> None:
    digest = digest_of(data, algorithm)
    assert parse_digest(str(digest)) == digest


@given(st.text())
def test_parse_digest_only_raises_digest_invalid(text: str) -> None:
    try:
        digest = parse_digest(text)
    except DigestInvalid:
        return
    assert str(digest) == text


@given(st.from_regex(r"[a-z0-9]+([.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", fullmatch=True))
def test_grammatical_digests_are_parsed_or_refused_as_digest_invalid(text: str) -> None:
    try:
        digest = parse_digest(text)
    except DigestInvalid:
        return
    assert digest.algorithm in {"sha256", "sha512"}
