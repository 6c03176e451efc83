"""The OCI conformance suite of distribution-spec v1.1.1 (``conformance/0[1-4]_*_test.go``),
replayed spec by spec in its order, with data built the way its ``setup.go`` builds it.

The Go suite cannot be built here (no Go module proxy); the other workflow tests check the
same behaviours more widely, while this module keeps the suite's exact sequence and its
acceptance rules, so each of its ``Specify`` steps is known to pass. Each step's assertion
message is the spec's name. The suite's content, as its ``setup.go`` makes it:

- one image config per workflow (``author`` random, so digests differ), and per workflow a
  manifest whose config descriptor carries the config as ``data`` plus an unknown
  ``newUnspecifiedField``; every descriptor has ``"newUnspecifiedField": null``; all JSON is
  tab-indented;
- one gzip tar layer shared by all; a 42-byte random blob A (streamed, then mounted) and a
  42-byte blob B pushed in two chunks (22 + 20 bytes);
- ``.INVALID_MANIFEST_NAME`` as the nonexistent manifest, ``sha256(b"hello world")`` as the
  nonexistent blob;
- referrers: two artifacts whose config media type is the artifact type, two with
  ``artifactType`` and an empty-JSON config, one index artifact (all annotated, subject
  manifest 4), and one artifact whose subject (manifest 3) is never pushed.

The suite's switches are covered as parameters: ``OCI_DELETE_MANIFEST_BEFORE_BLOBS`` (both
orders of teardown) and ``OCI_AUTOMATIC_CROSSMOUNT=0`` (a mount without ``from`` is 202).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import tarfile
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse

from tests import oci_content as oc
from tests.api.oci.conftest import NAME, Access

CROSSMOUNT = f"{NAME}/crossmount"
NONEXISTENT_MANIFEST = ".INVALID_MANIFEST_NAME"
DUMMY_DIGEST = oc.sha256(b"hello world")
TAG = "tagtest0"
EMPTY_LAYER_TAG = "emptylayer"
ARTIFACT_TYPE_A = "application/vnd.nhl.peanut.butter.bagel"
ARTIFACT_TYPE_B = "application/vnd.nba.strawberry.jam.croissant"
ARTIFACT_TYPE_INDEX = "application/vnd.food.stand"
ANNOTATION = "org.opencontainers.conformance.test"
ERROR_CODES = {
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_UNVERIFIED",
    "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "TAG_INVALID", "UNAUTHORIZED", "DENIED",
    "UNSUPPORTED",
}
OCTET = "application/octet-stream"
MANIFEST_HEADERS = {"Content-Type": oc.OCI_MANIFEST}
ACCEPT = {"Accept": oc.OCI_MANIFEST}


def go_json(document: dict[str, Any]) -> bytes:
    """JSON as Go's ``json.MarshalIndent(v, "", "\\t")`` lays it out."""
    return json.dumps(document, indent="\t").encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def descriptor(media_type: str, data: bytes, *, inline: bool = False,
               unspecified: bytes | None = None) -> dict[str, Any]:
    """A descriptor as the suite's struct serialises it: ``data`` when ``inline``, and
    ``newUnspecifiedField`` always (null unless set)."""
    document: dict[str, Any] = {"mediaType": media_type, "digest": oc.sha256(data),
                                "size": len(data)}
    if inline:
        document["data"] = b64(data)
    document["newUnspecifiedField"] = None if unspecified is None else b64(unspecified)
    return document


