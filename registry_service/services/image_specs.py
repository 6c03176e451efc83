"""The ``[[images]]`` entries of a seed file, validated into ``ImageSpec`` values.

Pure: no catalog, no files. Each entry names an image path, its tags (a list, or a pattern and
a count), the shape of its content (layers, layer size, platforms, OCI or Docker media types)
and its ``created`` date, optionally spread over the tags (``created_every``). Anything wrong
raises ``ImageSpecInvalid`` naming the entry, e.g. ``images[2] (acme/web): …``. The format is
documented in ``config/seed.example.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from jobs.durations import DurationInvalid, parse_duration
from registry_service.errors import NameInvalid, TagInvalid
from registry_service.manifests.generate import FLAVOURS, MIN_LAYER_BYTES, Flavour
from registry_service.manifests.parse import Platform, parse_rfc3339
from registry_service.names import project_path_candidates, validate_tag

KEYS = frozenset(
    {
        "repository", "tags", "tag_pattern", "count", "start", "tags_per_image", "layers",
        "layer_size", "created", "created_every", "platform", "platforms", "format", "seed",
    }
)
DEFAULT_LAYERS = 1
MAX_LAYERS = 256
DEFAULT_LAYER_SIZE_BYTES = 4096
MAX_LAYER_SIZE_BYTES = 64 << 30
MAX_TAGS = 1_000_000
DEFAULT_PLATFORM = Platform(architecture="amd64", os="linux")

_SIZE_RE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*")
_SIZE_UNITS = {
    "": 1, "B": 1,
    "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9,
    "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
}
# Go's GOOS and GOARCH values, which the OCI image spec refers platforms to.
KNOWN_OS = frozenset(
    {
        "aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux",
        "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows",
    }
)
KNOWN_ARCHITECTURES = frozenset(
    {
        "386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle",
        "ppc64", "ppc64le", "riscv64", "s390x", "wasm",
    }
)
_VARIANT_RE = re.compile(r"[a-z0-9]{1,16}")


class ImageSpecInvalid(ValueError):
    """An ``[[images]]`` entry cannot be used; the message names it."""


@dataclass(frozen=True)
class ImageSpec:
    """One ``[[images]]`` entry: the images it makes and the tags pointing at them."""

    where: str
    repository: str
    tags: tuple[str, ...]
    layers: int
    layer_size_bytes: int
    created: datetime | None
    created_every: timedelta | None
    tags_per_image: int
    platforms: tuple[Platform, ...]
    multi_arch: bool
    flavour: Flavour
    seed: str

    def images(self) -> Iterator[tuple[datetime | None, tuple[str, ...]]]:
        """Each distinct image: its ``created`` date and its tags.

        Without ``created_every`` every tag shares one image. With it, each run of
        ``tags_per_image`` tags gets its own image; the last run is dated ``created`` and each
        run before it ``created_every`` earlier (tags are listed oldest first).
        """
        if self.created_every is None or self.created is None:
            yield self.created, self.tags
            return
        size = self.tags_per_image
        runs = [self.tags[i : i + size] for i in range(0, len(self.tags), size)]
        last = len(runs) - 1
        for i, run in enumerate(runs):
            yield self.created - (last - i) * self.created_every, run


def parse_image_specs(entries: list[dict[str, Any]]) -> list[ImageSpec]:
    return [parse_image_spec(entry, i) for i, entry in enumerate(entries)]


def parse_image_spec(entry: dict[str, Any], position: int) -> ImageSpec:
    """Validate one entry (``position`` is its index among the ``[[images]]``)."""
    repository = entry.get("repository")
    where = f"images[{position}]" + (f" ({repository})" if isinstance(repository, str) else "")
    try:
        return _parse(entry, where)
    except (NameInvalid, TagInvalid) as exc:
        raise ImageSpecInvalid(f"{where}: {exc.message or exc}") from None
    except ValueError as exc:
        raise ImageSpecInvalid(f"{where}: {exc}") from None


def _parse(entry: dict[str, Any], where: str) -> ImageSpec:
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise ValueError(f"unknown keys {unknown}; known are {sorted(KEYS)}")
    repository = entry.get("repository")
    if not isinstance(repository, str) or not repository:
        raise ValueError("`repository` (an image path) is required")
    if not project_path_candidates(repository):
        raise ValueError(f"image path {repository!r} needs a group, a project and at most 2 more")
    created = parse_created(entry.get("created"))
    every = entry.get("created_every")
    created_every = None if every is None else parse_interval(every)
    if created_every is not None and created is None:
        raise ValueError("`created_every` needs `created` (the date of the newest image)")
    per_image = _int(entry, "tags_per_image", 1, 1, MAX_TAGS)
    if "tags_per_image" in entry and created_every is None:
        raise ValueError("`tags_per_image` needs `created_every` (images differ by date)")
    if "platform" in entry and "platforms" in entry:
        raise ValueError("give `platform` (one image) or `platforms` (an index), not both")
    platforms_value = entry.get("platforms")
    if platforms_value is not None:
        if not isinstance(platforms_value, list) or not platforms_value:
            raise ValueError("`platforms` must be a non-empty list such as ['linux/amd64']")
        platforms = tuple(parse_platform(p) for p in platforms_value)
        if len(set(platforms)) != len(platforms):
            raise ValueError("`platforms` lists a platform twice")
    else:
        single = entry.get("platform")
        platforms = (DEFAULT_PLATFORM if single is None else parse_platform(single),)
    flavour = entry.get("format", "oci")
    if flavour not in FLAVOURS:
        raise ValueError(f"`format` must be one of {list(FLAVOURS)}, not {flavour!r}")
    seed = entry.get("seed", repository)
    if not isinstance(seed, str):
        raise ValueError("`seed` must be a string")
    return ImageSpec(
        where=where,
        repository=repository,
        tags=_tags(entry),
        layers=_int(entry, "layers", DEFAULT_LAYERS, 0, MAX_LAYERS),
        layer_size_bytes=_layer_size(entry.get("layer_size", DEFAULT_LAYER_SIZE_BYTES)),
        created=created,
        created_every=created_every,
        tags_per_image=per_image,
        platforms=platforms,
        multi_arch=platforms_value is not None,
        flavour=flavour,
        seed=seed,
    )


def _tags(entry: dict[str, Any]) -> tuple[str, ...]:
    listed = entry.get("tags")
    pattern = entry.get("tag_pattern")
    if (listed is None) == (pattern is None):
        raise ValueError("give either `tags` (a list) or `tag_pattern` with `count`")
    if listed is not None:
        if not (isinstance(listed, list) and listed and all(isinstance(t, str) for t in listed)):
            raise ValueError("`tags` must be a non-empty list of strings")
        tags = listed
    else:
        if "{n" not in str(pattern):
            raise ValueError("`tag_pattern` must contain {n}, e.g. 'build-{n}' or 'v{n:04}'")
        if "count" not in entry:
            raise ValueError("`tag_pattern` needs `count`")
        count = _int(entry, "count", 0, 1, MAX_TAGS)
        start = _int(entry, "start", 1, 0, 10**12)
        try:
            tags = [str(pattern).format(n=n) for n in range(start, start + count)]
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"`tag_pattern` {pattern!r} cannot be filled in: {exc}") from None
    for tag in tags:
        validate_tag(tag)
    if len(set(tags)) != len(tags):
        raise ValueError("a tag is listed twice")
    return tuple(tags)


def _int(entry: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = entry.get(key, default)
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"`{key}` must be a whole number from {low} to {high}")
    return value


def _layer_size(value: Any) -> int:
    size = parse_size(value)
    if not MIN_LAYER_BYTES <= size <= MAX_LAYER_SIZE_BYTES:
        raise ValueError(
            f"`layer_size` must be from {MIN_LAYER_BYTES} bytes (a gzip of a tar with one "
            f"file) to {MAX_LAYER_SIZE_BYTES >> 30} GiB, not {size}"
        )
    return size


def parse_size(value: Any) -> int:
    """Bytes, from an integer or a string such as ``"4KiB"``, ``"1.5 MB"`` or ``"512"``."""
    if type(value) is int and value >= 0:
        return value
    match = _SIZE_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None or match.group(2) not in _SIZE_UNITS:
        raise ValueError(
            f"size {value!r} is not a number of bytes or a size such as '4KiB', '1.5MB', '2GiB'"
        )
    try:
        exact = Decimal(match.group(1)) * _SIZE_UNITS[match.group(2)]
    except InvalidOperation:
        raise ValueError(f"size {value!r} is not a number") from None
    if exact != exact.to_integral_value():
        raise ValueError(f"size {value!r} is not a whole number of bytes")
    return int(exact)


def parse_interval(value: Any) -> timedelta:
    """A positive duration in the ``older_than`` language: ``"1h"``, ``"30m"``, ``"2d"``."""
    if not isinstance(value, str):
        raise ValueError("`created_every` must be a duration such as '1h', '30m' or '1d'")
    try:
        return parse_duration(value)
    except DurationInvalid as exc:
        raise ValueError(f"`created_every`: {exc}") from None


def parse_created(value: Any) -> datetime | None:
    """A TOML offset date-time, a date (midnight UTC) or an RFC 3339 string; None if absent."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("`created` needs a UTC offset, e.g. 2026-01-01T00:00:00Z")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    parsed = parse_rfc3339(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(f"`created` must be a date-time like 2026-01-01T00:00:00Z, not {value!r}")
    return parsed


def parse_platform(value: Any) -> Platform:
    """``os/architecture[/variant]``, e.g. ``linux/amd64`` or ``linux/arm/v7``."""
    parts = value.split("/") if isinstance(value, str) else []
    if not 2 <= len(parts) <= 3:
        raise ValueError(f"platform {value!r} is not os/architecture[/variant], e.g. linux/arm64")
    os_name, architecture, *variant = parts
    if os_name not in KNOWN_OS:
        raise ValueError(f"platform {value!r}: unknown os {os_name!r}")
    if architecture not in KNOWN_ARCHITECTURES:
        raise ValueError(f"platform {value!r}: unknown architecture {architecture!r}")
    if variant and not _VARIANT_RE.fullmatch(variant[0]):
        raise ValueError(f"platform {value!r}: bad variant {variant[0]!r}")
    return Platform(architecture=architecture, os=os_name, variant=variant[0] if variant else None)
