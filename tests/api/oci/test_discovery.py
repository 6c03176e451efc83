"""Content discovery (conformance "Discovery"): tags lists with ``n``/``last``/``Link``, the
referrers API with its ``artifactType`` filter, and ``/v2/_catalog``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from registry_service.services.permissions import AccessLevel
from tests import oci_content as oc
from tests.api.oci.conftest import NAME, Access
from tests.factories import Factory

# Byte order, not dictionary order: digits, then upper case, then lower case.
TAGS = ["1.0", "Latest", "a", "b", "c", "d", "e"]


async def push_tags(access: Access, tags: list[str]) -> oc.Image:
    img = oc.image(layers=1)
    for blob in img.blobs:
        await access.writer.push_blob(NAME, blob)
    response = await access.writer.put_manifest(NAME, img, tags=tuple(reversed(tags)))
    assert response.status == 201, await response.text()
    return img


async def list_tags(registry: oc.Registry, query: str = "") -> tuple[list[str], str | None]:
    response = await registry.call("GET", f"/v2/{NAME}/tags/list{query}")
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["name"] == NAME
    return body["tags"], response.headers.get("Link")


# --- tags -----------------------------------------------------------------------------------


async def test_tags_list_is_in_lexical_order(access: Access) -> None:
    await push_tags(access, TAGS)
    assert await list_tags(access.reader) == (TAGS, None)


async def test_tags_list_pages_with_n_and_link(access: Access) -> None:
    await push_tags(access, TAGS)
    tags, link = await list_tags(access.reader, "?n=3")
    assert (tags, link) == (TAGS[:3], f'</v2/{NAME}/tags/list?n=3&last=a>; rel="next"')
    tags, link = await list_tags(access.reader, "?n=3&last=a")
    assert (tags, link) == (TAGS[3:6], f'</v2/{NAME}/tags/list?n=3&last=d>; rel="next"')
    # The last page carries no Link, even when it is exactly full.
    assert await list_tags(access.reader, "?n=1&last=d") == (["e"], None)
    assert await list_tags(access.reader, "?n=3&last=d") == (["e"], None)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?last=b", ["c", "d", "e"]),  # exclusive
        ("?last=bb", ["c", "d", "e"]),  # need not be a tag
        ("?last=e", []),
        ("?last=0", TAGS),
        ("?n=0", []),
        ("?n=0&last=a", []),
        ("?n=100", TAGS),
        ("?n=99999999999999999999999", TAGS),  # more than SQLite's LIMIT takes
    ],
)
async def test_tags_list_last_is_exclusive_and_n_0_is_empty_without_link(
    access: Access, query: str, expected: list[str]
) -> None:
    await push_tags(access, TAGS)
    assert await list_tags(access.reader, query) == (expected, None)


@pytest.mark.parametrize("n", ["-1", "x", "1.5", "²", "1e3"])
async def test_tags_list_with_a_bad_n_is_400(access: Access, n: str) -> None:
    await push_tags(access, ["a"])
    response = await access.reader.call("GET", f"/v2/{NAME}/tags/list", params={"n": n})
    await oc.expect_error(response, 400, "PAGINATION_NUMBER_INVALID")


async def test_tags_list_of_a_repository_never_pushed_is_name_unknown(access: Access) -> None:
    response = await access.reader.call("GET", f"/v2/{NAME}/tags/list")
    await oc.expect_error(response, 404, "NAME_UNKNOWN")


# --- referrers ------------------------------------------------------------------------------


async def referrers(
    registry: oc.Registry, digest: str, artifact_type: str | None = None
) -> tuple[ClientResponse, list[dict[str, Any]]]:
    params = {} if artifact_type is None else {"artifactType": artifact_type}
    response = await registry.call("GET", f"/v2/{NAME}/referrers/{digest}", params=params)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == oc.OCI_INDEX
    body = json.loads(await response.read())
    assert (body["schemaVersion"], body["mediaType"]) == (2, oc.OCI_INDEX)
    return response, body["manifests"]


def referrer(img: oc.Image, artifact_type: str) -> dict[str, Any]:
    """The descriptor a referrers list must hold for ``img``."""
    descriptor = img.descriptor(artifactType=artifact_type)
    annotations = json.loads(img.manifest).get("annotations")
    if annotations:
        descriptor["annotations"] = annotations
    return descriptor


async def push_referrers(access: Access) -> tuple[oc.Image, list[dict[str, Any]]]:
    """The conformance suite's "artifacts with subject" set plus an index referrer; the subject
    and the descriptors its referrers list must show."""
    subject, image_referrer, artifact1, artifact2 = oc.with_subject()
    index_referrer = oc.index(
        [oc.image()], subject=subject, artifact_type=oc.EXAMPLE_TYPE_2,
        annotations={"org.example.kind": "index"},
    )
    for img in (subject, image_referrer, artifact1, artifact2, index_referrer):
        await access.writer.push_image(NAME, img)
    expected = [
        referrer(image_referrer, oc.OCI_CONFIG),  # falls back to the config media type
        referrer(artifact1, oc.EXAMPLE_TYPE_1),
        referrer(artifact2, oc.EXAMPLE_TYPE_2),
        referrer(index_referrer, oc.EXAMPLE_TYPE_2),
    ]
    return subject, expected


def by_digest(descriptors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(descriptors, key=lambda d: str(d["digest"]))


async def test_referrers_list_every_manifest_with_that_subject(access: Access) -> None:
    subject, expected = await push_referrers(access)
    response, listed = await referrers(access.reader, subject.digest)
    assert by_digest(listed) == by_digest(expected)
    assert "OCI-Filters-Applied" not in response.headers


@pytest.mark.parametrize("artifact_type", [oc.EXAMPLE_TYPE_1, oc.EXAMPLE_TYPE_2, oc.OCI_CONFIG])
async def test_referrers_filtered_by_artifact_type(access: Access, artifact_type: str) -> None:
    subject, expected = await push_referrers(access)
    response, listed = await referrers(access.reader, subject.digest, artifact_type)
    assert response.headers["OCI-Filters-Applied"] == "artifactType"
    wanted = [d for d in expected if d["artifactType"] == artifact_type]
    assert wanted and by_digest(listed) == by_digest(wanted)


async def test_referrers_of_a_missing_subject_list_what_refers_to_it(access: Access) -> None:
    img, subject = oc.missing_subject_artifact()
    await access.writer.push_image(NAME, img)
    _, listed = await referrers(access.reader, subject)
    assert listed == [referrer(img, oc.EXAMPLE_TYPE_1)]


@pytest.mark.parametrize("pushed", [True, False], ids=["repository", "never-pushed"])
async def test_referrers_of_an_unknown_digest_are_an_empty_index(
    access: Access, pushed: bool
) -> None:
    if pushed:
        await access.writer.push_image(NAME, oc.image())
    _, listed = await referrers(access.reader, oc.sha256(b"nothing refers to this"))
    assert listed == []


INVALID_DIGESTS = ["sha256:abc", "md5:" + "0" * 32, "latest", "sha256:" + "A" * 64]


@pytest.mark.parametrize("digest", INVALID_DIGESTS)
async def test_referrers_of_an_invalid_digest_are_digest_invalid(
    access: Access, digest: str
) -> None:
    await access.writer.push_image(NAME, oc.image())
    response = await access.reader.call("GET", f"/v2/{NAME}/referrers/{digest}")
    await oc.expect_error(response, 400, "DIGEST_INVALID")


async def test_deleted_referrer_leaves_the_list(access: Access) -> None:
    subject, expected = await push_referrers(access)
    gone = expected[1]["digest"]
    response = await access.maintainer.call("DELETE", f"/v2/{NAME}/manifests/{gone}")
    assert response.status == 202
    _, listed = await referrers(access.reader, subject.digest)
    assert by_digest(listed) == by_digest([d for d in expected if d["digest"] != gone])


# --- catalog --------------------------------------------------------------------------------


async def seed_catalog(client: TestClient, factory: Factory) -> oc.Registry:
    """Repositories in a public project, one where the caller is Reporter and one where the
    caller is only Guest (who may see the project but not pull); returns the caller."""
    public = await factory.project("group/pub", visibility="public")
    mine = await factory.project("group/mine")
    theirs = await factory.project("group/theirs")
    me = await factory.user("me")
    await factory.member(me.user, AccessLevel.REPORTER, project=mine)
    await factory.member(me.user, AccessLevel.GUEST, project=theirs)
    admin = await factory.user("root", admin=True)
    root = oc.Registry(client, oc.basic("root", admin.token))
    for project, names in ((public, ["", "web", "web/api"]), (mine, ["", "db"]),
                           (theirs, [""])):
        for name in names:
            path = f"{project.full_path}/{name}".rstrip("/")
            await root.push_image(path, oc.image(layers=1), "v1")
    return oc.Registry(client, oc.basic("me", me.token))


async def catalog(registry: oc.Registry, query: str = "") -> tuple[list[str], str | None]:
    response = await registry.call("GET", f"/v2/_catalog{query}")
    assert response.status == 200, await response.text()
    body = await response.json()
    assert set(body) == {"repositories"}
    return body["repositories"], response.headers.get("Link")


async def test_catalog_lists_only_what_the_caller_may_pull(
    client: TestClient, factory: Factory
) -> None:
    me = await seed_catalog(client, factory)
    public = ["group/pub", "group/pub/web", "group/pub/web/api"]
    assert await catalog(oc.Registry(client)) == (public, None)
    assert await catalog(me) == (["group/mine", "group/mine/db", *public], None)


async def test_catalog_pages_with_n_last_and_link(client: TestClient, factory: Factory) -> None:
    me = await seed_catalog(client, factory)
    page, link = await catalog(me, "?n=2")
    assert (page, link) == (
        ["group/mine", "group/mine/db"],
        '</v2/_catalog?n=2&last=group%2Fmine%2Fdb>; rel="next"',
    )
    page, link = await catalog(me, "?n=2&last=group%2Fmine%2Fdb")
    assert page == ["group/pub", "group/pub/web"]
    assert link == '</v2/_catalog?n=2&last=group%2Fpub%2Fweb>; rel="next"'
    assert await catalog(me, "?n=2&last=group/pub/web") == (["group/pub/web/api"], None)
    assert await catalog(me, "?n=0") == ([], None)
    assert await catalog(me, "?last=group/pub/web/api") == ([], None)