def layer_tarball() -> bytes:
    """A gzip tar holding one small text file."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        text = b"a layer for the conformance workflows\n"
        info = tarfile.TarInfo("test.txt")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass(frozen=True)
class Suite:
    configs: list[bytes]
    manifests: list[bytes]
    layer: bytes
    empty_layer_manifest: bytes
    blob_a: bytes
    blob_b: bytes
    refs: dict[str, bytes]  # name → manifest bytes, in the order the suite pushes them
    annotations: dict[str, str]  # referrer digest → its annotation value


def build_suite() -> Suite:
    layer = layer_tarball()
    configs = [
        go_json({"author": os.urandom(8).hex(), "architecture": "amd64", "os": "linux",
                 "rootfs": {"type": "layers", "diff_ids": []}})
        for _ in range(16)
    ]

    def manifest(config: bytes, layers: list[dict[str, Any]]) -> bytes:
        document: dict[str, Any] = {"schemaVersion": 2, "mediaType": oc.OCI_MANIFEST}
        document["config"] = descriptor(
            oc.OCI_CONFIG, config, inline=True, unspecified=b"hello world"
        )
        document["layers"] = layers
        return go_json(document)

    layers = [descriptor(oc.OCI_LAYER_GZIP, layer)]
    manifests = [manifest(config, layers) for config in configs]
    empty_json = descriptor(oc.EMPTY_JSON, b"{}")
    ref_a, ref_b = b"NHL Peanut Butter on my NHL bagel", b"NBA Strawberry Jam on my NBA croissant"

    def subject(of: bytes) -> dict[str, Any]:
        return descriptor(oc.OCI_MANIFEST, of)

    def artifact(config: dict[str, Any], layer_: dict[str, Any], about: bytes,
                 artifact_type: str | None, note: str | None) -> bytes:
        document: dict[str, Any] = {"schemaVersion": 2, "mediaType": oc.OCI_MANIFEST}
        if artifact_type:
            document["artifactType"] = artifact_type
        document |= {"config": config, "layers": [layer_], "subject": subject(about)}
        if note:
            document["annotations"] = {ANNOTATION: note}
        return go_json(document)

    refs = {
        "a-config": artifact(descriptor(ARTIFACT_TYPE_A, ref_a), empty_json, manifests[4],
                             None, "test config a"),
        "a-layer": artifact(empty_json, descriptor(ARTIFACT_TYPE_A, ref_a), manifests[4],
                            ARTIFACT_TYPE_A, "test layer a"),
    }
    refs["index"] = go_json({
        "schemaVersion": 2, "mediaType": oc.OCI_INDEX, "artifactType": ARTIFACT_TYPE_INDEX,
        "manifests": [descriptor(oc.OCI_MANIFEST, refs["a-config"]),
                      descriptor(oc.OCI_MANIFEST, refs["a-layer"])],
        "subject": subject(manifests[4]), "annotations": {ANNOTATION: "test index"},
    })
    refs["b-config"] = artifact(descriptor(ARTIFACT_TYPE_B, ref_b), empty_json, manifests[4],
                                None, "test config b")
    refs["b-layer"] = artifact(empty_json, descriptor(ARTIFACT_TYPE_B, ref_b), manifests[4],
                               ARTIFACT_TYPE_B, "test layer b")
    refs["c-layer"] = artifact(empty_json, descriptor(ARTIFACT_TYPE_B, ref_b), manifests[3],
                               ARTIFACT_TYPE_B, None)
    annotations = {
        oc.sha256(body): json.loads(body)["annotations"][ANNOTATION]
        for body in refs.values() if b"annotations" in body
    }
    empty_layer_manifest = go_json({
        "schemaVersion": 2,
        "config": descriptor(oc.OCI_CONFIG, configs[1], inline=True,
                             unspecified=b"hello world"),
        "layers": [],
    })
    return Suite(configs, manifests, layer, empty_layer_manifest, os.urandom(42),
                 os.urandom(42), refs, annotations)


class Client:
    """The suite's client: one identity, paths with ``<name>`` filled in."""

    def __init__(self, registry: oc.Registry) -> None:
        self.registry = registry

    async def do(self, method: str, path: str, *, name: str = NAME,
                 params: dict[str, str] | None = None, data: bytes | None = None,
                 headers: dict[str, str] | None = None) -> ClientResponse:
        url = path.replace("<name>", name)
        response = await self.registry.call(method, url, params=params, data=data,
                                            headers=headers)
        await response.read()
        return response

    async def upload(self, blob: bytes, spec: str) -> None:
        """POST a session, then PUT the blob to its Location (the suite's setup steps)."""
        started = await self.do("POST", "/v2/<name>/blobs/uploads/")
        done = await self.do("PUT", started.headers["Location"],
                             params={"digest": oc.sha256(blob)}, data=blob,
                             headers={"Content-Type": OCTET})
        assert 200 <= done.status < 300, spec

    async def put_manifest(self, reference: str, body: bytes, spec: str,
                           media_type: str = oc.OCI_MANIFEST) -> ClientResponse:
        response = await self.do("PUT", f"/v2/<name>/manifests/{reference}", data=body,
                                 headers={"Content-Type": media_type})
        assert 200 <= response.status < 300, f"{spec}: {await response.text()}"
        return response

    async def delete(self, path: str, spec: str, *, may_be_missing: bool = True) -> None:
        response = await self.do("DELETE", path)
        allowed = {405, 404} if may_be_missing else {405}
        assert 200 <= response.status < 300 or response.status in allowed, spec


