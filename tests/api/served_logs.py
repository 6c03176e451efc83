"""The app on a real loopback socket, served with the access logger ``serve`` installs and
logging configured by ``configure_logging`` into a string, for tests that talk raw bytes: what
aiohttp's own parser refuses before any handler runs, and clients that hang up mid-request."""

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

from aiohttp.test_utils import TestServer

from registry_service.app import create_app
from registry_service.catalog.db import Catalog
from registry_service.clock import SettableClock
from registry_service.http.access_log import AccessLogger
from registry_service.logs import configure_logging
from registry_service.settings import Settings

READ_TIMEOUT_S = 10.0


@dataclass
class LoggedServer:
    server: TestServer
    stream: io.StringIO
    log_format: str

    @property
    def log(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """Every JSON log line (the JSON format only): each must parse."""
        return [json.loads(line) for line in self.log.splitlines()]

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.server.host, self.server.port)

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
    server = TestServer(create_app(settings, catalog=catalog, clock=clock))
    try:
        await server.start_server(
            access_log_class=AccessLogger, access_log=logging.getLogger("aiohttp.access")
        )
        yield LoggedServer(server, stream, log_format)
    finally:
        await server.close()
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.captureWarnings(False)
