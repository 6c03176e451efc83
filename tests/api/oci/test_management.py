"""Content management (conformance "Management"): delete a tag (only that tag), a manifest
(then 404 and gone from the tags list) and a blob (then 404), over every data set."""

from __future__ import annotations

import pytest

from tests import oci_content as oc
from tests.api.oci.conftest import NAME, Access


async def tags(registry: oc.Registry) -> list[str]:
    response = await registry.call("GET", f"/v2/{NAME}/tags/list")
    assert response.status == 200, await response.text()
    names: list[str] = (await response.json())["tags"]
    return names


async def push_tagged(access: Access, *tag_names: str) -> oc.Image:
    img = oc.image(layers=1)
    for blob in img.blobs:
        await access.writer.push_blob(NAME, blob)
    response = await access.writer.put_manifest(NAME, img, tags=tag_names)
    assert response.status == 201, await response.text()
    return img


async def test_deleting_a_tag_removes_only_that_tag(access: Access) -> None:
    img = await push_tagged(access, "a", "b")
    other = await push_tagged(access, "c")
    response = await access.maintainer.call("DELETE", f"/v2/{NAME}/manifests/a")
    assert response.status == 202
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"

    gone = await access.reader.call("GET", f"/v2/{NAME}/manifests/a")
    await oc.expect_error(gone, 404, "MANIFEST_UNKNOWN")
    head = await access.reader.call("HEAD", f"/v2/{NAME}/manifests/a")
    assert head.status == 404
    for reference, expected in (("b", img), (img.digest, img), ("c", other)):
        kept = await access.reader.call("GET", f"/v2/{NAME}/manifests/{reference}")
        assert kept.status == 200
        assert await kept.read() == expected.manifest
    assert await tags(access.reader) == ["b", "c"]


async def test_deleting_a_manifest_by_digest_removes_it_and_its_tags(access: Access) -> None:
    img = await push_tagged(access, "a", "b")
    await push_tagged(access, "c")
    response = await access.maintainer.call("DELETE", f"/v2/{NAME}/manifests/{img.digest}")
    assert response.status == 202
    for reference in (img.digest, "a", "b"):
        gone = await access.reader.call("GET", f"/v2/{NAME}/manifests/{reference}")
        await oc.expect_error(gone, 404, "MANIFEST_UNKNOWN")
    assert await tags(access.reader) == ["c"]
    again = await access.maintainer.call("DELETE", f"/v2/{NAME}/manifests/{img.digest}")
    await oc.expect_error(again, 404, "MANIFEST_UNKNOWN")


async def test_deleting_a_blob_makes_it_404(access: Access) -> None:
    blob = oc.random_blob(100)
    await access.writer.push_blob(NAME, blob)
    response = await access.maintainer.call("DELETE", f"/v2/{NAME}/blobs/{blob.digest}")
    assert response.status == 202
    for method in ("GET", "HEAD"):
        gone = await access.reader.call(method, f"/v2/{NAME}/blobs/{blob.digest}")
        assert gone.status == 404
    gone = await access.reader.call("GET", f"/v2/{NAME}/blobs/{blob.digest}")
    await oc.expect_error(gone, 404, "BLOB_UNKNOWN")
    again = await access.maintainer.call("DELETE", f"/v2/{NAME}/blobs/{blob.digest}")
    await oc.expect_error(again, 404, "BLOB_UNKNOWN")


async def test_deleting_an_unknown_tag_is_manifest_unknown(access: Access) -> None:
    await push_tagged(access, "a")
    response = await access.maintainer.call("DELETE", f"/v2/{NAME}/manifests/nope")
    await oc.expect_error(response, 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize("data_set", list(oc.DATA_SETS))
async def test_every_data_set_deletes_cleanly(access: Access, data_set: str) -> None:
    """The suite's cleanup: each tag, then each manifest newest first, then each blob; each
    delete is 202 and takes effect at once."""
    manifests = oc.DATA_SETS[data_set]()
    for img in manifests:
        await access.writer.push_image(NAME, img)
    response = await access.writer.put_manifest(NAME, manifests[-1], tags=("tagged",))
    assert response.status == 201

    deleted = await access.maintainer.call("DELETE", f"/v2/{NAME}/manifests/tagged")
    assert deleted.status == 202
    pushed = [m for img in manifests for m in img.walk()]
    for manifest in reversed(pushed):
        path = f"/v2/{NAME}/manifests/{manifest.digest}"
        deleted = await access.maintainer.call("DELETE", path)
        assert deleted.status == 202, await deleted.text()
        assert (await access.reader.call("HEAD", path)).status == 404
    blobs = {blob.digest for img in manifests for blob in img.all_blobs()}
    for digest in blobs:
        path = f"/v2/{NAME}/blobs/{digest}"
        deleted = await access.maintainer.call("DELETE", path)
        assert deleted.status == 202, await deleted.text()
        assert (await access.reader.call("HEAD", path)).status == 404
    assert await tags(access.reader) == []
