"""Recording and serving the Prometheus metrics (``registry_service/metrics.py`` defines them).

The root app counts and times every answer by its route *template*
(``/v2/{name}/manifests/{reference}``), never its path, so there is a series per route and not
per image: ``request_timer_middleware`` notes when a request came in, ``record_requests`` counts
it as its answer goes out. /v2 handlers add the bytes they accept and serve; a blob body goes
out by ``sendfile`` from ``CountedFileResponse``, which counts it once sent, without streaming it
through Python. ``GET /metrics`` needs no credentials, like ``/-/readiness`` and as Prometheus
expects on a private network: it exposes counts, never names.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Literal

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.typedefs import Handler, LooseHeaders
from aiohttp.web_request import BaseRequest
from prometheus_client import Counter

from registry_service.keys import catalog_key, metrics_key, request_started_key
from registry_service.metrics import Metrics

UNMATCHED = "unmatched"
# Any other method is counted as "other": a client must not be able to mint label values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
API_PREFIXES = (("/v2", "v2"), ("/api/v4", "api_v4"))

ContentKind = Literal["blob", "manifest"]
ResponsePrepareHook = Callable[[web.Request, web.StreamResponse], Awaitable[None]]


def _api(path: str) -> str:
    for prefix, api in API_PREFIXES:
        if path == prefix or path.startswith(f"{prefix}/"):
            return api
    return "other"


def _route(request: web.Request) -> str:
    match_info = request.match_info
    if match_info.http_exception is not None:
        return UNMATCHED
    resource = match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def request_timer_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Note when a request arrived (outermost middleware); ``record_requests`` reads it."""
    request[request_started_key] = time.perf_counter()
    return await handler(request)


def record_requests(metrics: Metrics) -> ResponsePrepareHook:
    """An ``on_response_prepare`` hook counting and timing each answer as it goes out.

    Not a middleware: a file's status (206, 304, 416) is settled only when aiohttp prepares
    the response, after every middleware has returned. Errors the sub-apps rendered and
    aiohttp's own 404s and 500s all pass here, and so does the 499 that ``error_middleware``
    answers when a client hangs up mid-request: it is counted as 499, not as a server error.
    """

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        api, route = _api(request.path), _route(request)
        method = request.method if request.method in METHODS else "other"
        metrics.requests.labels(api, route, method, str(response.status)).inc()
        started = request.get(request_started_key)
        if started is not None:
            metrics.request_duration.labels(api, route, method).observe(
                time.perf_counter() - started
            )

    return record


async def get_metrics(request: web.Request) -> web.Response:
    config = request.config_dict
    body, content_type = await config[metrics_key].scrape(
        config[catalog_key], request.headers.get("Accept")
    )
    return web.Response(body=body, headers={"Content-Type": content_type})


def add_metrics_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", get_metrics)


# --- bytes pushed and pulled (/v2) ----------------------------------------------------------


def count_pushed(request: web.Request, kind: ContentKind, size_bytes: int) -> None:
    request.config_dict[metrics_key].pushed_bytes.labels(kind).inc(size_bytes)


def count_pulled(request: web.Request, kind: ContentKind, size_bytes: int) -> None:
    request.config_dict[metrics_key].pulled_bytes.labels(kind).inc(size_bytes)


class CountedChunks:
    """A request body's chunks, passed through as they are read; ``size_bytes`` so far."""

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = chunks
        self.size_bytes = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._count()

    async def _count(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self.size_bytes += len(chunk)
            yield chunk


class CountedFileResponse(web.FileResponse):
    """A file sent by aiohttp (``sendfile``, ``Range``), whose body bytes are added to
    ``pulled`` once sent: the whole file, the range, or nothing for HEAD, 304 and 416."""

    def __init__(self, path: Path, pulled: Counter, *, headers: LooseHeaders) -> None:
        super().__init__(path, headers=headers)
        self._pulled = pulled

    async def prepare(self, request: BaseRequest) -> AbstractStreamWriter | None:
        writer = await super().prepare(request)
        if request.method == "GET" and self.status in (200, 206) and self.content_length:
            self._pulled.inc(self.content_length)
        return writer


def blob_file_response(
    request: web.Request, path: Path, headers: LooseHeaders
) -> CountedFileResponse:
    return CountedFileResponse(
        path, request.config_dict[metrics_key].pulled_bytes.labels("blob"), headers=headers
    )
