"""Push workflow (conformance "Push" and the main branch's blob and manifest tests): monolithic,
POST+PUT, streamed and chunked uploads (416 for chunks out of order), session status and cancel,
sha512 and the empty blob, then manifests: accepted data sets, ``?tag=``, what is rejected."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from aiohttp import ClientResponse

from tests import oci_content as oc
from tests.api.oci.conftest import NAME, Access

OCTET = {"Content-Type": "application/octet-stream"}


async def assert_blob(registry: oc.Registry, blob: oc.Blob, name: str = NAME) -> None:
    response = await registry.call("GET", f"/v2/{name}/blobs/{blob.digest}")
    assert response.status == 200, await response.text()
    assert await response.read() == blob.data


async def assert_created(response: ClientResponse, blob: oc.Blob) -> None:
    """201 with the blob's digest and a Location that serves it."""
    assert response.status == 201, await response.text()
    assert response.headers["Docker-Content-Digest"] == blob.digest
    assert response.headers["Location"] == f"/v2/{NAME}/blobs/{blob.digest}"


async def patch_chunk(
    registry: oc.Registry, location: str, data: bytes, start: int
) -> ClientResponse:
    content_range = f"{start}-{start + len(data) - 1}"
    return await registry.call(
        "PATCH", location, data=data, headers={**OCTET, "Content-Range": content_range}
    )


# --- blob uploads ---------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_monolithic_post_creates_the_blob(access: Access, algorithm: str) -> None:
    blob = oc.random_blob(512, algorithm=algorithm)
    response = await access.writer.call(
        "POST", f"/v2/{NAME}/blobs/uploads/", params={"digest": blob.digest},
        data=blob.data, headers=OCTET,
    )
    await assert_created(response, blob)
    await assert_blob(access.reader, blob)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_post_then_put_with_the_body_creates_the_blob(
    access: Access, algorithm: str
) -> None:
    blob = oc.random_blob(512, algorithm=algorithm)
    params = {} if algorithm == "sha256" else {"digest-algorithm": algorithm}
    location = await access.writer.start_upload(NAME, **params)
    response = await access.writer.call(
        "PUT", location, params={"digest": blob.digest}, data=blob.data, headers=OCTET
    )
    await assert_created(response, blob)
    await assert_blob(access.reader, blob)


async def test_upload_session_answers_location_range_and_min_chunk(access: Access) -> None:
    response = await access.writer.call("POST", f"/v2/{NAME}/blobs/uploads/")
    assert response.status == 202
    location = response.headers["Location"]
    assert location.startswith(f"/v2/{NAME}/blobs/uploads/")
    assert len(location) > len(f"/v2/{NAME}/blobs/uploads/")
    assert int(response.headers["OCI-Chunk-Min-Length"]) >= 1
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


async def test_streamed_patch_then_put_creates_the_blob(access: Access) -> None:
    blob = oc.random_blob(3000)
    location = await access.writer.start_upload(NAME)
    response = await access.writer.call("PATCH", location, data=blob.data, headers=OCTET)
    assert response.status == 202
    assert response.headers["Range"] == "0-2999"
    response = await access.writer.call(
        "PUT", response.headers["Location"], params={"digest": blob.digest}
    )
    await assert_created(response, blob)
    await assert_blob(access.reader, blob)


