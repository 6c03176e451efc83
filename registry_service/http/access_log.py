"""The access log: one record per answered request on the ``aiohttp.access`` logger.

Its message is the classic line (``remote "METHOD /path?query HTTP/1.1" status body-bytes
0.001234s "user agent" request-id``); the same facts, and the answering process's ``pid``,
ride along as fields (``extra``), which the JSON log format writes out one by one. Token query
parameters (GitLab accepts ``private_token`` and ``access_token`` in the URL), in any spelling,
are logged as ``[FILTERED]``, as GitLab does; the log handler's redaction (``logs.py``) covers
the rest.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlencode

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from registry_service.keys import request_id_key
from registry_service.redaction import FILTERED, is_secret_name


def _query(request: BaseRequest) -> str:
    if not request.query_string:
        return ""  # most requests: no query to parse and filter
    pairs = [(k, FILTERED if is_secret_name(k) else v) for k, v in request.query.items()]
    return urlencode(pairs, safe="/:,[]")


class AccessLogger(AbstractAccessLogger):
    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        query = _query(request)
        fields: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query": query,
            "status": response.status,
            "duration_s": round(time, 6),
            # The body's declared length (None when streamed without one); aiohttp's own
            # access log reports headers and body together.
            "size_bytes": response.content_length,
            "remote": request.remote,
            "user_agent": request.headers.get("User-Agent", ""),
            "request_id": request.get(request_id_key, ""),
            # Which server process answered (``serve --workers`` runs several on one port).
            "pid": os.getpid(),
        }
        target = f"{request.path}?{query}" if query else request.path
        version = f"{request.version.major}.{request.version.minor}"
        self.logger.info(
            '%s "%s %s HTTP/%s" %d %s %.6fs "%s" %s',
            fields["remote"] or "-",
            request.method,
            target,
            version,
            response.status,
            "-" if response.content_length is None else response.content_length,
            time,
            fields["user_agent"] or "-",
            fields["request_id"] or "-",
            extra=fields,
        )
