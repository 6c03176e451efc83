"""Media types the registry recognises, and which one a manifest is served with.

This module owns the media type constants (Docker schema2, OCI image-spec v1.1), the sets that
classify them, the RFC 6838 name check applied to descriptor media types, and the
``Content-Type`` rules: how a pushed header is normalised and that a stored manifest is served
with its media type verbatim. It knows nothing about HTTP requests.
"""

from __future__ import annotations

import re

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONTAINER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDISTRIBUTABLE_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

IMAGE_MANIFEST_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
MANIFEST_TYPES = IMAGE_MANIFEST_TYPES | INDEX_TYPES
IMAGE_CONFIG_TYPES = frozenset({DOCKER_CONTAINER_CONFIG, OCI_IMAGE_CONFIG})
# Layers whose blobs usually live elsewhere (``urls``); a push may legitimately omit them.
NONDISTRIBUTABLE_LAYER_TYPES = frozenset(
    {
        DOCKER_FOREIGN_LAYER,
        OCI_LAYER_NONDISTRIBUTABLE,
        OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
    }
)
# Content-Types that say "some JSON" and nothing about which manifest kind the body is.
GENERIC_CONTENT_TYPES = frozenset({"application/json", "application/octet-stream"})

# RFC 6838 §4.2 restricted-name "/" restricted-name, without parameters.
_RESTRICTED_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE_RE = re.compile(rf"{_RESTRICTED_NAME}/{_RESTRICTED_NAME}")


def is_valid_media_type(text: str) -> bool:
    """Whether ``text`` is an RFC 6838 ``type/subtype`` name (no parameters)."""
    return _MEDIA_TYPE_RE.fullmatch(text) is not None


def normalize_content_type(header: str | None) -> str | None:
    """A request ``Content-Type`` without parameters, lowercased; ``None`` if absent or generic.

    HTTP media types are case-insensitive and may carry parameters (``; charset=utf-8``); the
    manifest media type we store and serve has neither.
    """
    if header is None:
        return None
    media_type = header.split(";", 1)[0].strip().lower()
    if not media_type or media_type in GENERIC_CONTENT_TYPES:
        return None
    return media_type


def content_type_to_serve(stored_media_type: str) -> str:
    """The ``Content-Type`` for a stored manifest: the media type it was pushed with, verbatim.

    We do not negotiate on ``Accept`` (no schema1 down-conversion, no picking a platform out of
    an index for old clients): the stored bytes go out under the type they were pushed as.
    """
    return stored_media_type