@pytest.fixture
def suite() -> Suite:
    return build_suite()


@pytest.fixture
def client(access: Access) -> Client:
    # The suite runs as one user who may pull, push and delete.
    return Client(access.maintainer)


MANIFESTS_FIRST = pytest.mark.parametrize(
    "manifests_first", [True, False], ids=["manifests-before-blobs", "blobs-before-manifests"]
)


@MANIFESTS_FIRST
async def test_pull_workflow(client: Client, suite: Suite, manifests_first: bool) -> None:
    c, s = client, suite
    # Setup
    await c.upload(s.configs[0], "Populate registry with test blob")
    await c.upload(s.configs[1], "Populate registry with test blob")
    await c.upload(s.layer, "Populate registry with test layer")
    await c.put_manifest(TAG, s.manifests[0], "Populate registry with test manifest")
    m1 = oc.sha256(s.manifests[1])
    await c.put_manifest(m1, s.manifests[1], "Populate registry with test manifest")
    m0, config0 = oc.sha256(s.manifests[0]), oc.sha256(s.configs[0])

    # Pull blobs
    r = await c.do("HEAD", f"/v2/<name>/blobs/{DUMMY_DIGEST}")
    assert r.status == 404, "HEAD request to nonexistent blob should result in 404 response"
    r = await c.do("HEAD", f"/v2/<name>/blobs/{config0}")
    assert r.status == 200, "HEAD request to existing blob should yield 200"
    assert r.headers.get("Docker-Content-Digest", config0) == config0
    r = await c.do("GET", f"/v2/<name>/blobs/{DUMMY_DIGEST}")
    assert r.status == 404, "GET nonexistent blob should result in 404 response"
    r = await c.do("GET", f"/v2/<name>/blobs/{config0}")
    assert r.status == 200, "GET request to existing blob URL should yield 200"

    # Pull manifests
    steps = [
        ("HEAD", NONEXISTENT_MANIFEST, None, 404,
         "HEAD request to nonexistent manifest should return 404"),
        ("HEAD", m0, m0, 200,
         "HEAD request to manifest[0] path (digest) should yield 200 response"),
        ("HEAD", m1, m1, 200,
         "HEAD request to manifest[1] path (digest) should yield 200 response"),
        ("HEAD", TAG, m0, 200, "HEAD request to manifest path (tag) should yield 200 response"),
        ("GET", NONEXISTENT_MANIFEST, None, 404, "GET nonexistent manifest should return 404"),
        ("GET", m0, m0, 200, "GET request to manifest[0] path (digest) should yield 200 response"),
        ("GET", m1, m1, 200, "GET request to manifest[1] path (digest) should yield 200 response"),
        ("GET", TAG, m0, 200, "GET request to manifest path (tag) should yield 200 response"),
    ]
    for method, reference, digest, status, spec in steps:
        r = await c.do(method, f"/v2/<name>/manifests/{reference}", headers=ACCEPT)
        assert r.status == status, spec
        if digest is not None:
            assert r.headers.get("Docker-Content-Digest", digest) == digest, spec

    # Error codes
    r = await c.do("GET", "/v2/<name>/manifests/sha256:totallywrong", data=b"blablabla",
                   headers=MANIFEST_HEADERS)
    spec = "400 response body should contain OCI-conforming JSON message"
    assert r.status in (400, 404), spec
    if r.status == 400:
        assert json.loads(await r.read())["errors"][0]["code"] in ERROR_CODES, spec

    # Teardown
    manifest_steps = [(m0, "Delete manifest[0] created in setup"),
                      (m1, "Delete manifest[1] created in setup")]
    blob_steps = [(config0, "Delete config[0] blob created in setup"),
                  (oc.sha256(s.configs[1]), "Delete config[1] blob created in setup"),
                  (oc.sha256(s.layer), "Delete layer blob created in setup")]
    for kind in (["manifests", "blobs"] if manifests_first else ["blobs", "manifests"]):
        if kind == "manifests":
            for digest, spec in manifest_steps:
                await c.delete(f"/v2/<name>/manifests/{digest}", spec, may_be_missing=False)
        else:
            for digest, spec in blob_steps:
                await c.delete(f"/v2/<name>/blobs/{digest}", spec)


