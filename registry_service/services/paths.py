"""GitLab's rules for namespace and project paths, and deriving a path from a name."""

from __future__ import annotations

import re

# Fixed grammars (not user regexes), so the standard library is fine here.
_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_NOT_PATH_CHARS = re.compile(r"[^a-z0-9_.-]+")
MAX_PATH_LENGTH = 255


def path_problem(path: str) -> str | None:
    """Why a path segment is unusable, or None when it is fine."""
    if not path:
        return "can't be blank"
    if len(path) > MAX_PATH_LENGTH:
        return f"is too long (maximum is {MAX_PATH_LENGTH} characters)"
    if not _PATH.fullmatch(path) or path.endswith((".git", ".atom", ".")):
        return (
            "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', "
            "end in '.git' or end in '.atom'"
        )
    return None


def path_from_name(name: str) -> str:
    """What GitLab would pick as a path for a name given without one."""
    return _NOT_PATH_CHARS.sub("-", name.strip().lower()).strip("-.") or "project"


def join_path(parent_full_path: str | None, path: str) -> str:
    return f"{parent_full_path}/{path}" if parent_full_path else path
