"""Concurrent writers on one PostgreSQL catalog: what runs side by side, and what still holds.

Two ``PostgresCatalog``s (two pools) on one database stand for two replicas. Without the global
write lock, independent writes overlap; each check-then-write of the catalog keeps its
guarantee through the row or named lock it takes (catalog/postgres.py lists them).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs.gc import _unlink_unless_cataloged, collect_garbage, schedule_collection
from jobs.policies import schedule_due_policies
from registry_service.catalog import blobs as blob_rows
from registry_service.catalog import jobs as job_rows
from registry_service.catalog import manifests as manifest_rows
from registry_service.catalog import policies as policy_rows
from registry_service.catalog import protection_rules as rule_rows
from registry_service.catalog import uploads as upload_rows
from registry_service.catalog.db import fetch_all, format_time
from registry_service.catalog.errors import WriteConflict
from registry_service.catalog.policies import CleanupPolicyRow
from registry_service.catalog.postgres import PostgresCatalog
from registry_service.catalog.protocols import Writer
from registry_service.catalog.repositories import ensure_repository
from registry_service.catalog.rows import Repository
from registry_service.digests import parse_digest
from registry_service.errors import Forbidden, ManifestBlobUnknown, Unavailable
from registry_service.services import member_admin
from registry_service.services.blobs import Storage, ingest_blob
from registry_service.services.jobs import NO_RUNNER
from registry_service.services.manifests import push_manifest
from registry_service.services.member_admin import MemberSource, SourceKind
from registry_service.services.permissions import AccessLevel, Actor
from registry_service.services.protection_rules import guard_for
from registry_service.settings import GcSettings
from registry_service.storage.filesystem import FilesystemBlobStore
from tests import oci_content as oc
from tests.factories import Factory
from tests.postgres_server import session_server
from tests.unit.storage.streams import stream

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=3)
# Longer than any of these units takes on a loaded machine, far shorter than "forever".
PATIENCE_S = 5.0
RACE_ROUNDS = 40
# Repeats of a check-then-write race whose two sides start a few milliseconds apart (whether
# they overlap varies, so an unguarded check fails within a few).
TURNS = 20


@pytest.fixture
async def replicas(request: pytest.FixtureRequest) -> AsyncIterator[tuple[PostgresCatalog, ...]]:
    server = session_server(request.config)
    url = server.create_database()
    first = await PostgresCatalog.open(url)
    second = await PostgresCatalog.open(url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()
        server.release_database(url)


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    store = FilesystemBlobStore(tmp_path / "data")
    yield Storage.on(store)
    await store.aclose()


async def _repository(catalog: PostgresCatalog, path: str) -> Repository:
    project = await Factory(catalog, NOW).project(path)  # type: ignore[arg-type]
    async with catalog.transaction() as tx:
        return await ensure_repository(tx, project.id, "", NOW)


async def _link_blobs(
    catalog: PostgresCatalog, repository: Repository, image: oc.Image, when: datetime
) -> None:
    """The image's blobs as a finished upload leaves them (rows and links), dated ``when``."""
    async with catalog.transaction() as tx:
        for blob in image.blobs:
            await blob_rows.insert_blob(tx, blob.digest, len(blob.data), when)
            await blob_rows.link_blob(tx, repository.id, blob.digest, when)


async def _push(
    catalog: PostgresCatalog, storage: Storage, repository: Repository, image: oc.Image
) -> object:
    return await push_manifest(
        catalog, storage, repository, "latest", image.manifest, image.media_type, [], NOW
    )


async def test_writes_to_different_repositories_run_side_by_side(
    replicas: tuple[PostgresCatalog, ...], storage: Storage
) -> None:
    first, second = replicas
    held_repo = await _repository(first, "group/held")
    pushed_repo = await _repository(first, "group/pushed")
    image = oc.artifact()
    await _link_blobs(first, pushed_repo, image, NOW)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def held_open() -> None:
        async with first.transaction() as tx:
            await upload_rows.insert_upload(tx, "held-session", held_repo.id, "sha256", NOW)
            inside.set()
            await release.wait()

    holder = asyncio.ensure_future(held_open())
    await inside.wait()
    try:
        # Under one global write lock this push would wait for the open unit: timeout.
        await asyncio.wait_for(_push(second, storage, pushed_repo, image), PATIENCE_S)
        assert not holder.done()
    finally:
        release.set()
        await holder
    uploads = await fetch_all(first.reader, "SELECT id FROM uploads")
    assert [r[0] for r in uploads] == ["held-session"]


