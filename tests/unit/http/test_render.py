"""Every error class renders in both wire formats with its own status and a valid body."""

from __future__ import annotations

import json

import pytest

from registry_service import errors
from registry_service.http.render import (
    ACCESS_DENIED_TEXT,
    render_gitlab,
    render_oci,
    render_token_auth,
)

OCI_CODES = {
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID",
    "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
    # Beyond the spec's 14, for conditions the spec has no code for.
    "UNKNOWN", "NOT_FOUND", "UNAVAILABLE",
    # The CNCF distribution registry's code for a bad `n`, which clients already know.
    "PAGINATION_NUMBER_INVALID",
}


def all_error_classes() -> list[type[errors.RegistryError]]:
    found: list[type[errors.RegistryError]] = []
    pending: list[type[errors.RegistryError]] = [errors.RegistryError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.__name__)


def make(cls: type[errors.RegistryError]) -> errors.RegistryError:
    if cls is errors.ValidationFailed:
        return cls({"path": ["has already been taken"]})
    if cls is errors.TokenInvalid:
        return cls("Token is expired.")
    return cls()


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_renders_in_gitlab_format(cls: type[errors.RegistryError]) -> None:
    response = render_gitlab(make(cls))
    assert response.status == cls.status
    body = json.loads(response.text or "")
    assert set(body) & {"message", "error"}
    assert response.content_type == "application/json"


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_renders_in_oci_format(cls: type[errors.RegistryError]) -> None:
    response = render_oci(make(cls))
    assert response.status == cls.status
    (error,) = json.loads(response.text or "")["errors"]
    assert error["code"] in OCI_CODES
    assert error["message"]
    # The challenge names the request's scope: /v2's challenge_middleware sets it, not this.
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_renders_in_the_token_endpoints_format(cls: type[errors.RegistryError]) -> None:
    response = render_token_auth(make(cls))
    assert response.status == cls.status
    (error,) = json.loads(response.text or "")["errors"]
    if cls.status == 401:
        # Every failed login alike, in GitLab's words.
        assert error == {"code": "UNAUTHORIZED", "message": ACCESS_DENIED_TEXT}
    else:
        assert error["code"] in OCI_CODES


def test_forbidden_reason_follows_gitlab_wording() -> None:
    body = json.loads(render_gitlab(errors.Forbidden("Not allowed")).text or "")
    assert body == {"message": "403 Forbidden - Not allowed"}


def test_record_miss_uses_gitlabs_lowercase_found() -> None:
    assert json.loads(render_gitlab(errors.RecordNotFound()).text or "") == {
        "message": "404 Not found"
    }


def test_insufficient_storage_says_the_registry_is_out_of_space() -> None:
    exc = errors.InsufficientStorage(detail={"reason": "No space left on device"})

    oci = render_oci(exc)
    gitlab = render_gitlab(exc)

    assert (oci.status, gitlab.status) == (507, 507)
    assert json.loads(oci.text or "") == {
        "errors": [
            {
                "code": "UNKNOWN",
                "message": (
                    "the registry is out of storage space; try again once space has been freed"
                ),
                "detail": {"reason": "No space left on device"},
            }
        ]
    }
    assert json.loads(gitlab.text or "") == {"message": "507 Insufficient Storage"}