@MANIFESTS_FIRST
async def test_push_workflow(client: Client, suite: Suite, manifests_first: bool) -> None:
    c, s = client, suite
    digest_a, digest_b = oc.sha256(s.blob_a), oc.sha256(s.blob_b)
    config1, layer = oc.sha256(s.configs[1]), oc.sha256(s.layer)

    # Blob Upload Streamed
    r = await c.do("POST", "/v2/<name>/blobs/uploads/")
    assert r.headers.get("Location")
    r = await c.do("PATCH", r.headers["Location"], data=s.blob_a,
                   headers={"Content-Type": OCTET})
    assert r.status == 202, "PATCH request with blob in body should yield 202 response"
    r = await c.do("PUT", r.headers["Location"], params={"digest": digest_a},
                   headers={"Content-Type": OCTET})
    assert r.status == 201, "PUT request to session URL with digest should yield 201 response"
    assert r.headers.get("Location")

    # Blob Upload Monolithic
    r = await c.do("GET", f"/v2/<name>/blobs/{DUMMY_DIGEST}")
    assert r.status == 404, "GET nonexistent blob should result in 404 response"
    posted = await c.do("POST", "/v2/<name>/blobs/uploads/", params={"digest": config1},
                        data=s.configs[1], headers={"Content-Type": OCTET})
    spec = "POST request with digest and blob should yield a 201 or 202"
    assert posted.headers.get("Location"), spec
    assert posted.status in (201, 202), spec
    r = await c.do("GET", f"/v2/<name>/blobs/{config1}")
    expected = 404 if posted.status == 202 else 200
    assert r.status == expected, ("GET request to blob URL from prior request should yield "
                                  "200 or 404 based on response code")
    r = await c.do("POST", "/v2/<name>/blobs/uploads/")
    assert r.status == 202, "POST request should yield a session ID"
    r = await c.do("PUT", r.headers["Location"], params={"digest": config1}, data=s.configs[1],
                   headers={"Content-Type": OCTET})
    assert r.headers.get("Location")
    assert r.status == 201, "PUT upload of a blob should yield a 201 Response"
    r = await c.do("GET", f"/v2/<name>/blobs/{config1}")
    assert r.status == 200, "GET request to existing blob should yield 200 response"
    r = await c.do("POST", "/v2/<name>/blobs/uploads/")
    r = await c.do("PUT", r.headers["Location"], params={"digest": layer}, data=s.layer,
                   headers={"Content-Type": OCTET})
    assert r.headers.get("Location")
    assert r.status == 201, "PUT upload of a layer blob should yield a 201 Response"
    r = await c.do("GET", f"/v2/<name>/blobs/{layer}")
    assert r.status == 200, "GET request to existing layer should yield 200 response"

    # Blob Upload Chunked
    r = await c.do("POST", "/v2/<name>/blobs/uploads/", headers={"Content-Length": "0"})
    assert r.headers.get("Location")
    blob_b = s.blob_b
    minimum = int(r.headers.get("OCI-Chunk-Min-Length", "0"))
    if minimum > len(blob_b) // 2 + 1:
        blob_b = os.urandom(minimum * 2 - 2)  # the suite rebuilds its blob the same way
        digest_b = oc.sha256(blob_b)
    half = len(blob_b) // 2 + 1
    chunk1, chunk2 = blob_b[:half], blob_b[half:]
    range1, range2 = f"0-{half - 1}", f"{half}-{len(blob_b) - 1}"

    def chunk_headers(content_range: str, length: int) -> dict[str, str]:
        return {"Content-Type": OCTET, "Content-Length": str(length),
                "Content-Range": content_range}

    r = await c.do("PATCH", r.headers["Location"], data=chunk2,
                   headers=chunk_headers(range2, len(chunk2)))
    assert r.status == 416, "Out-of-order blob upload should return 416"
    started = await c.do("POST", "/v2/<name>/blobs/uploads/", headers={"Content-Length": "0"})
    assert started.headers.get("Location")
    r = await c.do("PATCH", started.headers["Location"], data=chunk1,
                   headers=chunk_headers(range1, len(chunk1)))
    assert r.status == 202, "PATCH request with first chunk should return 202"
    assert r.headers["Range"] == range1
    r = await c.do("PATCH", started.headers["Location"], data=chunk1,
                   headers=chunk_headers(range1, len(chunk1)))
    assert r.status == 416, "Retry previous blob chunk should return 416"
    r = await c.do("GET", started.headers["Location"])
    spec = "Get on stale blob upload should return 204 with a range and location"
    assert r.status == 204, spec
    assert r.headers.get("Location"), spec
    assert r.headers["Range"] == range1, spec
    r = await c.do("PATCH", r.headers["Location"], data=chunk2,
                   headers=chunk_headers(range2, len(chunk2)))
    assert r.headers.get("Location")
    assert r.status == 202, "PATCH request with second chunk should return 202"
    r = await c.do("PUT", r.headers["Location"], params={"digest": digest_b},
                   headers={"Content-Type": OCTET, "Content-Length": "0"})
    assert r.status == 201, "PUT request with digest should return 201"
    assert r.headers.get("Location")

    # Cross-Repository Blob Mount
    r = await c.do("POST", "/v2/<name>/blobs/uploads/", name=CROSSMOUNT,
                   params={"mount": DUMMY_DIGEST})
    spec = "Cross-mounting of a blob without the from argument should yield session id"
    assert r.status == 202, spec
    assert r.headers.get("Location"), spec
    mounted = await c.do("POST", "/v2/<name>/blobs/uploads/", name=CROSSMOUNT,
                         params={"mount": digest_a, "from": NAME})
    assert mounted.status in (201, 202), ("POST request to mount another repository's blob "
                                          "should return 201 or 202")
    if mounted.status == 201:
        spec = "GET request to test digest within cross-mount namespace should return 200"
        assert mounted.headers["Location"] == f"/v2/{CROSSMOUNT}/blobs/{digest_a}", spec
        r = await c.do("GET", mounted.headers["Location"])
        assert r.status == 200, spec
        # OCI_AUTOMATIC_CROSSMOUNT=0: no automatic content discovery.
        r = await c.do("POST", "/v2/<name>/blobs/uploads/", name=CROSSMOUNT,
                       params={"mount": digest_a})
        assert r.status == 202, ("Cross-mounting without from, and automatic content "
                                 "discovery disabled should return a 202")
    else:
        assert mounted.headers["Location"].startswith(f"/v2/{CROSSMOUNT}/blobs/uploads/"), (
            "Cross-mounting of nonexistent blob should yield session id"
        )

    # Manifest Upload
    r = await c.do("GET", f"/v2/<name>/manifests/{NONEXISTENT_MANIFEST}")
    assert r.status == 404, "GET nonexistent manifest should return 404"
    for i in range(4):
        spec = "PUT should accept a manifest upload"
        r = await c.put_manifest(f"test{i}", s.manifests[1], spec)
        assert r.status == 201 and r.headers.get("Location")
    r = await c.put_manifest(EMPTY_LAYER_TAG, s.empty_layer_manifest,
                             "Registry should accept a manifest upload with no layers")
    assert r.status == 201 and r.headers.get("Location")
    m1 = oc.sha256(s.manifests[1])
    r = await c.do("GET", f"/v2/<name>/manifests/{m1}", headers=ACCEPT)
    assert r.status == 200, "GET request to manifest URL (digest) should yield 200 response"

    # Teardown
    for kind in (["manifests", "blobs"] if manifests_first else ["blobs", "manifests"]):
        if kind == "manifests":
            for digest in (m1, oc.sha256(s.empty_layer_manifest)):
                await c.delete(f"/v2/<name>/manifests/{digest}",
                               "Delete manifest created in tests", may_be_missing=False)
        else:
            await c.delete(f"/v2/<name>/blobs/{config1}", "Delete config blob created in tests")
            await c.delete(f"/v2/<name>/blobs/{layer}", "Delete layer blob created in setup")


