"""Every typed application and request key, in one place."""

from __future__ import annotations

from aiohttp import web

from registry_service.catalog.protocols import CatalogBackend
from registry_service.clock import Clock
from registry_service.metrics import Metrics
from registry_service.services.blobs import Storage
from registry_service.services.jobs import JobQueue
from registry_service.services.permissions import Actor
from registry_service.services.registry_tokens import Grant, TokenVerifier
from registry_service.services.signing_keys import SigningKeyring
from registry_service.settings import Settings

settings_key = web.AppKey("settings", Settings)
catalog_key = web.AppKey("catalog", CatalogBackend)
clock_key = web.AppKey("clock", Clock)
storage_key = web.AppKey("storage", Storage)
queue_key = web.AppKey("job_queue", JobQueue)
metrics_key = web.AppKey("metrics", Metrics)
signing_key_key = web.AppKey("signing_key", SigningKeyring)
token_verifier_key = web.AppKey("token_verifier", TokenVerifier)

actor_key = web.RequestKey("actor", Actor)
# What a /v2 Bearer token grants; absent when the caller sent no token (HTTP Basic, anonymous).
grant_key = web.RequestKey("grant", Grant)
request_id_key = web.RequestKey("request_id", str)
# time.perf_counter() when the request reached the root app (request metrics).
request_started_key = web.RequestKey("request_started", float)