async def _dangling_blob_refs(catalog: PostgresCatalog) -> list[str]:
    rows = await fetch_all(
        catalog.reader,
        "SELECT mb.digest FROM manifest_blobs mb"
        " WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = mb.digest)",
    )
    return [r[0] for r in rows]


async def test_garbage_collection_and_a_push_of_its_blobs_never_leave_a_dangling_manifest(
    replicas: tuple[PostgresCatalog, ...], storage: Storage, tmp_path: Path
) -> None:
    pusher, collector = replicas
    repository = await _repository(pusher, "group/race")
    image = oc.artifact()
    outcomes = {"stored": 0, "refused": 0}
    rng = random.Random(1304)
    for round_number in range(RACE_ROUNDS):
        # The blobs are garbage (linked long ago, in no manifest) until the push lands.
        await _link_blobs(pusher, repository, image, LONG_AGO)
        push = _push(pusher, storage, repository, image)
        collect = collect_garbage(collector, storage.store, GcSettings(), NOW)
        first, second = (push, collect) if round_number % 2 else (collect, push)
        started = asyncio.ensure_future(first)
        await asyncio.sleep(rng.uniform(0, 0.006))
        results = await asyncio.gather(started, second, return_exceptions=True)
        pushed = results[0] if round_number % 2 else results[1]
        if isinstance(pushed, ManifestBlobUnknown):
            outcomes["refused"] += 1
        elif isinstance(pushed, BaseException):
            raise pushed
        else:
            outcomes["stored"] += 1
        assert await _dangling_blob_refs(pusher) == [], (round_number, outcomes)
        async with pusher.transaction() as tx:
            found = await manifest_rows.select_manifest(tx, repository.id, image.digest)
            if found is not None:
                await manifest_rows.delete_manifest(tx, found.id)
    print(f"GC vs push over {RACE_ROUNDS} rounds: {outcomes}")
    # Both orders happened: the race was run, not won by one side every time.
    assert outcomes["stored"] > 0 and outcomes["refused"] > 0, outcomes


async def test_two_pushes_of_one_new_immutable_tag_let_exactly_one_set_it(
    replicas: tuple[PostgresCatalog, ...], storage: Storage
) -> None:
    first = replicas[0]
    admin = Actor(user_id=-1, username="admin", is_admin=True)
    # Many tags in turn: whether the two pushes overlap varies from round to round.
    repository = await _repository(first, "group/immutable")
    async with first.transaction() as tx:
        await rule_rows.insert_tag_rule(tx, repository.project_id, "v.*", None, None, True, NOW)
    guard = await guard_for(first, admin, repository.project_id, "group/immutable")
    images = [oc.artifact(annotations={"n": str(n)}) for n in range(2)]
    for image in images:
        await _link_blobs(first, repository, image, NOW)
    for n in range(TURNS):
        tag = f"v{n}"
        results = await asyncio.gather(
            *(
                push_manifest(
                    catalog, storage, repository, tag, image.manifest, image.media_type, [],
                    NOW, guard,
                )
                for catalog, image in zip(replicas, images, strict=True)
            ),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, Forbidden)]
        assert len(refused) == 1, (n, results)
        winner = images[results.index(next(r for r in results if r not in refused))]
        rows = await fetch_all(
            first.reader,
            "SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id"
            " WHERE t.repository_id = ? AND t.name = ?",
            (repository.id, tag),
        )
        assert [r[0] for r in rows] == [winner.digest]


async def test_an_ingest_and_the_unlink_of_its_orphan_file_never_leave_a_row_without_file(
    replicas: tuple[PostgresCatalog, ...], storage: Storage
) -> None:
    pusher, collector = replicas
    repository = await _repository(pusher, "group/files")
    data = b"layer bytes that a crash once left without a row"
    digest = parse_digest(oc.digest_of(data))
    outcomes = {"kept": 0, "unlinked first": 0}
    rng = random.Random(1305)
    for round_number in range(RACE_ROUNDS):
        # The file is there with no row: an orphan to GC, a copy to keep for the ingest.
        async with pusher.transaction() as tx:
            await tx.execute("DELETE FROM repository_blobs WHERE digest = ?", (str(digest),))
            await tx.execute("DELETE FROM blobs WHERE digest = ?", (str(digest),))
        await storage.store.put_many([(digest, data)])
        ingest = ingest_blob(pusher, storage, repository, stream(data), digest, NOW)
        unlink = _unlink_unless_cataloged(collector, storage.store, [str(digest)])
        first, second = (ingest, unlink) if round_number % 2 else (unlink, ingest)
        started = asyncio.ensure_future(first)
        await asyncio.sleep(rng.uniform(0, 0.004))
        results = await asyncio.gather(started, second)
        removed = results[1] if round_number % 2 else results[0]
        outcomes["unlinked first" if removed else "kept"] += 1
        # The ingest committed its row: its bytes must be in the store.
        assert await storage.store.stat(digest) is not None, (round_number, outcomes)
    print(f"ingest vs unlink over {RACE_ROUNDS} rounds: {outcomes}")
    assert outcomes["kept"] > 0 and outcomes["unlinked first"] > 0, outcomes