async def referrers(c: Client, digest: str, params: dict[str, str] | None = None,
                    ) -> tuple[ClientResponse, list[dict[str, Any]]]:
    r = await c.do("GET", f"/v2/<name>/referrers/{digest}", params=params)
    assert r.status == 200
    assert r.headers["Content-Type"] == oc.OCI_INDEX
    manifests: list[dict[str, Any]] = json.loads(await r.read())["manifests"]
    return r, manifests


@MANIFESTS_FIRST
async def test_content_discovery_workflow(
    client: Client, suite: Suite, manifests_first: bool
) -> None:
    c, s = client, suite
    subject, missing_subject = oc.sha256(s.manifests[4]), oc.sha256(s.manifests[3])
    # Setup
    await c.upload(s.configs[2], "Populate registry with test blob")
    await c.upload(s.layer, "Populate registry with test layer")
    for i in range(4):
        await c.put_manifest(f"test{i}", s.manifests[2], "Populate registry with test tags")
    spec = "References setup"
    await c.upload(b"{}", spec)
    await c.upload(b"NHL Peanut Butter on my NHL bagel", spec)
    for name in ("a-config", "a-layer", "index"):
        media_type = oc.OCI_INDEX if name == "index" else oc.OCI_MANIFEST
        r = await c.put_manifest(oc.sha256(s.refs[name]), s.refs[name], spec, media_type)
        assert r.headers["OCI-Subject"] == subject, spec
    await c.upload(s.configs[4], spec)
    await c.upload(s.layer, spec)
    await c.put_manifest(TAG, s.manifests[4], spec)
    await c.upload(b"NBA Strawberry Jam on my NBA croissant", spec)
    for name, about in (("b-config", subject), ("b-layer", subject),
                        ("c-layer", missing_subject)):
        r = await c.put_manifest(oc.sha256(s.refs[name]), s.refs[name], spec)
        assert r.headers["OCI-Subject"] == about, spec

    # Test content discovery endpoints (listing tags)
    r = await c.do("GET", "/v2/<name>/tags/list")
    assert r.status == 200, "GET request to list tags should yield 200 response"
    tags = json.loads(await r.read())["tags"]
    half = len(tags) // 2
    r = await c.do("GET", "/v2/<name>/tags/list", params={"n": str(half)})
    assert r.status == 200, "GET number of tags should be limitable by `n` query parameter"
    first = json.loads(await r.read())["tags"]
    assert len(first) == half
    r = await c.do("GET", "/v2/<name>/tags/list",
                   params={"n": str(half), "last": first[half - 1]})
    assert r.status == 200, "GET start of tag is set by `last` query parameter"
    rest = json.loads(await r.read())["tags"]
    assert len(rest) <= half and first[half - 1] not in rest
    assert first + rest == tags[: len(first) + len(rest)]

    # Test content discovery endpoints (listing references)
    _, found = await referrers(c, DUMMY_DIGEST)
    assert found == [], "GET request to nonexistent blob should result in empty 200 response"
    spec = "GET request to existing blob should yield 200"
    _, found = await referrers(c, subject)
    assert len(found) == 5, spec
    assert len({d["digest"] for d in found}) == 5, spec
    for entry in found:
        assert entry["annotations"] == {ANNOTATION: s.annotations[entry["digest"]]}, spec
    spec = "GET request to existing blob with filter should yield 200"
    r, found = await referrers(c, subject, {"artifactType": ARTIFACT_TYPE_A})
    assert r.headers["OCI-Filters-Applied"] == "artifactType", spec
    assert len(found) == 2, spec
    for entry in found:
        assert entry["annotations"] == {ANNOTATION: s.annotations[entry["digest"]]}, spec
    _, found = await referrers(c, missing_subject)
    spec = "GET request to missing manifest should yield 200"
    assert [d["digest"] for d in found] == [oc.sha256(s.refs["c-layer"])], spec

    # Teardown
    references = [oc.sha256(s.refs["index"]), oc.sha256(s.manifests[2]), subject,
                  *(oc.sha256(s.refs[n]) for n in ("a-config", "a-layer", "b-config",
                                                   "b-layer", "c-layer"))]
    for kind in (["manifests", "blobs"] if manifests_first else ["blobs", "manifests"]):
        if kind == "manifests":
            for digest in references:
                await c.delete(f"/v2/<name>/manifests/{digest}",
                               "Delete created manifest & associated tags")
        else:
            await c.delete(f"/v2/<name>/blobs/{oc.sha256(s.configs[2])}",
                           "Delete config blob created in tests")
            await c.delete(f"/v2/<name>/blobs/{oc.sha256(s.layer)}",
                           "Delete layer blob created in setup")
    spec = "References teardown"
    for name in ("index", "a-config", "a-layer"):
        await c.delete(f"/v2/<name>/manifests/{oc.sha256(s.refs[name])}", spec)
    await c.delete(f"/v2/<name>/manifests/{subject}", spec)
    for name in ("b-config", "b-layer", "c-layer"):
        await c.delete(f"/v2/<name>/manifests/{oc.sha256(s.refs[name])}", spec)
    for blob in (b"{}", b"NHL Peanut Butter on my NHL bagel",
                 b"NBA Strawberry Jam on my NBA croissant", s.configs[4], s.layer):
        await c.delete(f"/v2/<name>/blobs/{oc.sha256(blob)}", spec)


