"""The /v2 calls the benchmark makes itself, with aiohttp: uploads, manifest PUTs, tag lists.

Every call goes through a ``Target``, so both registries share one code path. An unexpected
status raises ``StepFailed`` carrying the method, URL, status and the start of the body — the
text a registry developer needs to fix it. Nothing here times anything but the blob upload.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

import aiohttp
from bench_images import MANIFEST_MEDIA_TYPE, SmallImage
from bench_targets import StepFailed, Target
from yarl import URL

SOCK_READ_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class UploadResult:
    digest: str
    seconds: float


def open_session(target: Target) -> aiohttp.ClientSession:
    auth = None if target.creds is None else aiohttp.BasicAuth(*target.creds)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=SOCK_READ_TIMEOUT_S)
    return aiohttp.ClientSession(target.base_url, auth=auth, timeout=timeout)


async def expect(response: aiohttp.ClientResponse, *statuses: int) -> None:
    """Raise ``StepFailed`` unless the response has one of ``statuses``."""
    if response.status not in statuses:
        body = (await response.read())[:600].decode(errors="replace")
        method, url = response.method, response.url
        raise StepFailed(f"{method} {url.path_qs} -> {response.status} (want {statuses}): {body}")


async def push_blob(session: aiohttp.ClientSession, repo: str, data: bytes, digest: str) -> None:
    """Monolithic upload: POST to open a session, PUT the bytes with ``?digest=``."""
    location = await start_upload(session, repo)
    headers = {"Content-Type": "application/octet-stream"}
    put_url = location.update_query(digest=digest)
    async with session.put(put_url, data=data, headers=headers) as response:
        await expect(response, 201)


async def start_upload(session: aiohttp.ClientSession, repo: str) -> URL:
    async with session.post(f"/v2/{repo}/blobs/uploads/") as response:
        await expect(response, 202)
        return _location(response)


async def put_manifest(
    session: aiohttp.ClientSession, repo: str, reference: str, manifest: bytes
) -> None:
    headers = {"Content-Type": MANIFEST_MEDIA_TYPE}
    url = f"/v2/{repo}/manifests/{reference}"
    async with session.put(url, data=manifest, headers=headers) as response:
        await expect(response, 201)


async def create_tags(
    target: Target, repo: str, image: SmallImage, tags: Iterable[str], concurrency: int
) -> None:
    """Push ``image``'s blobs once, then PUT its manifest under each tag, N at a time."""
    async with open_session(target) as session:
        for digest, data in image.blobs.items():
            await push_blob(session, repo, data, digest)
        queue = list(tags)

        async def worker() -> None:
            while queue:
                await put_manifest(session, repo, queue.pop(), image.manifest)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def list_tags(target: Target, repo: str) -> list[str]:
    async with open_session(target) as session, session.get(f"/v2/{repo}/tags/list") as response:
        await expect(response, 200)
        body = await response.json()
        return list(body.get("tags") or [])


async def check_get(target: Target, path: str, headers: Mapping[str, str]) -> None:
    """One GET that must answer 200 (before wrk, which only counts non-2xx answers)."""
    async with (
        open_session(target) as session,
        session.get(path, headers=dict(headers)) as response,
    ):
        await expect(response, 200)
        await response.read()


async def stream_upload(target: Target, repo: str, chunks: Iterable[bytes]) -> UploadResult:
    """POST, one streamed PATCH of ``chunks`` (hashed on the way), PUT ``?digest=``, HEAD."""
    body = _HashingBody(chunks)
    started = time.perf_counter()
    async with open_session(target) as session:
        location = await start_upload(session, repo)
        headers = {"Content-Type": "application/octet-stream"}
        async with session.patch(location, data=body.stream(), headers=headers) as response:
            await expect(response, 202)
            location = _location(response)
        async with session.put(location.update_query(digest=body.digest)) as response:
            await expect(response, 201)
        seconds = time.perf_counter() - started
        async with session.head(f"/v2/{repo}/blobs/{body.digest}") as response:
            await expect(response, 200)
            if response.content_length != body.size_bytes:
                stored = response.content_length
                raise StepFailed(f"HEAD {body.digest}: {stored} bytes, sent {body.size_bytes}")
    return UploadResult(body.digest, seconds)


class _HashingBody:
    """An upload body that hashes what it yields, so the digest is known when it ends."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._sha256 = hashlib.sha256()
        self.size_bytes = 0

    async def stream(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            self._sha256.update(chunk)
            self.size_bytes += len(chunk)
            yield chunk

    @property
    def digest(self) -> str:
        return "sha256:" + self._sha256.hexdigest()


def _location(response: aiohttp.ClientResponse) -> URL:
    location = response.headers.get("Location")
    if location is None:
        raise StepFailed(f"{response.method} {response.url.path} -> {response.status}: no Location")
    # Relative Locations resolve against the request URL; absolute ones are kept as given.
    return response.url.join(URL(location))