async def _queued_jobs(catalog: PostgresCatalog, count: int) -> list[int]:
    async with catalog.transaction() as tx:
        return [
            await job_rows.insert_job(
                tx, kind="collect_garbage", params="{}", requester_id=None, project_id=None,
                repository_id=None, now=NOW,
            )
            for _ in range(count)
        ]


async def _claim_all_due(catalog: PostgresCatalog, owner: str) -> list[int]:
    """What a runner's sweep does: claim every due job it can, one transaction each."""
    claimed: list[int] = []
    for job_id, _ in await job_rows.select_due_jobs(catalog.reader, NOW):
        async with catalog.transaction() as tx:
            job = await job_rows.claim_job(tx, job_id, owner, NOW + timedelta(minutes=5), NOW)
        if job is not None:
            claimed.append(job.id)
    return claimed


async def test_two_replicas_claiming_due_jobs_never_claim_one_twice(
    replicas: tuple[PostgresCatalog, ...],
) -> None:
    first, second = replicas
    queued = await _queued_jobs(first, 30)
    mine, theirs = await asyncio.gather(_claim_all_due(first, "a"), _claim_all_due(second, "b"))
    assert not set(mine) & set(theirs)
    assert sorted(mine + theirs) == queued


async def test_a_claim_passes_over_a_job_another_replica_is_claiming(
    replicas: tuple[PostgresCatalog, ...],
) -> None:
    first, second = replicas
    [job_id] = await _queued_jobs(first, 1)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def slow_claim() -> object:
        async with first.transaction() as tx:
            job = await job_rows.claim_job(tx, job_id, "a", NOW + timedelta(minutes=5), NOW)
            inside.set()
            await release.wait()
        return job

    holder = asyncio.ensure_future(slow_claim())
    await inside.wait()
    try:
        async with asyncio.timeout(PATIENCE_S):
            async with second.transaction() as tx:
                # SKIP LOCKED: no waiting for the other claim to commit or roll back.
                taken = await job_rows.claim_job(
                    tx, job_id, "b", NOW + timedelta(minutes=5), NOW
                )
    finally:
        release.set()
    assert taken is None
    assert await holder is not None


async def test_two_replicas_sweeping_due_policies_start_each_run_once(
    replicas: tuple[PostgresCatalog, ...],
) -> None:
    first, second = replicas
    repositories = [await _repository(first, f"group/policy{n}") for n in range(6)]
    async with first.transaction() as tx:
        for repository in repositories:
            await policy_rows.upsert_policy(
                tx,
                CleanupPolicyRow(
                    project_id=repository.project_id, enabled=True, cadence="1d", keep_n=1,
                    older_than=None, name_regex=".*", name_regex_keep=None,
                    next_run_at=NOW - timedelta(minutes=1),
                ),
                NOW,
            )
    for _ in range(3):
        await asyncio.gather(
            schedule_due_policies(first, NO_RUNNER, NOW),
            schedule_due_policies(second, NO_RUNNER, NOW),
        )
    rows = await fetch_all(first.reader, "SELECT repository_id FROM jobs ORDER BY repository_id")
    assert [r[0] for r in rows] == sorted(r.id for r in repositories)


async def test_two_replicas_scheduling_a_collection_at_once_make_one_job(
    replicas: tuple[PostgresCatalog, ...],
) -> None:
    first, second = replicas
    gc = GcSettings(interval_seconds=3600)
    for round_number in range(TURNS):
        made = await asyncio.gather(
            schedule_collection(first, NO_RUNNER, gc, NOW),
            schedule_collection(second, NO_RUNNER, gc, NOW),
        )
        assert sum(job_id is not None for job_id in made) == 1, (round_number, made)
        # Done long ago: the next round finds a collection due again.
        async with first.transaction() as tx:
            await tx.execute(
                "UPDATE jobs SET state = 'done', created_at = ? WHERE kind = 'collect_garbage'",
                (format_time(LONG_AGO),),
            )
    rows = await fetch_all(first.reader, "SELECT id FROM jobs WHERE kind = 'collect_garbage'")
    assert len(rows) == TURNS


