"""The app on a real loopback socket, served as ``serve`` serves it (``web.run_app``'s runner
options: the access logger, no handler cancellation — aiohttp's ``TestServer`` cancels the
handler of a client that goes away, which ``serve`` does not) with logging configured by
``configure_logging`` into a string, for tests that talk raw bytes: what aiohttp's own parser
refuses before any handler runs, and clients that hang up mid-request."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from registry_service.app import create_app
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.http.access_log import AccessLogger
from registry_service.logs import configure_logging
from registry_service.settings import Settings

READ_TIMEOUT_S = 10.0


@dataclass
class LoggedServer:
    host: str
    port: int
    stream: io.StringIO
    log_format: str

    @property
    def log(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """Every JSON log line (the JSON format only): each must parse."""
        return [json.loads(line) for line in self.log.splitlines()]

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    async def exchange(self, data: bytes) -> bytes:
        """Send ``data`` as is and read the answer until the server closes the connection."""
        reader, writer = await self.connect()
        try:
            writer.write(data)
            await writer.drain()
            return await asyncio.wait_for(reader.read(), READ_TIMEOUT_S)
        finally:
            writer.close()

    async def wait_for_log(self, found: Callable[[str], bool], what: str) -> str:
        """The log once ``found`` says it holds what the test waits for (it is written as the
        server gets to it, after the client has gone)."""
        for _ in range(int(READ_TIMEOUT_S / 0.02)):
            if found(self.log):
                return self.log
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {what} in the log:\n{self.log}")


def hang_up(writer: asyncio.StreamWriter, *, reset: bool) -> None:
    """Close a client connection: an orderly FIN, or with ``reset`` an RST (SO_LINGER 0)."""
    if reset:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


@asynccontextmanager
async def serve_logged(
    settings: Settings, catalog: Catalog, clock: SettableClock, log_format: str
) -> AsyncIterator[LoggedServer]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure_logging(settings.replace("server", log_format=log_format), stream)
    runner = web.AppRunner(
        create_app(settings, catalog=catalog, clock=clock),
        access_log_class=AccessLogger,
        access_log=logging.getLogger("aiohttp.access"),
        shutdown_timeout=5.0,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield LoggedServer(host, port, stream, log_format)
    finally:
        await runner.cleanup()
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.captureWarnings(False)
