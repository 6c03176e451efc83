"""The names of the /v2 routes that answers point at, and the paths built from them.

``routes.py`` gives these names to its routes; handlers build ``Location`` and ``Link`` from
them, so a path is spelled once and follows wherever the /v2 sub-application is mounted.
"""

from __future__ import annotations

from aiohttp import web

MANIFEST = "manifest"
BLOB = "blob"
UPLOADS = "uploads"
UPLOAD = "upload"
TAGS = "tags"
CATALOG = "catalog"


def path_for(request: web.Request, route: str, **parts: str) -> str:
    """The path of ``route`` of this request's app, mount point included
    (``/v2/<name>/blobs/<digest>``).

    The route's template is filled in as is rather than through ``url_for``: yarl would
    percent-encode the ``:`` of a digest, and clients compare ``Location`` with the path they
    expect (the conformance suite's mount check does). Every part is a name, digest or session
    id already checked against its grammar, none holding a character that needs quoting.
    """
    return request.app.router[route].canonical.format_map(parts)
