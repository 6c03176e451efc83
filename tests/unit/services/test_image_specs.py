"""``[[images]]`` entries (registry_service/services/image_specs.py): what each key means, and
the message a bad entry gets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from registry_service.manifests.generate import MIN_LAYER_BYTES
from registry_service.manifests.parse import Platform
from registry_service.services.image_specs import (
    ImageSpecInvalid,
    parse_image_spec,
    parse_size,
)

NEWEST = datetime(2026, 1, 1, tzinfo=UTC)


def spec(**entry: Any) -> Any:
    return parse_image_spec({"repository": "acme/web", "tags": ["v1"], **entry}, 0)


def test_the_defaults_are_one_small_linux_amd64_oci_image() -> None:
    parsed = spec()

    assert parsed.repository == "acme/web"
    assert parsed.tags == ("v1",)
    assert (parsed.layers, parsed.layer_size_bytes) == (1, 4096)
    assert parsed.platforms == (Platform("amd64", "linux"),)
    assert not parsed.multi_arch
    assert parsed.flavour == "oci"
    assert parsed.created is None
    assert parsed.seed == "acme/web"
    assert list(parsed.images()) == [(None, ("v1",))]


def test_listed_tags_share_one_image() -> None:
    parsed = spec(tags=["v1.0.0", "v1.0", "latest"], created=NEWEST)

    assert list(parsed.images()) == [(NEWEST, ("v1.0.0", "v1.0", "latest"))]


def test_a_tag_pattern_with_created_every_dates_each_tag_one_step_older_than_the_next() -> None:
    parsed = spec(
        tags=None, tag_pattern="build-{n}", count=4, created=NEWEST, created_every="1h"
    )

    assert list(parsed.images()) == [
        (NEWEST - timedelta(hours=3), ("build-1",)),
        (NEWEST - timedelta(hours=2), ("build-2",)),
        (NEWEST - timedelta(hours=1), ("build-3",)),
        (NEWEST, ("build-4",)),
    ]


def test_tags_per_image_groups_consecutive_tags() -> None:
    parsed = spec(
        tags=["a", "b", "c", "d", "e"], created=NEWEST, created_every="1d", tags_per_image=2
    )

    assert list(parsed.images()) == [
        (NEWEST - timedelta(days=2), ("a", "b")),
        (NEWEST - timedelta(days=1), ("c", "d")),
        (NEWEST, ("e",)),
    ]


def test_a_pattern_takes_a_format_spec_and_a_start() -> None:
    parsed = spec(tags=None, tag_pattern="v{n:03}", count=3, start=8)

    assert parsed.tags == ("v008", "v009", "v010")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2024, 2024), ("2048", 2048), ("4KiB", 4096), ("4 KiB", 4096), ("1.5MiB", 1_572_864),
        ("2kB", 2000), ("2KB", 2000), ("3MB", 3_000_000), ("1GiB", 1 << 30), ("7B", 7),
    ],
)
def test_sizes(value: Any, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        (datetime(2026, 1, 1, 2, 0, tzinfo=UTC), datetime(2026, 1, 1, 2, 0, tzinfo=UTC)),
        (date(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T03:00:00+01:00", datetime(2026, 1, 1, 2, 0, tzinfo=UTC)),
    ],
)
def test_created_forms(created: Any, expected: datetime) -> None:
    assert spec(created=created).created == expected


def test_platforms_make_a_multi_arch_index() -> None:
    parsed = spec(platforms=["linux/amd64", "linux/arm64", "linux/arm/v7"], format="docker")

    assert parsed.multi_arch
    assert parsed.platforms == (
        Platform("amd64", "linux"), Platform("arm64", "linux"),
        Platform("arm", "linux", variant="v7"),
    )
    assert parsed.flavour == "docker"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"repository": None}, "`repository` (an image path) is required"),
        ({"repository": "acme"}, "needs a group, a project"),
        ({"repository": "Acme/Web"}, "invalid repository name"),
        ({"tags": None}, "give either `tags`"),
        ({"tag_pattern": "b-{n}", "count": 2}, "give either `tags`"),
        ({"tags": []}, "non-empty list"),
        ({"tags": ["v1", "v1"]}, "listed twice"),
        ({"tags": ["-bad"]}, "invalid tag '-bad'"),
        ({"tags": None, "tag_pattern": "build", "count": 2}, "must contain {n}"),
        ({"tags": None, "tag_pattern": "b-{n}"}, "needs `count`"),
        ({"tags": None, "tag_pattern": "b-{n}-{m}", "count": 1}, "cannot be filled in"),
        ({"tags": None, "tag_pattern": "b-{n:q}", "count": 1}, "cannot be filled in"),
        ({"layers": -1}, "`layers` must be a whole number"),
        ({"layers": True}, "`layers` must be a whole number"),
        ({"layer_size": "4 parsecs"}, "is not a number of bytes or a size"),
        ({"layer_size": "1.1B"}, "not a whole number of bytes"),
        ({"layer_size": 100}, f"from {MIN_LAYER_BYTES} bytes"),
        ({"created": "yesterday"}, "`created` must be a date-time"),
        ({"created": datetime(2026, 1, 1)}, "needs a UTC offset"),
        ({"created_every": "1h"}, "`created_every` needs `created`"),
        ({"created": NEWEST, "created_every": "soon"}, "`created_every`"),
        ({"tags_per_image": 2}, "`tags_per_image` needs `created_every`"),
        ({"platform": "linux"}, "is not os/architecture"),
        ({"platform": "linux/amd46"}, "unknown architecture 'amd46'"),
        ({"platform": "lunix/amd64"}, "unknown os 'lunix'"),
        ({"platform": "linux/arm/V7!"}, "bad variant"),
        ({"platforms": []}, "non-empty list"),
        ({"platforms": ["linux/amd64", "linux/amd64"]}, "twice"),
        ({"platform": "linux/amd64", "platforms": ["linux/arm64"]}, "not both"),
        ({"format": "tarball"}, "`format` must be one of"),
        ({"seed": 3}, "`seed` must be a string"),
        ({"colour": "blue"}, "unknown keys ['colour']"),
    ],
)
def test_a_bad_entry_is_refused_naming_it(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ImageSpecInvalid) as raised:
        parse_image_spec({"repository": "acme/web", "tags": ["v1"], **entry}, 3)

    text = str(raised.value)
    assert text.startswith("images[3]"), text
    assert message in text
    if isinstance(entry.get("repository", "acme/web"), str):
        assert text.startswith(f"images[3] ({entry.get('repository', 'acme/web')}): ")
