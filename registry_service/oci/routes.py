"""The /v2 route table: the only list of its URLs.

Repository names contain slashes, so ``name`` is matched greedily up to the fixed segment that
follows it (``/blobs/``, ``/manifests/``…); the services then check it against the grammar.
"""

from __future__ import annotations

from aiohttp import web

from registry_service.oci import base, blobs, listings, manifests, uploads

NAME = "{name:[^{}]+?}"


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/", base.check_api_version)
    router.add_get("/_catalog", listings.list_repositories)
    router.add_get(f"/{NAME}/tags/list", listings.list_tags)
    router.add_get(f"/{NAME}/referrers/{{digest}}", listings.list_referrers)
    router.add_get(f"/{NAME}/manifests/{{reference}}", manifests.get_manifest)
    router.add_put(f"/{NAME}/manifests/{{reference}}", manifests.put_manifest)
    router.add_delete(f"/{NAME}/manifests/{{reference}}", manifests.delete_manifest)
    router.add_post(f"/{NAME}/blobs/uploads/", uploads.start_upload)
    router.add_get(f"/{NAME}/blobs/uploads/{{session}}", uploads.upload_status)
    router.add_patch(f"/{NAME}/blobs/uploads/{{session}}", uploads.upload_chunk)
    router.add_put(f"/{NAME}/blobs/uploads/{{session}}", uploads.finish_upload)
    router.add_delete(f"/{NAME}/blobs/uploads/{{session}}", uploads.cancel_upload)
    router.add_get(f"/{NAME}/blobs/{{digest}}", blobs.get_blob)
    router.add_delete(f"/{NAME}/blobs/{{digest}}", blobs.delete_blob)