async def test_two_owners_removed_at_once_leave_the_group_one(
    replicas: tuple[PostgresCatalog, ...],
) -> None:
    first, second = replicas
    factory = Factory(first, NOW)  # type: ignore[arg-type]
    admin = Actor(user_id=-1, username="admin", is_admin=True)
    # Many groups in turn: the two removals start a few milliseconds apart, and whether their
    # counts overlap varies; unguarded, some round leaves a group with no Owner.
    for n in range(TURNS):
        group = await factory.group(f"owned{n}")
        owners = [(await factory.user(f"owner{n}x{i}")).user for i in range(2)]
        for owner in owners:
            await factory.member(owner, AccessLevel.OWNER, group=group)
        source = MemberSource(SourceKind.GROUP, group.id, AccessLevel.OWNER, may_manage=True)

        results = await asyncio.gather(
            member_admin.remove_member(first, admin, source, owners[0].id),
            member_admin.remove_member(second, admin, source, owners[1].id),
            return_exceptions=True,
        )

        assert sorted(type(r).__name__ for r in results) == ["Forbidden", "NoneType"], n
        left = await fetch_all(
            first.reader, "SELECT user_id FROM members WHERE namespace_id = ?", (group.id,)
        )
        assert len(left) == 1


async def _lock_in_turn(
    tx: Writer, names: tuple[str, str], both_hold_one: asyncio.Barrier
) -> None:
    """Lock one lease row, wait until the other unit holds its first, then lock the other:
    two units given opposite orders wait on each other in a circle (once)."""
    lock = "SELECT name FROM leases WHERE name = ? FOR UPDATE"
    await tx.execute_fetchall(lock, (names[0],))
    await both_hold_one.wait()
    await tx.execute_fetchall(lock, (names[1],))
    await tx.execute("UPDATE leases SET owner = owner || '+' WHERE name = ?", (names[1],))


async def _two_leases(catalog: PostgresCatalog) -> None:
    async with catalog.transaction() as tx:
        for name in ("left", "right"):
            await tx.execute(
                "INSERT INTO leases (name, owner, expires_at) VALUES (?, 'o', 'e')", (name,)
            )


async def test_a_deadlocked_run_write_unit_is_run_again_and_succeeds(
    replicas: tuple[PostgresCatalog, ...],
) -> None:
    first, second = replicas
    await _two_leases(first)
    barrier = asyncio.Barrier(2)
    rounds = {"a": 0, "b": 0}

    async def unit(tx: Writer, key: str, names: tuple[str, str]) -> None:
        rounds[key] += 1
        if rounds[key] == 1:
            await _lock_in_turn(tx, names, barrier)
        else:
            await tx.execute("UPDATE leases SET owner = owner || '+' WHERE name = ?", (names[1],))

    await asyncio.wait_for(
        asyncio.gather(
            first.run_write(lambda tx: unit(tx, "a", ("left", "right"))),
            second.run_write(lambda tx: unit(tx, "b", ("right", "left"))),
        ),
        PATIENCE_S * 2,
    )
    # PostgreSQL aborted exactly one of them; that one ran a second time.
    assert sorted(rounds.values()) == [1, 2]
    owners = await fetch_all(first.reader, "SELECT owner FROM leases ORDER BY name")
    assert [r[0] for r in owners] == ["o+", "o+"]


async def test_a_deadlocked_transaction_is_unavailable_and_undone(
    replicas: tuple[PostgresCatalog, ...],
) -> None:
    first, second = replicas
    await _two_leases(first)
    barrier = asyncio.Barrier(2)

    async def unit(catalog: PostgresCatalog, names: tuple[str, str]) -> None:
        async with catalog.transaction() as tx:
            await _lock_in_turn(tx, names, barrier)

    results = await asyncio.wait_for(
        asyncio.gather(
            unit(first, ("left", "right")),
            unit(second, ("right", "left")),
            return_exceptions=True,
        ),
        PATIENCE_S * 2,
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1
    assert isinstance(failed[0], WriteConflict) and isinstance(failed[0], Unavailable)
    owners = await fetch_all(first.reader, "SELECT owner FROM leases ORDER BY name")
    assert sorted(r[0] for r in owners) == ["o", "o+"]
