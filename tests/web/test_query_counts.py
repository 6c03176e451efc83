"""No page's catalog work grows with the registry: every page is rendered, its statements on
the catalog's three connections counted with sqlite3's trace callback (on PostgreSQL,
as the catalog's readers and writer run them); then the registry grows
(23 more repositories, 3,000 more tags in the measured one) and every page is counted again.
No count may grow, and none may exceed a small fixed number."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from registry_service.catalog.db import Catalog
from registry_service.catalog.postgres import PostgresCatalog, PostgresReader, PostgresWriter
from registry_service.catalog.rows import Repository
from registry_service.clock import SettableClock
from registry_service.keys import catalog_key
from registry_service.services.permissions import AccessLevel
from tests.api.gitlab.conftest import jobs_of, make_repo, member
from tests.factories import Factory
from tests.jobs.tagsets import SeedTag, seed_tags
from tests.oci_content import Registry, basic, image, index
from tests.web.conftest import Browser

# The most statements any page may issue (session, project, membership, rows, …).
MAX_STATEMENTS = 12
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


# What runs a statement on PostgreSQL: each records the text it is given.
POSTGRES_RUNS = (
    (PostgresReader, "execute_fetchall"),
    (PostgresWriter, "execute_fetchall"),
    (PostgresWriter, "execute"),
    (PostgresWriter, "executemany"),
    (PostgresWriter, "insert"),
)


@asynccontextmanager
async def counting_on_postgres(seen: list[str]) -> AsyncIterator[None]:
    """Record every statement the PostgreSQL catalog's readers and writers run (asyncpg has
    no trace callback; transaction control and the write lock go past these, as on SQLite
    they are left out of the count)."""
    originals = [(cls, name, getattr(cls, name)) for cls, name in POSTGRES_RUNS]

    def recording(run: Callable[..., Any]) -> Callable[..., Any]:
        async def recorded(self: object, sql: str, *args: Any) -> Any:
            seen.append(sql)
            return await run(self, sql, *args)

        return recorded

    for cls, name, run in originals:
        setattr(cls, name, recording(run))
    try:
        yield
    finally:
        for cls, name, run in originals:
            setattr(cls, name, run)


@asynccontextmanager
async def counting(catalog: Catalog, seen: list[str]) -> AsyncIterator[None]:
    """Record every statement run on the loop reader, the scan reader and the writer."""
    if isinstance(catalog, PostgresCatalog):
        async with counting_on_postgres(seen):
            yield
        return
    loop_conn = catalog.reader._conn
    scan_conn = catalog.scan_reader
    # The writer's connection is used on its own thread only: set its callback there.
    writer_thread, writer_conn = catalog._thread, catalog._conn
    loop_conn.set_trace_callback(seen.append)
    await scan_conn.set_trace_callback(seen.append)  # type: ignore[attr-defined]
    await writer_thread.call(writer_conn.set_trace_callback, seen.append)
    try:
        yield
    finally:
        loop_conn.set_trace_callback(None)
        await scan_conn.set_trace_callback(None)  # type: ignore[attr-defined]
        await writer_thread.call(writer_conn.set_trace_callback, None)


async def statements_per_page(browser: Browser, pages: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    catalog = browser.client.app[catalog_key]
    for name, path in pages.items():
        seen: list[str] = []
        async with counting(catalog, seen):
            await browser.get(path)
        counts[name] = len([s for s in seen if not s.startswith(TRANSACTION_CONTROL)])
    return counts


async def grow(factory: Factory, clock: SettableClock, main: Repository, project_id: int) -> None:
    now = clock.now()
    await seed_tags(factory.catalog, main, [
        SeedTag(f"t{n:06d}", now - timedelta(minutes=n), now - timedelta(seconds=n))
        for n in range(3000)
    ])
    project = await factory.project("big/app")
    assert project.id == project_id
    for n in range(23):
        other = await make_repo(factory, project, f"more{n}")
        await seed_tags(factory.catalog, other.repository, [SeedTag("v1", now, now)])


async def test_statements_per_page_do_not_depend_on_the_registrys_size(
    client: TestClient, factory: Factory, clock: SettableClock
) -> None:
    project = await factory.project("big/app", visibility="private")
    owner = await member(factory, project, AccessLevel.MAINTAINER, username="maria", admin=True)
    registry = Registry(client, basic("maria", owner.token))
    await registry.push_image("big/app/main", image(), "real")
    await registry.push_image("big/app/main", index([image(), image()]), "multi")
    await registry.push_image("big/app/side", image(), "v1")
    main = (await make_repo(factory, project, "main")).repository
    base = f"/projects/{project.id}/repositories/{main.id}"
    browser = Browser(client)
    await browser.sign_in(owner)
    await browser.post_form(
        f"{base}/cleanup", f"{base}/cleanup/run", {"name_regex_delete": "nothing"}
    )
    (job,) = await jobs_of(factory.catalog, "cleanup_tags")
    # Rules in force, so the repository and tag pages match every tag shown against them.
    rules = f"/projects/{project.id}/protection-rules"
    await browser.post_form(rules, f"{rules}/tag", {"tag_name_pattern": "^t0", "kind": "immutable"})
    await browser.post_form(rules, f"{rules}/repository", {
        "repository_path_pattern": "big/app/*", "push_level": "maintainer",
    })
    pages = {
        "home": "/",
        "project": f"/projects/{project.id}",
        "repository by name": base,
        "repository by build date": f"{base}?sort=built&order=desc",
        "repository by push date, later page": f"{base}?sort=pushed&after_key=2026&after=t",
        "repository filtered": f"{base}?filter=t00",
        "tag": f"{base}/tags/real",
        "index": f"{base}/tags/multi",
        "cleanup form": f"{base}/cleanup",
        "tokens": "/tokens",
        "deploy tokens": f"/projects/{project.id}/deploy-tokens",
        "group deploy tokens": f"/groups/{project.namespace_id}/deploy-tokens",
        "protection rules": rules,
        "jobs": f"/projects/{project.id}/jobs",
        "job": f"/jobs/{job['id']}",
        "policy": f"/projects/{project.id}/cleanup-policy",
        # The group page checks each project of the group in turn (the API's service does):
        # it grows with projects, not with repositories or tags.
        "group": f"/groups/{project.namespace_id}",
        "admin": "/admin",
        "admin users": "/admin/users",
    }
    small = await statements_per_page(browser, pages)
    await grow(factory, clock, main, project.id)
    large = await statements_per_page(browser, pages)
    assert min(small.values()) > 0, small  # the statements are seen at all
    assert max(small.values()) <= MAX_STATEMENTS, small
    assert max(large.values()) <= MAX_STATEMENTS, large
    # Growth adds no statement (a page may issue one fewer: e.g. no index among its tags).
    assert {page: n for page, n in large.items() if n > small[page]} == {}, (small, large)
