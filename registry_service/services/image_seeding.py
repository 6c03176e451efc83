"""Seeded images: from ``ImageSpec`` values to blobs in the store and rows in the catalog, as a
push would have left them.

Three steps; the durability rule (services/blobs.py) is that the rows of step 3 commit only
after step 2 has ended (``seeding.apply_seed`` runs the two side by side):

1. ``plan_images`` (CPU only; run it off the loop) generates every image with
   ``manifests.generate`` and builds the catalog records with the same functions a manifest
   PUT uses (``image_record``, ``index_record``). Layers are shared between images with the same
   seed, platform and size, so 10,000 tags dated an hour apart make 10,000 small configs and
   manifests but only a few layers.
2. ``write_image_blobs`` puts every blob durably in the store: configs and small layers in one
   batch (``put_many``), large layers streamed one by one, each only if it is missing.
3. ``record_images`` writes the rows inside the caller's transaction, in a few statements per
   repository: blobs, links, manifests with their blob references and children, tags. Rows
   that exist are left alone, so loading the same seed twice changes nothing.

An image path must belong to a project by then (the seed's own ``[[projects]]`` count).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from registry_service.catalog import blobs as blob_rows
from registry_service.catalog import manifests as manifest_rows
from registry_service.catalog import projects as project_rows
from registry_service.catalog import repositories as repository_rows
from registry_service.catalog import tags as tag_rows
from registry_service.catalog.manifests import NewManifest
from registry_service.catalog.protocols import Writer
from registry_service.catalog.rows import Project
from registry_service.digests import Digest
from registry_service.manifests.generate import (
    GeneratedImage,
    LayerFacts,
    LayerSet,
    LayerSpec,
    LayerStream,
    generate_image,
    generate_index,
    layer_bytes,
    layer_set,
    measure_layer,
)
from registry_service.manifests.parse import Platform
from registry_service.names import project_path_candidates
from registry_service.services.image_specs import ImageSpec, ImageSpecInvalid
from registry_service.services.manifests import image_record, index_record
from registry_service.storage.base import BlobStore

# Layers up to this size are generated in memory and written in one batch with the configs;
# larger ones are streamed into the store.
SMALL_LAYER_BYTES = 1 << 20


@dataclass
class RepositoryPlan:
    """Everything one image path gets."""

    path: str
    where: str
    # By digest; an index's children come before it.
    manifests: dict[str, NewManifest] = field(default_factory=dict)
    # Tag → (manifest digest, the entry that set it).
    tags: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Every blob its manifests name: digest → size.
    blobs: dict[str, int] = field(default_factory=dict)


@dataclass
class ImagePlan:
    """What a seed's images need: rows per repository, and the blobs to write."""

    repositories: dict[str, RepositoryPlan] = field(default_factory=dict)
    small_blobs: dict[Digest, bytes] = field(default_factory=dict)
    large_layers: dict[Digest, LayerSpec] = field(default_factory=dict)
    _layers: dict[LayerSpec, LayerFacts] = field(default_factory=dict)

    def layer(self, spec: LayerSpec) -> LayerFacts:
        """The layer's facts, generating it the first time it is asked for."""
        facts = self._layers.get(spec)
        if facts is None:
            if spec.size_bytes <= SMALL_LAYER_BYTES:
                data, facts = layer_bytes(spec)
                self.small_blobs[facts.digest] = data
            else:
                facts = measure_layer(spec)
                self.large_layers[facts.digest] = spec
            self._layers[spec] = facts
        return facts


def plan_images(specs: Sequence[ImageSpec]) -> ImagePlan:
    """Generate the content of every entry and the rows that record it (no I/O)."""
    plan = ImagePlan()
    for spec in specs:
        repository = plan.repositories.setdefault(
            spec.repository, RepositoryPlan(spec.repository, spec.where)
        )
        layer_sets = {
            platform: layer_set(
                [plan.layer(_layer_spec(spec, platform, i)) for i in range(spec.layers)],
                spec.flavour,
            )
            for platform in spec.platforms
        }
        for layers in layer_sets.values():
            for layer in layers.layers:
                repository.blobs[str(layer.digest)] = layer.size_bytes
        for created, tags in spec.images():
            digest = _plan_image(plan, repository, spec, layer_sets, created)
            for tag in tags:
                earlier = repository.tags.get(tag)
                if earlier is not None and earlier[0] != digest:
                    raise ImageSpecInvalid(
                        f"{spec.where}: tag {tag!r} is already given to another image by "
                        f"{earlier[1]}"
                    )
                repository.tags[tag] = (digest, spec.where)
    return plan