async def test_chunked_upload_refuses_chunks_out_of_order_and_recovers(access: Access) -> None:
    """The conformance suite's chunked workflow: 416 for a chunk that skips ahead and for a
    retried chunk, GET on the session to learn the offset, then carry on."""
    blob = oc.random_blob(3000)
    first, second, third = blob.data[:1000], blob.data[1000:2000], blob.data[2000:]
    location = await access.writer.start_upload(NAME)

    skipped = await patch_chunk(access.writer, location, second, 1000)
    assert skipped.status == 416
    assert skipped.headers["Range"] == "0-0"
    await oc.expect_error(skipped, 416, "BLOB_UPLOAD_INVALID")

    response = await patch_chunk(access.writer, location, first, 0)
    assert response.status == 202
    assert response.headers["Range"] == "0-999"
    location = response.headers["Location"]

    retried = await patch_chunk(access.writer, location, first, 0)
    assert retried.status == 416
    assert retried.headers["Range"] == "0-999"

    status = await access.writer.call("GET", location)
    assert status.status == 204
    assert status.headers["Range"] == "0-999"
    assert status.headers["Location"] == location

    response = await patch_chunk(access.writer, location, second, 1000)
    assert (response.status, response.headers["Range"]) == (202, "0-1999")

    # The main branch's "out-of-order and put chunk": a last chunk PUT at the wrong offset.
    out_of_order = await access.writer.call(
        "PUT", location, params={"digest": blob.digest}, data=third,
        headers={**OCTET, "Content-Range": "1000-1999"},
    )
    assert out_of_order.status == 416

    closing = await access.writer.call(
        "PUT", location, params={"digest": blob.digest}, data=third,
        headers={**OCTET, "Content-Range": f"2000-{len(blob.data) - 1}"},
    )
    await assert_created(closing, blob)
    await assert_blob(access.reader, blob)


async def test_chunked_sha512_upload(access: Access) -> None:
    blob = oc.random_blob(2500, algorithm="sha512")
    await access.writer.push_blob_chunked(NAME, blob)
    await assert_blob(access.reader, blob)
    head = await access.reader.call("HEAD", f"/v2/{NAME}/blobs/{blob.digest}")
    assert head.headers["Docker-Content-Digest"] == blob.digest


@pytest.mark.parametrize("how", ["monolithic", "post-put-no-body"])
async def test_empty_blob_is_pushed_by_its_sha256(access: Access, how: str) -> None:
    empty = oc.Blob(b"")
    if how == "monolithic":
        response = await access.writer.call(
            "POST", f"/v2/{NAME}/blobs/uploads/", params={"digest": oc.EMPTY_SHA256},
            data=b"", headers=OCTET,
        )
    else:
        location = await access.writer.start_upload(NAME)
        response = await access.writer.call("PUT", location, params={"digest": oc.EMPTY_SHA256})
    await assert_created(response, empty)
    await assert_blob(access.reader, empty)


@pytest.mark.parametrize("how", ["monolithic", "post-put", "chunked", "stream"])
async def test_wrong_digest_is_digest_invalid_and_stores_nothing(
    access: Access, how: str
) -> None:
    blob = oc.random_blob(1500)
    claimed = oc.sha256(blob.data + b"oh no")
    if how == "monolithic":
        response = await access.writer.call(
            "POST", f"/v2/{NAME}/blobs/uploads/", params={"digest": claimed},
            data=blob.data, headers=OCTET,
        )
    else:
        location = await access.writer.start_upload(NAME)
        if how == "chunked":
            patched = await patch_chunk(access.writer, location, blob.data, 0)
            location = patched.headers["Location"]
        elif how == "stream":
            patched = await access.writer.call("PATCH", location, data=blob.data)
            location = patched.headers["Location"]
        body = blob.data if how == "post-put" else b""
        response = await access.writer.call(
            "PUT", location, params={"digest": claimed}, data=body, headers=OCTET
        )
    await oc.expect_error(response, 400, "DIGEST_INVALID")
    for digest in (claimed, blob.digest):
        missing = await access.reader.call("GET", f"/v2/{NAME}/blobs/{digest}")
        await oc.expect_error(missing, 404, "BLOB_UNKNOWN")


async def test_cancelled_upload_is_gone(access: Access) -> None:
    """end-14: DELETE on the session is 204; the session is then unknown to every method."""
    location = await access.writer.start_upload(NAME)
    await patch_chunk(access.writer, location, b"partial", 0)
    response = await access.writer.call("DELETE", location)
    assert response.status == 204
    status = await access.writer.call("GET", location)
    await oc.expect_error(status, 404, "BLOB_UPLOAD_UNKNOWN")
    patched = await patch_chunk(access.writer, location, b"more", 7)
    await oc.expect_error(patched, 404, "BLOB_UPLOAD_UNKNOWN")
    again = await access.writer.call("DELETE", location)
    await oc.expect_error(again, 404, "BLOB_UPLOAD_UNKNOWN")


