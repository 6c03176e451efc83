"""Malformed requests under /v2: names, digests, references, manifests, ranges and routes get a
4xx with the right OCI code (never a 500), and every answer names the API version."""

from __future__ import annotations

import pytest
from aiohttp import ClientResponse

from tests import oci_content as oc
from tests.api.oci.conftest import NAME, Access

HEX64 = "0" * 64
BAD_NAMES = ["Group/App", "group/-app", "group/app.", "group//app", "group/app_", "g/" + "a" * 254]
BAD_DIGESTS = [
    "sha256:baddigeststring",
    "sha256:" + HEX64[:63],
    "sha256:" + "A" * 64,
    "sha256:" + HEX64 + "0",
    "sha999:" + HEX64,
    "md5:" + "0" * 32,
    "sha256:",
    ":" + HEX64,
]
BAD_TAGS = ["-tag", ".tag", "t" * 129, "tag!", "t%20t"]
# Input checks do not depend on who asks: the widest tables run once, as a private project's
# members (``access`` otherwise runs every test for a public and a private project).
PRIVATE_ONLY = pytest.mark.parametrize("access", ["private"], indirect=True)


def expect_api_version(response: ClientResponse) -> None:
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


@PRIVATE_ONLY
@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", "tags/list"), ("GET", "manifests/v1"), ("POST", "blobs/uploads/"),
     ("GET", f"blobs/sha256:{HEX64}"), ("PUT", "manifests/v1")],
)
async def test_malformed_names_are_name_invalid(
    access: Access, name: str, method: str, suffix: str
) -> None:
    response = await access.writer.call(method, f"/v2/{name}/{suffix}")
    await oc.expect_error(response, 400, "NAME_INVALID")


async def test_a_name_of_255_characters_is_still_a_name(access: Access) -> None:
    name = "g/" + "a" * 253
    response = await access.writer.call("GET", f"/v2/{name}/tags/list")
    await oc.expect_error(response, 404, "NAME_UNKNOWN")


@PRIVATE_ONLY
@pytest.mark.parametrize("digest", BAD_DIGESTS)
@pytest.mark.parametrize(
    ("method", "template"),
    [("GET", "blobs/{}"), ("HEAD", "blobs/{}"), ("DELETE", "blobs/{}"), ("PUT", "manifests/{}")],
)
async def test_malformed_digests_in_paths_are_digest_invalid(
    access: Access, digest: str, method: str, template: str
) -> None:
    img = oc.image(layers=0)
    await access.writer.push_image(NAME, img, "v1")
    registry = access.writer if method == "PUT" else access.maintainer
    response = await registry.call(
        method, f"/v2/{NAME}/{template.format(digest)}",
        data=img.manifest if method == "PUT" else None,
        headers={"Content-Type": img.media_type} if method == "PUT" else None,
    )
    if method == "HEAD":
        assert response.status == 400
        expect_api_version(response)
    else:
        await oc.expect_error(response, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("digest", BAD_DIGESTS)
async def test_malformed_digests_in_uploads_are_digest_invalid(
    access: Access, digest: str
) -> None:
    monolithic = await access.writer.call(
        "POST", f"/v2/{NAME}/blobs/uploads/", params={"digest": digest}, data=b"x"
    )
    await oc.expect_error(monolithic, 400, "DIGEST_INVALID")
    location = await access.writer.start_upload(NAME)
    closing = await access.writer.call("PUT", location, params={"digest": digest}, data=b"x")
    await oc.expect_error(closing, 400, "DIGEST_INVALID")


async def test_closing_an_upload_needs_a_digest(access: Access) -> None:
    location = await access.writer.start_upload(NAME)
    response = await access.writer.call("PUT", location, data=b"abc")
    await oc.expect_error(response, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "SHA256", ""])