def _layer_spec(spec: ImageSpec, platform: Platform, position: int) -> LayerSpec:
    variant = f"/{platform.variant}" if platform.variant else ""
    return LayerSpec(
        f"{spec.seed}|{platform.os}/{platform.architecture}{variant}|{position}",
        spec.layer_size_bytes,
    )


def _plan_image(
    plan: ImagePlan,
    repository: RepositoryPlan,
    spec: ImageSpec,
    layer_sets: dict[Platform, LayerSet],
    created: datetime | None,
) -> str:
    """Add one image (or index and its children); return the digest its tags point at."""
    children: list[GeneratedImage] = []
    for platform in spec.platforms:
        image = generate_image(layer_sets[platform], platform=platform, created=created)
        children.append(image)
        digest = str(image.digest)
        if digest not in repository.manifests:
            repository.manifests[digest] = image_record(
                image.manifest, image.digest, image.payload, image.created
            )
            config = image.manifest.config
            plan.small_blobs[config.digest] = image.config
            repository.blobs[str(config.digest)] = config.size
    if not spec.multi_arch:
        return str(children[0].digest)
    index = generate_index(children, flavour=spec.flavour)
    digest = str(index.digest)
    if digest not in repository.manifests:
        repository.manifests[digest] = index_record(
            index.index, index.digest, index.payload, repository.manifests
        )
    return digest


async def write_image_blobs(store: BlobStore, plan: ImagePlan) -> None:
    """Put every blob of the plan durably in the store (those already there are skipped)."""
    await store.put_many(list(plan.small_blobs.items()))
    for digest, spec in plan.large_layers.items():
        if await store.stat(digest) is None:
            await store.ingest(_in_thread(iter(LayerStream(spec))), expected=digest)


async def _in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Generate each chunk on a worker thread, so a large layer does not hold up the loop."""
    while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
        yield chunk


async def record_images(
    tx: Writer, plan: ImagePlan, now: datetime
) -> dict[str, int]:
    """Write the plan's rows in the caller's transaction; counts of what was new (a moved tag
    counts as new). Raises ``ImageSpecInvalid`` for an image path no project owns."""
    created = {"repositories": 0, "manifests": 0, "tags": 0, "blobs": 0}
    sizes = {d: s for repository in plan.repositories.values() for d, s in repository.blobs.items()}
    # In digest order, the order of the keys these rows go into: far fewer pages touched.
    created["blobs"] = await blob_rows.insert_blobs(tx, sorted(sizes.items()), now)
    for planned in plan.repositories.values():
        project = await _owning_project(tx, planned)
        name = planned.path[len(project.full_path) + 1 :]
        repository = await repository_rows.select_repository(tx, project.id, name)
        if repository is None:
            repository = await repository_rows.ensure_repository(tx, project.id, name, now)
            created["repositories"] += 1
        await blob_rows.link_blobs(tx, repository.id, sorted(planned.blobs), now)
        ids, new_manifests = await manifest_rows.insert_manifests(
            tx, repository.id, list(planned.manifests.values()), now
        )
        created["manifests"] += new_manifests
        current = await tag_rows.select_tag_manifest_ids(tx, repository.id)
        new_tags: list[tuple[str, int]] = []
        for tag, (digest, _) in planned.tags.items():
            manifest_id = ids[digest]
            previous = current.get(tag)
            if previous is None:
                new_tags.append((tag, manifest_id))
            elif previous != manifest_id:
                # Rare (the seed file changed an image): the push path's rules apply.
                await tag_rows.upsert_tag(tx, repository.id, tag, manifest_id, now)
                created["tags"] += 1
        await tag_rows.insert_tags(tx, repository.id, new_tags, now)
        created["tags"] += len(new_tags)
    return created


async def _owning_project(tx: Writer, planned: RepositoryPlan) -> Project:
    """The longest existing project among the path's candidates (as a push resolves it)."""
    for candidate in project_path_candidates(planned.path):
        project = await project_rows.select_project_by_path(tx, candidate)
        if project is not None:
            return project
    raise ImageSpecInvalid(
        f"{planned.where}: no project owns image path {planned.path!r}; add it to [[projects]]"
    )