async def test_unknown_or_malformed_session_is_blob_upload_unknown(access: Access) -> None:
    await access.writer.start_upload(NAME)
    for session in ("0123456789abcdef0123456789abcdef", "..%2F..%2Fetc", "-x"):
        response = await access.writer.call("GET", f"/v2/{NAME}/blobs/uploads/{session}")
        await oc.expect_error(response, 404, "BLOB_UPLOAD_UNKNOWN")


# --- mounts ---------------------------------------------------------------------------------


async def test_mount_from_a_readable_repository_links_the_blob(access: Access) -> None:
    blob = oc.random_blob(700)
    await access.writer.push_blob(f"{NAME}/source", blob)
    response = await access.writer.call(
        "POST", f"/v2/{NAME}/blobs/uploads/",
        params={"mount": blob.digest, "from": f"{NAME}/source"},
    )
    await assert_created(response, blob)
    await assert_blob(access.reader, blob)


@pytest.mark.parametrize("source", [None, f"{NAME}/source"], ids=["no-from", "missing-blob"])
async def test_mount_that_cannot_happen_opens_a_session(
    access: Access, source: str | None
) -> None:
    """No ``from`` (automatic mount is off) or a blob the source lacks: 202 and a session the
    client completes as a normal upload."""
    blob = oc.random_blob(600)
    await access.writer.push_blob(f"{NAME}/source", oc.random_blob(10))
    if source is None:
        await access.writer.push_blob(f"{NAME}/source", blob)
    params = {"mount": blob.digest} | ({"from": source} if source else {})
    response = await access.writer.call("POST", f"/v2/{NAME}/blobs/uploads/", params=params)
    assert response.status == 202, await response.text()
    location = response.headers["Location"]
    not_yet = await access.reader.call("GET", f"/v2/{NAME}/blobs/{blob.digest}")
    assert not_yet.status == 404
    finished = await access.writer.call(
        "PUT", location, params={"digest": blob.digest}, data=blob.data, headers=OCTET
    )
    await assert_created(finished, blob)


async def test_malformed_mount_digest_is_digest_invalid(access: Access) -> None:
    response = await access.writer.call(
        "POST", f"/v2/{NAME}/blobs/uploads/", params={"mount": "sha256:nope", "from": NAME}
    )
    await oc.expect_error(response, 400, "DIGEST_INVALID")


# --- manifests ------------------------------------------------------------------------------


@pytest.mark.parametrize("data_set", list(oc.DATA_SETS))
async def test_every_data_set_is_accepted_by_digest_and_by_tag(
    access: Access, data_set: str
) -> None:
    manifests = oc.DATA_SETS[data_set]()
    for img in manifests:
        for part in img.walk()[:-1]:
            await access.writer.push_image(NAME, part)
        for blob in img.blobs:
            await access.writer.push_blob(NAME, blob)
        response = await access.writer.put_manifest(NAME, img)
        assert response.status == 201, await response.text()
        assert response.headers["Docker-Content-Digest"] == img.digest
        assert response.headers["Location"] == f"/v2/{NAME}/manifests/{img.digest}"
        subject = json.loads(img.manifest).get("subject")
        assert response.headers.get("OCI-Subject") == (subject["digest"] if subject else None)
    if manifests[-1].algorithm == "sha256":
        response = await access.writer.put_manifest(NAME, manifests[-1], "tagged")
        assert response.status == 201
        assert response.headers["Docker-Content-Digest"] == manifests[-1].digest


async def test_nondistributable_layers_are_accepted_without_their_blobs(access: Access) -> None:
    img = oc.nondistributable_image()
    await access.writer.push_image(NAME, img, "foreign")
    foreign = json.loads(img.manifest)["layers"][:2]
    for layer in foreign:
        missing = await access.reader.call("GET", f"/v2/{NAME}/blobs/{layer['digest']}")
        await oc.expect_error(missing, 404, "BLOB_UNKNOWN")
    pulled = await access.reader.call("GET", f"/v2/{NAME}/manifests/foreign")
    assert await pulled.read() == img.manifest


