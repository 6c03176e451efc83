"""The one exception hierarchy of registry-service.

Services, catalog and storage raise these; handlers never catch them. Each class carries what
both wire formats need, and ``http/render.py`` turns an instance into GitLab JSON (under
``/api/v4``) or OCI error JSON (under ``/v2``) in exactly one place. Nothing here knows about
aiohttp.

::

    RegistryError                 500 UNKNOWN              message "500 Internal Server Error"
    ├ BadRequest                  400 UNSUPPORTED          message "400 Bad request"
    │ ├ ParamsInvalid             400                      error "<param> is invalid, …"
    │ ├ ValidationFailed          400                      message {"field": ["reason"]}
    │ ├ CleanupThrottled          400                      message "This request has already…"
    │ ├ DigestInvalid             400 DIGEST_INVALID
    │ ├ NameInvalid               400 NAME_INVALID
    │ ├ TagInvalid                400 MANIFEST_INVALID (tag grammar)
    │ ├ ManifestInvalid           400 MANIFEST_INVALID
    │ ├ ManifestBlobUnknown       400 MANIFEST_BLOB_UNKNOWN
    │ ├ BlobUploadInvalid         400 BLOB_UPLOAD_INVALID
    │ └ SizeInvalid               400 SIZE_INVALID
    ├ Unauthorized                401 UNAUTHORIZED         message "401 Unauthorized"
    │ ├ TokenInvalid              401                      error "invalid_token" (+ description)
    │ ├ BearerTokenInvalid        401 UNAUTHORIZED         /v2 challenge error="invalid_token"
    │ └ AnonymousScopeInsufficient 401 UNAUTHORIZED        /v2 challenge error="insufficient_scope"
    ├ Forbidden                   403 DENIED               message "403 Forbidden[ - reason]"
    │ ├ InsufficientScope         403                      error "insufficient_scope"
    │ ├ BearerScopeInsufficient   403 DENIED               /v2 challenge error="insufficient_scope"
    │ └ UserBlocked               403                      "… - Your account has been blocked."
    ├ NotFound                    404 NAME_UNKNOWN         message "404 Not Found"
    │ ├ ProjectNotFound           "404 Project Not Found"
    │ ├ GroupNotFound             "404 Group Not Found"
    │ ├ UserNotFound              "404 User Not Found"
    │ ├ JobNotFound               "404 Job Not Found"      (also a job the caller may not see)
    │ ├ RecordNotFound            "404 Not found"
    │ ├ TagNotFound               "404 Tag Not Found"      MANIFEST_UNKNOWN
    │ ├ NameUnknown               NAME_UNKNOWN
    │ ├ ManifestUnknown           MANIFEST_UNKNOWN
    │ ├ BlobUnknown               BLOB_UNKNOWN
    │ ├ BlobUploadUnknown         BLOB_UPLOAD_UNKNOWN
    │ └ RouteNotFound             error "404 Not Found"
    ├ MethodNotAllowed            405 UNSUPPORTED          message "405 Method Not Allowed"
    ├ Conflict                    409                      message "409 Conflict"
    ├ ProtectionRuleInvalid       422                      message {"error": "<reason>"}
    ├ PayloadTooLarge             413 SIZE_INVALID
    ├ RangeNotSatisfiable         416 BLOB_UPLOAD_INVALID  (+ Range header)
    │ └ UploadOutOfOrder          416 BLOB_UPLOAD_INVALID
    ├ TooManyRequests             429 TOOMANYREQUESTS      (+ Retry-After)
    ├ Unavailable                 503 UNAVAILABLE
    └ InsufficientStorage         507 UNKNOWN              message "507 Insufficient Storage"
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar


class RegistryError(Exception):
    """Base of every error the service raises on purpose.

    ``status`` is the HTTP status for both APIs. ``oci_code`` is the OCI error code under
    ``/v2``. ``gitlab_key`` is the top-level key of GitLab's JSON body (``"message"`` for
    helper errors, ``"error"`` for parameter validation) and ``gitlab_text`` its default value.
    """

    status: ClassVar[int] = 500
    oci_code: ClassVar[str] = "UNKNOWN"
    oci_text: ClassVar[str] = "unknown error"
    gitlab_key: ClassVar[str] = "message"
    gitlab_text: ClassVar[str] = "500 Internal Server Error"
    # Errors the operator must hear about (not the client's fault) are logged at this level
    # by the error middleware, one line without a traceback; None: the answer says it all.
    log_level: ClassVar[int | None] = None
    # The ``error=`` of the /v2 Bearer challenge an answer with this error carries, if any.
    challenge_error: ClassVar[str | None] = None

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.detail = detail
        self.headers: dict[str, str] = dict(headers or {})
        # A complete GitLab body, for the few errors whose shape is not {key: text}.
        self.body = dict(body) if body is not None else None
        super().__init__(message or self.gitlab_text)

    def gitlab_body(self) -> dict[str, Any]:
        """The JSON object GitLab would answer with."""
        if self.body is not None:
            return self.body
        return {self.gitlab_key: self.message or self.gitlab_text}

    def oci_message(self) -> str:
        return self.message or self.oci_text


# --- 400 ------------------------------------------------------------------------------------


class BadRequest(RegistryError):
    status = 400
    oci_code = "UNSUPPORTED"
    oci_text = "the request is invalid"
    gitlab_text = "400 Bad request"


class ParamsInvalid(BadRequest):
    """Parameter coercion or validation failed (Grape's ``{"error": "x is invalid"}``)."""

    gitlab_key = "error"
    gitlab_text = "parameters are invalid"


class ValidationFailed(BadRequest):
    """A model validation failed; GitLab answers ``{"message": {"field": ["reason"]}}``."""

    def __init__(self, fields: Mapping[str, list[str]]) -> None:
        text = ", ".join(f"{k} {v}" for k, vs in fields.items() for v in vs)
        super().__init__(text, body={"message": dict(fields)})


class CleanupThrottled(BadRequest):
    gitlab_text = (
        "This request has already been made. You can run this at most once an hour for a "
        "given container repository"
    )


class DigestInvalid(BadRequest):
    oci_code = "DIGEST_INVALID"
    oci_text = "provided digest did not match uploaded content"


class NameInvalid(BadRequest):
    oci_code = "NAME_INVALID"
    oci_text = "invalid repository name"


class TagInvalid(BadRequest):
    oci_code = "MANIFEST_INVALID"
    oci_text = "invalid tag"


class ManifestInvalid(BadRequest):
    oci_code = "MANIFEST_INVALID"
    oci_text = "manifest invalid"


class ManifestBlobUnknown(BadRequest):
    oci_code = "MANIFEST_BLOB_UNKNOWN"
    oci_text = "blob unknown to registry"


class BlobUploadInvalid(BadRequest):
    oci_code = "BLOB_UPLOAD_INVALID"
    oci_text = "blob upload invalid"


class PaginationInvalid(BadRequest):
    oci_code = "PAGINATION_NUMBER_INVALID"
    oci_text = "invalid number of results requested"


class SizeInvalid(BadRequest):
    oci_code = "SIZE_INVALID"
    oci_text = "provided length did not match content length"


# --- 401 / 403 ------------------------------------------------------------------------------


class Unauthorized(RegistryError):
    status = 401
    oci_code = "UNAUTHORIZED"
    oci_text = "authentication required"
    gitlab_text = "401 Unauthorized"


class TokenInvalid(Unauthorized):
    """A token that exists but may no longer be used (expired or revoked)."""

    def __init__(self, description: str) -> None:
        super().__init__(
            description, body={"error": "invalid_token", "error_description": description}
        )


class BearerTokenInvalid(Unauthorized):
    """A /v2 Bearer token that is malformed, not ours, expired, or for another service."""

    oci_text = "invalid token"
    challenge_error = "invalid_token"


class AnonymousScopeInsufficient(Unauthorized):
    """An anonymous /v2 Bearer token that lacks the action asked for: 401, so the client logs
    in (as an anonymous caller without a token is answered)."""

    challenge_error = "insufficient_scope"


class Forbidden(RegistryError):
    status = 403
    oci_code = "DENIED"
    oci_text = "requested access to the resource is denied"
    gitlab_text = "403 Forbidden"

    def __init__(self, reason: str | None = None, **kwargs: Any) -> None:
        message = f"403 Forbidden - {reason}" if reason else None
        super().__init__(message, **kwargs)
        self.reason = reason

    def oci_message(self) -> str:
        return self.reason or self.oci_text


class InsufficientScope(Forbidden):
    def __init__(self, scopes: str = "api read_api") -> None:
        super().__init__(
            body={
                "error": "insufficient_scope",
                "error_description": (
                    "The request requires higher privileges than provided by the access token."
                ),
                "scope": scopes,
            }
        )


class BearerScopeInsufficient(Forbidden):
    """A signed-in caller's /v2 Bearer token whose ``access`` claim lacks the action asked for:
    403 as RFC 6750 §3.1 says, with a challenge naming the scope, so a client fetches a wider
    token (oras-py asks for a new token only after a 403)."""

    challenge_error = "insufficient_scope"


# --- 404 ------------------------------------------------------------------------------------


class UserBlocked(Forbidden):
    """A valid token of a blocked user (GitLab's API access check)."""

    def __init__(self) -> None:
        super().__init__("Your account has been blocked.")


class NotFound(RegistryError):
    status = 404
    oci_code = "NAME_UNKNOWN"
    oci_text = "repository name not known to registry"
    gitlab_text = "404 Not Found"


class ProjectNotFound(NotFound):
    gitlab_text = "404 Project Not Found"


class GroupNotFound(NotFound):
    gitlab_text = "404 Group Not Found"


class UserNotFound(NotFound):
    gitlab_text = "404 User Not Found"


class JobNotFound(NotFound):
    """No such job, or one the caller could not have started: the two look the same."""

    gitlab_text = "404 Job Not Found"


class RecordNotFound(NotFound):
    """GitLab's answer for a record lookup miss: note the lowercase "found"."""

    gitlab_text = "404 Not found"


class TagNotFound(NotFound):
    oci_code = "MANIFEST_UNKNOWN"
    oci_text = "manifest unknown"
    gitlab_text = "404 Tag Not Found"


class NameUnknown(NotFound):
    pass


class ManifestUnknown(NotFound):
    oci_code = "MANIFEST_UNKNOWN"
    oci_text = "manifest unknown"


class BlobUnknown(NotFound):
    oci_code = "BLOB_UNKNOWN"
    oci_text = "blob unknown to registry"


class BlobUploadUnknown(NotFound):
    oci_code = "BLOB_UPLOAD_UNKNOWN"
    oci_text = "blob upload unknown to registry"


class RouteNotFound(NotFound):
    gitlab_key = "error"
    oci_code = "NOT_FOUND"
    oci_text = "not found"


# --- the rest -------------------------------------------------------------------------------


class MethodNotAllowed(RegistryError):
    status = 405
    oci_code = "UNSUPPORTED"
    oci_text = "the operation is unsupported"
    gitlab_text = "405 Method Not Allowed"


class Conflict(RegistryError):
    status = 409
    oci_code = "UNSUPPORTED"
    oci_text = "conflict"
    gitlab_text = "409 Conflict"


class ProtectionRuleInvalid(RegistryError):
    """A protection rule the project cannot have: GitLab's service error, rendered as
    ``422 {"message": {"error": "<reason>"}}``, or with ``message`` as the endpoint shapes it
    (creating a tag rule answers the bare text, or the list of the model's messages)."""

    status = 422
    oci_text = "protection rule invalid"
    gitlab_text = "422 Unprocessable Entity"

    def __init__(self, reason: str | None = None, *, message: Any = None) -> None:
        text = reason or self.gitlab_text
        shown = {"error": text} if message is None else message
        super().__init__(text, body={"message": shown})


class PayloadTooLarge(RegistryError):
    status = 413
    oci_code = "SIZE_INVALID"
    oci_text = "payload too large"
    gitlab_text = "413 Request Entity Too Large"


class RangeNotSatisfiable(RegistryError):
    status = 416
    oci_code = "BLOB_UPLOAD_INVALID"
    oci_text = "requested range not satisfiable"
    gitlab_text = "416 Range Not Satisfiable"


class UploadOutOfOrder(RangeNotSatisfiable):
    oci_text = "chunk out of order"


class TooManyRequests(RegistryError):
    status = 429
    oci_code = "TOOMANYREQUESTS"
    oci_text = "too many requests"
    gitlab_text = "429 Too Many Requests"


class Unavailable(RegistryError):
    status = 503
    oci_code = "UNAVAILABLE"
    oci_text = "service unavailable"
    gitlab_text = "503 Service Unavailable"


class InsufficientStorage(RegistryError):
    """The data directory is out of space (ENOSPC, EDQUOT, SQLite's SQLITE_FULL), or below
    ``storage.min_free_bytes`` for a new upload.

    The OCI specification has no code for it and distribution answers a full disk with a bare
    500; ``UNKNOWN`` is the code every client already knows, and its message says what is
    wrong. The operator is told at WARNING: only they can make room.
    """

    status = 507
    oci_text = "the registry is out of storage space; try again once space has been freed"
    gitlab_text = "507 Insufficient Storage"
    log_level = logging.WARNING