async def test_unsupported_digest_algorithm_for_a_session_is_digest_invalid(
    access: Access, algorithm: str
) -> None:
    response = await access.writer.call(
        "POST", f"/v2/{NAME}/blobs/uploads/", params={"digest-algorithm": algorithm}
    )
    await oc.expect_error(response, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("tag", BAD_TAGS)
async def test_malformed_tags_are_refused_on_push(access: Access, tag: str) -> None:
    img = oc.image(layers=0)
    await access.writer.push_image(NAME, img, "v1")
    pushed = await access.writer.put_manifest(NAME, img, tag)
    await oc.expect_error(pushed, 400, "MANIFEST_INVALID")


@PRIVATE_ONLY
@pytest.mark.parametrize("reference", [*BAD_TAGS, *BAD_DIGESTS, ".INVALID_MANIFEST_NAME"])
async def test_a_reference_neither_tag_nor_digest_names_no_manifest(
    access: Access, reference: str
) -> None:
    """Issue 12.7: GET, HEAD and DELETE by such a reference are 404 MANIFEST_UNKNOWN, as CNCF
    distribution answers (its route matches no such reference, or takes it for an unknown
    tag): nothing by that name can exist. Only a PUT, which would create it, is a 400."""
    img = oc.image(layers=0)
    await access.writer.push_image(NAME, img, "v1")
    path = f"/v2/{NAME}/manifests/{reference}"
    pulled = await access.reader.call("GET", path)
    await oc.expect_error(pulled, 404, "MANIFEST_UNKNOWN")
    head = await access.reader.call("HEAD", path)
    assert (head.status, await head.read()) == (404, b"")
    expect_api_version(head)
    deleted = await access.maintainer.call("DELETE", path)
    await oc.expect_error(deleted, 404, "MANIFEST_UNKNOWN")
    pushed = await access.writer.put_manifest(NAME, img, reference)
    assert pushed.status == 400
    still = await access.reader.call("GET", f"/v2/{NAME}/manifests/v1")
    assert still.status == 200


async def test_an_invalid_tag_parameter_stores_nothing(access: Access) -> None:
    img = oc.image(layers=0)
    await access.writer.push_blob(NAME, img.blobs[0])
    response = await access.writer.put_manifest(NAME, img, tags=("ok", "-bad"))
    await oc.expect_error(response, 400, "MANIFEST_INVALID")
    for reference in (img.digest, "ok"):
        pulled = await access.reader.call("GET", f"/v2/{NAME}/manifests/{reference}")
        await oc.expect_error(pulled, 404, "MANIFEST_UNKNOWN")


async def test_a_tag_of_128_characters_is_accepted(access: Access) -> None:
    tag = "t" * 128
    img = oc.image(layers=0)
    await access.writer.push_image(NAME, img, tag)
    pulled = await access.reader.call("GET", f"/v2/{NAME}/manifests/{tag}")
    assert pulled.status == 200


BAD_MANIFESTS = {
    "empty": b"",
    "not-json": b"{nope",
    "array": b"[]",
    "schema-1": b'{"schemaVersion":1,"mediaType":"application/vnd.oci.image.manifest.v1+json"}',
    "duplicate-key": (
        b'{"schemaVersion":2,"schemaVersion":2,"mediaType":'
        b'"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}'
    ),
    "bad-inner-digest": oc.canonical({
        "schemaVersion": 2, "mediaType": oc.OCI_MANIFEST,
        "config": {"mediaType": oc.OCI_CONFIG, "digest": "sha256:nope", "size": 2},
        "layers": [],
    }),
    "negative-size": oc.canonical({
        "schemaVersion": 2, "mediaType": oc.OCI_MANIFEST,
        "config": {"mediaType": oc.OCI_CONFIG, "digest": "sha256:" + HEX64, "size": -1},
        "layers": [],
    }),
    "bad-data-field": oc.canonical({
        "schemaVersion": 2, "mediaType": oc.OCI_MANIFEST,
        "config": {"mediaType": oc.OCI_CONFIG, "digest": oc.sha256(b"{}"), "size": 2,
                   "data": "bm90IHRoaXM="},
        "layers": [],
    }),
    "index-with-layers": oc.canonical({
        "schemaVersion": 2, "mediaType": oc.OCI_INDEX, "manifests": [], "layers": [],
    }),
}


@pytest.mark.parametrize("body", list(BAD_MANIFESTS))
async def test_invalid_manifests_are_manifest_invalid(access: Access, body: str) -> None:
    response = await access.writer.call(
        "PUT", f"/v2/{NAME}/manifests/v1", data=BAD_MANIFESTS[body],
        headers={"Content-Type": oc.OCI_MANIFEST if body != "index-with-layers" else oc.OCI_INDEX},
    )
    await oc.expect_error(response, 400, "MANIFEST_INVALID")


@pytest.mark.parametrize("content_range", ["abc", "5-2", "0-10", "bytes 0-"])
async def test_malformed_content_range_is_blob_upload_invalid(
    access: Access, content_range: str
) -> None:
    location = await access.writer.start_upload(NAME)
    response = await access.writer.call(
        "PATCH", location, data=b"12345", headers={"Content-Range": content_range}
    )
    await oc.expect_error(response, 400, "BLOB_UPLOAD_INVALID")
    status = await access.writer.call("GET", location)
    assert (status.status, status.headers["Range"]) == (204, "0-0")


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=--1", "bytes=1-2-3"])
async def test_malformed_blob_range_is_416(access: Access, header: str) -> None:
    blob = oc.random_blob(100)
    await access.writer.push_blob(NAME, blob)
    response = await access.reader.call(
        "GET", f"/v2/{NAME}/blobs/{blob.digest}", headers={"Range": header}
    )
    assert response.status == 416
    expect_api_version(response)


async def test_an_upload_session_belongs_to_its_repository(access: Access) -> None:
    location = await access.writer.start_upload(NAME)
    session = location.rsplit("/", 1)[1]
    await access.writer.push_blob(f"{NAME}/other", oc.random_blob(4))
    elsewhere = f"/v2/{NAME}/other/blobs/uploads/{session}"
    for method in ("GET", "PATCH", "DELETE"):
        response = await access.writer.call(method, elsewhere, data=b"x")
        await oc.expect_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    still = await access.writer.call("GET", location)
    assert still.status == 204


async def test_a_finished_session_is_gone(access: Access) -> None:
    blob = oc.random_blob(10)
    location = await access.writer.start_upload(NAME)
    done = await access.writer.call("PUT", location, params={"digest": blob.digest},
                                    data=blob.data)
    assert done.status == 201
    for method in ("GET", "PATCH", "PUT"):
        response = await access.writer.call(
            method, location, params={"digest": blob.digest}, data=b"more"
        )
        await oc.expect_error(response, 404, "BLOB_UPLOAD_UNKNOWN")


async def test_unknown_routes_and_methods_answer_in_oci_json(access: Access) -> None:
    missing = await access.reader.call("GET", f"/v2/{NAME}/nothing/here")
    assert missing.status == 404
    assert (await missing.json())["errors"][0]["code"]
    expect_api_version(missing)
    wrong = await access.writer.call("PATCH", f"/v2/{NAME}/manifests/v1")
    await oc.expect_error(wrong, 405, "UNSUPPORTED")


async def test_every_kind_of_answer_names_the_api_version(access: Access) -> None:
    blob = oc.random_blob(10)
    responses = [
        await access.writer.call("GET", "/v2/"),
        await access.writer.call(
            "POST", f"/v2/{NAME}/blobs/uploads/", params={"digest": blob.digest}, data=blob.data
        ),
        await access.reader.call("GET", f"/v2/{NAME}/blobs/{blob.digest}"),
        await access.reader.call("HEAD", f"/v2/{NAME}/blobs/{blob.digest}"),
        await access.reader.call(
            "GET", f"/v2/{NAME}/blobs/{blob.digest}", headers={"Range": "bytes=1-2"}
        ),
        await access.writer.call("POST", f"/v2/{NAME}/blobs/uploads/"),
        await access.reader.call("GET", f"/v2/{NAME}/tags/list"),
        await access.reader.call("GET", f"/v2/{NAME}/referrers/{blob.digest}"),
        await access.reader.call("GET", "/v2/_catalog"),
        await oc.Registry(access.writer.client).call("POST", f"/v2/{NAME}/blobs/uploads/"),
    ]
    assert [r.status for r in responses] == [200, 201, 200, 200, 206, 202, 200, 200, 200, 401]
    for response in responses:
        expect_api_version(response)


WEIRD_PATHS = [
    "/v2/group/app/manifests/",
    "/v2/group/app/blobs/",
    "/v2/group/app/blobs/uploads",
    "/v2/group/app/referrers/",
    "/v2/group/app/tags/list?n=99999999999999999999999",
    "/v2/group/app/tags/list?last=%00",
    "/v2/_catalog?n=-5",
    "/v2/_catalog?n=%C2%B2",
    "/v2/_catalog?n=99999999999999999999999",
    "/v2/group/app/manifests/%00",
    "/v2/group/app/blobs/sha256:%00",
    "/v2/" + "a/" * 40 + "tags/list",
    "/v2/group/app/blobs/uploads/%2E%2E",
]


@PRIVATE_ONLY
@pytest.mark.parametrize("path", WEIRD_PATHS)
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PATCH", "DELETE", "POST"])
async def test_odd_requests_never_get_a_500(access: Access, path: str, method: str) -> None:
    await access.writer.push_image(NAME, oc.image(layers=0), "v1")
    response = await access.maintainer.call(method, path, data=b"{}")
    assert response.status < 500, await response.text()
    expect_api_version(response)