async def test_content_management_workflow(client: Client, suite: Suite) -> None:
    c, s = client, suite
    m3, config3 = oc.sha256(s.manifests[3]), oc.sha256(s.configs[3])
    # Setup
    await c.upload(s.configs[3], "Populate registry with test config blob")
    await c.upload(s.layer, "Populate registry with test layer")
    await c.put_manifest(TAG, s.manifests[3], "Populate registry with test tag")
    r = await c.do("GET", "/v2/<name>/tags/list")
    assert r.status == 200, "Check how many tags there are before anything gets deleted"
    before = len(json.loads(await r.read())["tags"])

    # Manifest delete
    r = await c.do("DELETE", f"/v2/<name>/manifests/{TAG}")
    assert r.status in (202, 400, 405), ("DELETE request to manifest tag should return 202, "
                                         "unless tag deletion is disallowed (400/405)")
    if r.status == 400:
        assert json.loads(await r.read())["errors"][0]["code"] == "UNSUPPORTED"
    r = await c.do("DELETE", f"/v2/<name>/manifests/{m3}")
    assert r.status in (202, 404), ("DELETE request to manifest (digest) should yield 202 "
                                    "response unless already deleted")
    r = await c.do("GET", f"/v2/<name>/manifests/{m3}")
    assert r.status in (404, 200), ("GET request to deleted manifest URL should yield 404 "
                                    "response, unless delete is disallowed")
    r = await c.do("GET", "/v2/<name>/tags/list")
    spec = "GET request to tags list should reflect manifest deletion"
    assert r.status in (404, 200), spec
    if r.status == 200:
        assert len(json.loads(await r.read())["tags"]) == before - 1, spec
    else:
        assert before - 1 == 0, spec

    # Blob delete
    spec = "DELETE request to blob URL should yield 202 response"
    for digest in (config3, oc.sha256(s.layer)):
        r = await c.do("DELETE", f"/v2/<name>/blobs/{digest}")
        assert r.status in (202, 404, 405), spec
    if r.status != 405:
        r = await c.do("GET", f"/v2/<name>/blobs/{config3}")
        assert r.status == 404, "GET request to deleted blob URL should yield 404 response"
