"""Async chunk streams for the storage tests (what an aiohttp request body looks like)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable


async def stream(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def slow_stream(parts: Iterable[bytes], pause_s: float = 0.001) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(pause_s)
        yield part


class Broken(Exception):
    """The client went away mid-body."""


async def broken_stream(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    raise Broken
