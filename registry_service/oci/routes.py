"""The /v2 route table: the only list of its URLs.

Repository names contain slashes, so ``name`` is matched greedily up to the fixed segment that
follows it (``/blobs/``, ``/manifests/``…); the services then check it against the grammar.
"""

from __future__ import annotations

from aiohttp import web

from registry_service.oci import base, blobs, listings, manifests, uploads
from registry_service.oci.urls import BLOB, CATALOG, MANIFEST, TAGS, UPLOAD, UPLOADS

NAME = "{name:[^{}]+?}"


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/", base.check_api_version)
    router.add_get("/_catalog", listings.list_repositories, name=CATALOG)
    router.add_get(f"/{NAME}/tags/list", listings.list_tags, name=TAGS)
    router.add_get(f"/{NAME}/referrers/{{digest}}", listings.list_referrers)
    manifest = f"/{NAME}/manifests/{{reference}}"
    router.add_get(manifest, manifests.get_manifest, name=MANIFEST)
    router.add_put(manifest, manifests.put_manifest, name=MANIFEST)
    router.add_delete(manifest, manifests.delete_manifest, name=MANIFEST)
    router.add_post(f"/{NAME}/blobs/uploads/", uploads.start_upload, name=UPLOADS)
    upload = f"/{NAME}/blobs/uploads/{{session}}"
    router.add_get(upload, uploads.upload_status, name=UPLOAD)
    router.add_patch(upload, uploads.upload_chunk, name=UPLOAD)
    router.add_put(upload, uploads.finish_upload, name=UPLOAD)
    router.add_delete(upload, uploads.cancel_upload, name=UPLOAD)
    blob = f"/{NAME}/blobs/{{digest}}"
    router.add_get(blob, blobs.get_blob, name=BLOB)
    router.add_delete(blob, blobs.delete_blob, name=BLOB)
