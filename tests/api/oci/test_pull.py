"""Pull workflow (conformance "Pull" and the main branch's pull/head/range tests): manifests by
tag and digest, blobs whole and by range, HEAD, and 404s for what is not there."""

from __future__ import annotations

import pytest

from tests import oci_content as oc
from tests.api.oci.conftest import NAME, Access


async def assert_pulls(reader: oc.Registry, img: oc.Image) -> None:
    """Every manifest below and including ``img`` by digest, and every pushed blob, come back
    byte-exact with the headers clients use."""
    for manifest in img.walk():
        response = await reader.call("GET", f"/v2/{NAME}/manifests/{manifest.digest}")
        assert response.status == 200, await response.text()
        assert await response.read() == manifest.manifest
        assert response.headers["Content-Type"] == manifest.media_type
        assert response.headers["Content-Length"] == str(len(manifest.manifest))
        assert response.headers["Docker-Content-Digest"] == manifest.digest
    for blob in img.all_blobs():
        response = await reader.call("GET", f"/v2/{NAME}/blobs/{blob.digest}")
        assert response.status == 200, await response.text()
        assert await response.read() == blob.data
        assert response.headers["Content-Length"] == str(len(blob.data))
        assert response.headers["Docker-Content-Digest"] == blob.digest


@pytest.mark.parametrize("data_set", list(oc.DATA_SETS))
async def test_every_data_set_pulls_back_byte_exact(access: Access, data_set: str) -> None:
    manifests = oc.DATA_SETS[data_set]()
    for img in manifests:
        await access.writer.push_image(NAME, img)
    # Tagged by ``?tag=`` on the digest PUT: a PUT by tag names the sha256 digest only.
    response = await access.writer.put_manifest(NAME, manifests[-1], tags=("latest",))
    assert response.status == 201, await response.text()

    for img in manifests:
        await assert_pulls(access.reader, img)
    by_tag = await access.reader.call("GET", f"/v2/{NAME}/manifests/latest")
    assert by_tag.status == 200
    assert await by_tag.read() == manifests[-1].manifest
    assert by_tag.headers["Docker-Content-Digest"] == manifests[-1].digest


async def test_head_manifest_and_blob_give_length_and_digest_without_body(
    access: Access,
) -> None:
    img = oc.image(layers=1)
    await access.writer.push_image(NAME, img, "v1")
    for reference in ("v1", img.digest):
        response = await access.reader.call("HEAD", f"/v2/{NAME}/manifests/{reference}")
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(img.manifest))
        assert response.headers["Docker-Content-Digest"] == img.digest
        assert response.headers["Content-Type"] == oc.OCI_MANIFEST
        assert await response.read() == b""
    layer = img.blobs[1]
    response = await access.reader.call("HEAD", f"/v2/{NAME}/blobs/{layer.digest}")
    assert response.status == 200
    assert response.headers["Content-Length"] == str(len(layer.data))
    assert response.headers["Docker-Content-Digest"] == layer.digest
    assert await response.read() == b""


async def test_missing_manifest_and_blob_are_404_with_oci_errors(access: Access) -> None:
    await access.writer.push_image(NAME, oc.image(layers=1), "v1")
    absent = oc.sha256(b"never pushed")
    for reference in ("missing-tag", absent):
        response = await access.reader.call("GET", f"/v2/{NAME}/manifests/{reference}")
        await oc.expect_error(response, 404, "MANIFEST_UNKNOWN")
        head = await access.reader.call("HEAD", f"/v2/{NAME}/manifests/{reference}")
        assert head.status == 404
    response = await access.reader.call("GET", f"/v2/{NAME}/blobs/{absent}")
    await oc.expect_error(response, 404, "BLOB_UNKNOWN")
    head = await access.reader.call("HEAD", f"/v2/{NAME}/blobs/{absent}")
    assert head.status == 404


async def test_a_repository_never_pushed_is_name_unknown(access: Access) -> None:
    response = await access.reader.call("GET", f"/v2/{NAME}/manifests/latest")
    await oc.expect_error(response, 404, "NAME_UNKNOWN")


# (Range header, expected slice of a 2048-byte blob); the conformance suite's range tests.
SATISFIABLE = [
    ("bytes=500-1499", slice(500, 1500)),
    ("bytes=500-", slice(500, None)),
    ("bytes=-500", slice(2048 - 500, None)),
    ("bytes=2000-5000", slice(2000, None)),
    ("bytes=0-0", slice(0, 1)),
]


@pytest.mark.parametrize(("header", "part"), SATISFIABLE, ids=[h for h, _ in SATISFIABLE])
async def test_blob_range_returns_206_with_those_bytes(
    access: Access, header: str, part: slice
) -> None:
    blob = oc.random_blob(2048)
    await access.writer.push_blob(NAME, blob)
    response = await access.reader.call(
        "GET", f"/v2/{NAME}/blobs/{blob.digest}", headers={"Range": header}
    )
    assert response.status == 206
    expected = blob.data[part]
    assert await response.read() == expected
    assert response.headers["Content-Length"] == str(len(expected))
    first = part.start
    last = first + len(expected) - 1
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/2048"


@pytest.mark.parametrize("header", ["bytes=500-0", "bytes=5000-10000", "bytes=2048-"])
async def test_unsatisfiable_blob_range_is_416(access: Access, header: str) -> None:
    blob = oc.random_blob(2048)
    await access.writer.push_blob(NAME, blob)
    response = await access.reader.call(
        "GET", f"/v2/{NAME}/blobs/{blob.digest}", headers={"Range": header}
    )
    assert response.status == 416
    assert response.headers["Content-Range"] == "bytes */2048"
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


async def test_empty_blob_pulls_as_zero_bytes(access: Access) -> None:
    empty = oc.Blob(b"")
    assert empty.digest == oc.EMPTY_SHA256
    await access.writer.push_blob(NAME, empty)
    response = await access.reader.call("GET", f"/v2/{NAME}/blobs/{empty.digest}")
    assert response.status == 200
    assert await response.read() == b""
    assert response.headers["Content-Length"] == "0"
    head = await access.reader.call("HEAD", f"/v2/{NAME}/blobs/{empty.digest}")
    assert (head.status, head.headers["Content-Length"]) == (200, "0")
