"""What migration 0005 keeps beside the tags, checked against a plain model over random
sequences of every catalog call that adds or removes tags: each repository's ``tags_count``
(kept by triggers) always equals its tags, and ``unreferenced_manifests`` holds exactly the
manifests that lost their last tag (or were handed to a bulk delete and have none), stamped
when that happened."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry_service.catalog import blobs, manifests, repositories, tags
from registry_service.catalog.db import Catalog
from tests.factories import Factory
from tests.unit.catalog.test_registry_queries import CONFIG, LAYER, image

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MANIFESTS = 3
_projects = itertools.count(1)

name = st.sampled_from(["a", "b", "c", "d", "latest"])
manifest = st.integers(0, MANIFESTS - 1)
operation = st.one_of(
    st.tuples(st.just("upsert"), name, manifest),
    st.tuples(st.just("delete"), name),
    # (name, manifest) pairs: a pair whose tag points elsewhere must be left alone.
    st.tuples(st.just("delete_if_unchanged"), st.lists(st.tuples(name, manifest), max_size=4,
                                                         unique_by=lambda p: p[0])),
    st.tuples(st.just("insert_new"), st.lists(st.tuples(name, manifest), max_size=3,
                                              unique_by=lambda p: p[0])),
    st.tuples(st.just("delete_manifest"), manifest),
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(operation, max_size=12))
async def test_tag_counts_and_unreferenced_stamps_follow_every_change(
    catalog: Catalog, factory: Factory, operations: list[tuple[Any, ...]]
) -> None:
    project = await factory.project(f"count/p{next(_projects)}")
    async with catalog.transaction() as tx:
        repo = await repositories.ensure_repository(tx, project.id, "", START)
        for digest, size in ((CONFIG, 5), (LAYER, 10)):
            await blobs.insert_blob(tx, digest, size, START)
            await blobs.link_blob(tx, repo.id, digest, START)
        ids = [
            (await manifests.insert_manifest(tx, repo.id, image(f"sha256:{i:064x}"), START))[0]
            for i in range(MANIFESTS)
        ]
    model: dict[str, int] = {}  # tag name -> manifest id
    stamps: dict[int, datetime] = {}  # manifest id -> when it lost its last tag
    alive = set(ids)

    for step, op in enumerate(operations):
        now = START + timedelta(minutes=step + 1)
        before = dict(model)
        async with catalog.transaction() as tx:
            if op[0] == "upsert" and ids[op[2]] in alive:
                await tags.upsert_tag(tx, repo.id, op[1], ids[op[2]], now)
                model[op[1]] = ids[op[2]]
            elif op[0] == "delete":
                assert await tags.delete_tag(tx, repo.id, op[1], now) == (op[1] in model)
                model.pop(op[1], None)
            elif op[0] == "delete_if_unchanged":
                pairs = [(n, ids[m]) for n, m in op[1]]
                went = await tags.delete_tags_if_unchanged(tx, repo.id, pairs, now)
                gone = [n for n, m in pairs if model.get(n) == m]
                assert went == len(gone)
                for n in gone:
                    del model[n]
                # Every manifest passed is checked, as after a plan whose tags moved since;
                # one deleted meanwhile (by digest) is skipped, not an error.
                for _, m in pairs:
                    if m in alive and m not in model.values():
                        stamps.setdefault(m, now)
            elif op[0] == "insert_new":
                new = [(n, ids[m]) for n, m in op[1] if n not in model and ids[m] in alive]
                await tags.insert_tags(tx, repo.id, new, now)
                model.update(new)
            elif op[0] == "delete_manifest" and ids[op[1]] in alive:
                await manifests.delete_manifest(tx, ids[op[1]])
                alive.discard(ids[op[1]])
                model = {n: m for n, m in model.items() if m != ids[op[1]]}
                stamps.pop(ids[op[1]], None)
        tagged = set(model.values())
        for m in set(before.values()) - tagged:
            if m in alive:
                stamps.setdefault(m, now)
        for m in tagged:
            stamps.pop(m, None)

        assert await tags.count_tags(catalog.reader, repo.id) == len(model)
        rows = await catalog.reader.execute_fetchall(
            "SELECT COUNT(*) FROM tags WHERE repository_id = ?", (repo.id,)
        )
        assert rows[0][0] == len(model)
        stamped = await catalog.reader.execute_fetchall(
            "SELECT u.manifest_id, u.since FROM unreferenced_manifests u"
            " JOIN manifests m ON m.id = u.manifest_id WHERE m.repository_id = ?", (repo.id,)
        )
        assert {r[0]: datetime.fromisoformat(r[1]) for r in stamped} == stamps, op