async def test_pushing_a_tag_again_moves_it_and_keeps_the_old_manifest(access: Access) -> None:
    old, new = oc.image(layers=1), oc.image(layers=1)
    await access.writer.push_image(NAME, old, "v1")
    await access.writer.push_image(NAME, old, "v1")  # the same bytes again: still fine
    await access.writer.push_image(NAME, new, "v1")
    pulled = await access.reader.call("GET", f"/v2/{NAME}/manifests/v1")
    assert pulled.headers["Docker-Content-Digest"] == new.digest
    kept = await access.reader.call("GET", f"/v2/{NAME}/manifests/{old.digest}")
    assert await kept.read() == old.manifest


async def test_missing_subject_is_accepted_with_oci_subject(access: Access) -> None:
    img, subject = oc.missing_subject_artifact()
    for blob in img.blobs:
        await access.writer.push_blob(NAME, blob)
    response = await access.writer.put_manifest(NAME, img, "artifact")
    assert response.status == 201
    assert response.headers["OCI-Subject"] == subject


async def test_tag_parameters_answer_one_oci_tag_header_each(access: Access) -> None:
    """end-7b: ``PUT …/manifests/<digest>?tag=a&tag=b``."""
    img = oc.image()
    for blob in img.blobs:
        await access.writer.push_blob(NAME, blob)
    response = await access.writer.put_manifest(NAME, img, tags=("a", "b"))
    assert response.status == 201, await response.text()
    assert response.headers.getall("OCI-Tag") == ["a", "b"]
    for tag in ("a", "b"):
        pulled = await access.reader.call("GET", f"/v2/{NAME}/manifests/{tag}")
        assert pulled.status == 200
        assert pulled.headers["Docker-Content-Digest"] == img.digest


async def test_sha512_manifest_is_stored_under_its_sha512_digest(access: Access) -> None:
    img = oc.image(algorithm="sha512")
    for blob in img.blobs:
        await access.writer.push_blob_chunked(NAME, blob, chunk=300)
    response = await access.writer.put_manifest(NAME, img, tags=("sha512",))
    assert response.status == 201, await response.text()
    assert response.headers["Docker-Content-Digest"] == img.digest
    assert img.digest.startswith("sha512:")
    for reference in (img.digest, "sha512"):
        pulled = await access.reader.call("GET", f"/v2/{NAME}/manifests/{reference}")
        assert await pulled.read() == img.manifest
        assert pulled.headers["Docker-Content-Digest"] == img.digest


@pytest.mark.parametrize("build", [oc.sparse_image, oc.sparse_index], ids=["image", "index"])
async def test_sparse_manifests_are_manifest_blob_unknown(
    access: Access, build: Callable[[], oc.Image]
) -> None:
    img = build()
    for child in img.children:
        await access.writer.push_image(NAME, child)
    for blob in img.blobs:
        await access.writer.push_blob(NAME, blob)
    response = await access.writer.put_manifest(NAME, img, "sparse")
    await oc.expect_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    pulled = await access.reader.call("GET", f"/v2/{NAME}/manifests/sparse")
    await oc.expect_error(pulled, 404, "MANIFEST_UNKNOWN")


async def test_manifest_naming_an_unpushed_blob_is_manifest_blob_unknown(access: Access) -> None:
    img = oc.image()
    await access.writer.push_blob(NAME, img.blobs[0])
    response = await access.writer.put_manifest(NAME, img)
    error = await oc.expect_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    assert error["detail"] == {"digest": img.blobs[1].digest}


