"""Repository names and tags: the OCI grammars, and GitLab's image path ↔ project rules.

This module owns which strings are valid repository names and tags (OCI distribution-spec
grammar; ``NameInvalid`` / ``TagInvalid`` otherwise) and how an image path splits into a GitLab
project full path and a repository name below it (``gitlab-api.md`` §8). It is pure: choosing
which candidate project actually exists is the caller's catalog lookup.
"""

from __future__ import annotations

import re

from registry_service.errors import NameInvalid, TagInvalid

MAX_NAME_LENGTH = 255
MAX_TAG_LENGTH = 128
# GitLab §8: an image path has at least 2 components and fewer than 20, and the project is one
# of the 3 longest prefixes — so a repository sits at most 2 levels below its project.
MIN_IMAGE_PATH_COMPONENTS = 2
MAX_IMAGE_PATH_COMPONENTS = 19
MAX_PROJECT_CANDIDATES = 3

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# Longest client text echoed back in an error message.
_SHOWN_CHARS = 80


def validate_repository_name(name: str) -> str:
    """Return ``name`` if it is a valid OCI repository name, else raise ``NameInvalid``."""
    # Length first: it also bounds the regex's work on hostile input.
    if len(name) > MAX_NAME_LENGTH:
        raise NameInvalid(f"repository name longer than {MAX_NAME_LENGTH} characters")
    if not _NAME_RE.fullmatch(name):
        raise NameInvalid(f"invalid repository name {_shown(name)}")
    return name


def validate_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid tag (at most 128 characters), else raise ``TagInvalid``."""
    if len(tag) > MAX_TAG_LENGTH or not _TAG_RE.fullmatch(tag):
        raise TagInvalid(f"invalid tag {_shown(tag)}")
    return tag


def is_digest_reference(reference: str) -> bool:
    """Whether a manifest reference names a digest rather than a tag (tags have no ``:``)."""
    return ":" in reference


def project_path_candidates(image_path: str) -> list[str]:
    """The project full paths that may own ``image_path``, longest first (GitLab §8).

    Raises ``NameInvalid`` for a malformed path; returns ``[]`` when the path has fewer than 2
    or more than 19 components, since no project can own it then.
    """
    components = validate_repository_name(image_path).split("/")
    count = len(components)
    if not MIN_IMAGE_PATH_COMPONENTS <= count <= MAX_IMAGE_PATH_COMPONENTS:
        return []
    lengths = range(count, MIN_IMAGE_PATH_COMPONENTS - 1, -1)
    return ["/".join(components[:n]) for n in lengths][:MAX_PROJECT_CANDIDATES]


def split_image_path(image_path: str, project_full_path: str) -> str:
    """The repository name of ``image_path`` below its project ("" for the root image).

    Project paths compare case-insensitively (GitLab routes do; image paths are lowercase).
    Raises ``NameInvalid`` when the project is not one of ``project_path_candidates``.
    """
    candidates = project_path_candidates(image_path)
    wanted = project_full_path.lower()
    if wanted not in candidates:
        raise NameInvalid(f"image path {_shown(image_path)} is not in project {_shown(wanted)}")
    return image_path[len(wanted) + 1 :]


def _shown(text: str) -> str:
    """Client text quoted for an error message, cut short so a huge value is not echoed."""
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "…"
    return repr(text)
