"""How many catalog statements a /v2 manifest pull costs (issue 13).

On PostgreSQL every statement is a round trip to the server (~0.15-0.3 ms of CPU on both
ends), so the pull path looks up in one statement what it needs together: the credential and
its user (and deploy token), the owning project and the caller's level on it, the repository
and the manifest. These tests count the statements through a wrapper around the catalog's
readers and writers, on both backends, and list them on failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
from aiohttp.test_utils import TestClient

from registry_service.app import create_app
from registry_service.catalog.dialect import dialect_of
from registry_service.catalog.protocols import CatalogBackend, Params, Reader, Row, Writer
from registry_service.clock import SettableClock
from registry_service.services.permissions import AccessLevel
from registry_service.settings import Settings
from tests import oci_content as oc
from tests.factories import Factory

T = TypeVar("T")
NAME = "group/app"


class CountingReader:
    """A reader that writes down each statement it runs, then runs it."""

    def __init__(self, inner: Reader, seen: list[str]) -> None:
        self._inner = inner
        self._seen = seen
        # Queries pick their SQL fragments by the connection's dialect: keep the inner one's.
        self.dialect = dialect_of(inner)

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> Iterable[Row]:
        self._seen.append(" ".join(sql.split()))
        return await self._inner.execute_fetchall(sql, parameters)


class CountingWriter(CountingReader):
    def __init__(self, inner: Writer, seen: list[str]) -> None:
        super().__init__(inner, seen)
        self._writer = inner

    async def execute(self, sql: str, parameters: Params = ()) -> int:
        self._seen.append(" ".join(sql.split()))
        return await self._writer.execute(sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Params]) -> int:
        self._seen.append(" ".join(sql.split()))
        return await self._writer.executemany(sql, parameters)

    async def insert(self, sql: str, parameters: Params = ()) -> int:
        self._seen.append(" ".join(sql.split()))
        return await self._writer.insert(sql, parameters)


class CountingCatalog:
    """The catalog under test, with every statement of its readers and writers counted while
    ``counting`` is on (pushing the image first is not what is measured)."""

    def __init__(self, inner: CatalogBackend) -> None:
        self._inner = inner
        self.statements: list[str] = []
        self.counting = False

    def _sink(self) -> list[str]:
        return self.statements if self.counting else []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def reader(self) -> Reader:
        return CountingReader(self._inner.reader, self._sink())

    @property
    def scan_reader(self) -> Reader:
        return CountingReader(self._inner.scan_reader, self._sink())

    async def run_write(self, work: Callable[[Writer], Coroutine[Any, Any, T]]) -> T:
        sink = self._sink()
        return await self._inner.run_write(lambda tx: work(CountingWriter(tx, sink)))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Writer]:
        sink = self._sink()
        async with self._inner.transaction() as tx:
            yield CountingWriter(tx, sink)

    async def ping(self) -> None:
        await self._inner.ping()

    async def close(self) -> None:
        await self._inner.close()


@pytest.fixture
def counted(catalog: CatalogBackend) -> CountingCatalog:
    return CountingCatalog(catalog)


@pytest.fixture
async def counted_client(
    aiohttp_client: Any, settings: Settings, counted: CountingCatalog, clock: SettableClock
) -> TestClient:
    app = create_app(settings, catalog=counted, clock=clock)  # type: ignore[arg-type]
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def pulled_statements(
    counted: CountingCatalog, registry: oc.Registry, method: str, reference: str
) -> list[str]:
    counted.statements.clear()
    counted.counting = True
    try:
        response = await registry.call(method, f"/v2/{NAME}/manifests/{reference}")
    finally:
        counted.counting = False
    assert response.status == 200, await response.text()
    return list(counted.statements)


@pytest.fixture
async def pushed(counted_client: TestClient, factory: Factory) -> tuple[oc.Image, dict[str, str]]:
    """An image tagged ``v1`` in a private project, and a Reporter's Basic credentials."""
    project = await factory.project(NAME)
    developer = await factory.user("developer")
    await factory.member(developer.user, AccessLevel.DEVELOPER, project=project)
    reporter = await factory.user("reporter")
    await factory.member(reporter.user, AccessLevel.REPORTER, project=project)
    img = oc.image(layers=1)
    await oc.Registry(counted_client, oc.basic("developer", developer.token)).push_image(
        NAME, img, "v1"
    )
    return img, oc.basic("reporter", reporter.token)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_basic_manifest_pull_by_tag_runs_two_catalog_statements(
    counted_client: TestClient,
    counted: CountingCatalog,
    pushed: tuple[oc.Image, dict[str, str]],
    method: str,
) -> None:
    # The credential with its user; then the owning project, the caller's level, the
    # repository and the manifest. On main this was 7 (deploy token, token, user, project,
    # level, repository, manifest).
    _, basic = pushed
    statements = await pulled_statements(counted, oc.Registry(counted_client, basic), method, "v1")
    assert len(statements) <= 2, "\n".join(statements)


async def test_a_basic_manifest_pull_by_digest_runs_two_catalog_statements(
    counted_client: TestClient, counted: CountingCatalog, pushed: tuple[oc.Image, dict[str, str]]
) -> None:
    img, basic = pushed
    registry = oc.Registry(counted_client, basic)
    statements = await pulled_statements(counted, registry, "GET", img.digest)
    assert len(statements) <= 2, "\n".join(statements)


async def test_a_bearer_manifest_pull_runs_one_catalog_statement(
    counted_client: TestClient, counted: CountingCatalog, pushed: tuple[oc.Image, dict[str, str]]
) -> None:
    # The token's grant decides without the catalog; only the repository with its manifest.
    _, basic = pushed
    response = await counted_client.get(
        "/jwt/auth",
        params={"service": "container_registry", "scope": f"repository:{NAME}:pull"},
        headers=basic,
    )
    assert response.status == 200, await response.text()
    bearer = {"Authorization": f"Bearer {(await response.json())['token']}"}
    statements = await pulled_statements(
        counted, oc.Registry(counted_client, bearer), "GET", "v1"
    )
    assert len(statements) <= 1, "\n".join(statements)


async def test_an_anonymous_pull_of_a_public_image_runs_one_catalog_statement(
    counted_client: TestClient, counted: CountingCatalog, factory: Factory
) -> None:
    # No credential to look up: the owning project (level NO_ACCESS) with the manifest.
    project = await factory.project(NAME, visibility="public")
    developer = await factory.user("developer")
    await factory.member(developer.user, AccessLevel.DEVELOPER, project=project)
    await oc.Registry(counted_client, oc.basic("developer", developer.token)).push_image(
        NAME, oc.image(layers=1), "v1"
    )
    statements = await pulled_statements(counted, oc.Registry(counted_client), "GET", "v1")
    assert len(statements) <= 1, "\n".join(statements)