async def test_manifest_over_4_mib_is_size_invalid_and_one_just_under_is_accepted(
    access: Access,
) -> None:
    config = oc.Blob(b"{}", oc.EMPTY_JSON)
    await access.writer.push_blob(NAME, config)

    def padded(total: int) -> oc.Image:
        document = {"schemaVersion": 2, "mediaType": oc.OCI_MANIFEST,
                    "artifactType": oc.EXAMPLE_TYPE_1, "config": config.descriptor(),
                    "layers": [], "annotations": {"pad": ""}}
        document["annotations"] = {"pad": "A" * (total - len(oc.canonical(document)))}
        return oc.Image(oc.canonical(document), oc.OCI_MANIFEST)

    limit = 4 * 1024 * 1024
    accepted, refused = padded(limit), padded(limit + 1)
    assert (len(accepted.manifest), len(refused.manifest)) == (limit, limit + 1)
    response = await access.writer.put_manifest(NAME, refused, "big")
    await oc.expect_error(response, 413, "SIZE_INVALID")
    response = await access.writer.put_manifest(NAME, accepted, "big")
    assert response.status == 201, await response.text()
    pulled = await access.reader.call("GET", f"/v2/{NAME}/manifests/big")
    assert await pulled.read() == accepted.manifest


async def test_content_type_disagreeing_with_media_type_is_manifest_invalid(
    access: Access,
) -> None:
    img = oc.image(layers=0)
    await access.writer.push_blob(NAME, img.blobs[0])
    response = await access.writer.call(
        "PUT", f"/v2/{NAME}/manifests/v1", data=img.manifest,
        headers={"Content-Type": oc.OCI_INDEX},
    )
    await oc.expect_error(response, 400, "MANIFEST_INVALID")


async def test_manifest_whose_bytes_do_not_match_the_digest_is_digest_invalid(
    access: Access,
) -> None:
    """The conformance suite's "bad digest image": whitespace appended after hashing."""
    img = oc.image(layers=1)
    for blob in img.blobs:
        await access.writer.push_blob(NAME, blob)
    response = await access.writer.call(
        "PUT", f"/v2/{NAME}/manifests/{img.digest}", data=img.manifest + b"  ",
        headers={"Content-Type": img.media_type},
    )
    await oc.expect_error(response, 400, "DIGEST_INVALID")
    pulled = await access.reader.call("GET", f"/v2/{NAME}/manifests/{img.digest}")
    assert pulled.status == 404


def _with_size(img: oc.Image, path: tuple[str | int, ...], size: int) -> oc.Image:
    """``img`` with the descriptor at ``path`` (e.g. ``("layers", 0)``) declaring ``size``."""
    document = json.loads(img.manifest)
    descriptor = document
    for key in path:
        descriptor = descriptor[key]
    descriptor["size"] = size
    return oc.Image(oc.canonical(document), img.media_type, img.blobs, img.children)


@pytest.mark.parametrize(
    ("kind", "path"),
    [("config", ("config",)), ("layer", ("layers", 1)), ("index-child", ("manifests", 0))],
)
@pytest.mark.parametrize("delta", [-1, 1])
async def test_descriptor_size_differing_from_the_stored_content_is_manifest_invalid(
    access: Access, kind: str, path: tuple[str | int, ...], delta: int
) -> None:
    """Issue 12.6: a client pulling such a manifest would fail on the size it was promised."""
    if kind == "index-child":
        child = oc.image(layers=1)
        good = oc.index([child, oc.image(layers=1)])
        target, declared_of = child.digest, len(child.manifest)
    else:
        good = oc.image(layers=2)
        blob = good.blobs[0] if kind == "config" else good.blobs[2]
        target, declared_of = blob.digest, len(blob.data)
    for part in good.walk()[:-1]:
        await access.writer.push_image(NAME, part)
    for blob in good.blobs:
        await access.writer.push_blob(NAME, blob)
    bad = _with_size(good, path, declared_of + delta)
    response = await access.writer.put_manifest(NAME, bad, "bad")
    error = await oc.expect_error(response, 400, "MANIFEST_INVALID")
    assert error["detail"] == {
        "digest": target, "declared_size": declared_of + delta, "stored_size": declared_of,
    }
    assert target in error["message"]
    for reference in ("bad", bad.digest):
        pulled = await access.reader.call("GET", f"/v2/{NAME}/manifests/{reference}")
        await oc.expect_error(pulled, 404, "MANIFEST_UNKNOWN")
    accepted = await access.writer.put_manifest(NAME, good, "good")
    assert accepted.status == 201, await accepted.text()
