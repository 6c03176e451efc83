"""Settings: the shipped TOML equals the defaults, every key has an environment name, bad values
name their key, and a file given with ``--config`` sits between the defaults and the
environment."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from registry_service.settings import (
    SHORT_ENV,
    Settings,
    SettingsInvalid,
    catalog_may_be_shared,
    load,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO_ROOT / "config" / "registry.toml"
REPLICAS_CONFIG = REPO_ROOT / "config" / "replicas.example.toml"

# For every key: a valid environment value that differs from the default, and what it loads as.
# A key added to Settings without a row here fails test_every_key_has_a_sample_value.
SAMPLES: dict[tuple[str, str], tuple[str, Any]] = {
    ("server", "listen"): ("0.0.0.0:8080", "0.0.0.0:8080"),
    ("server", "data_dir"): ("/var/lib/registry", "/var/lib/registry"),
    ("server", "external_url"): ("https://registry.example.com", "https://registry.example.com"),
    ("server", "shutdown_timeout_s"): ("2.5", 2.5),
    ("server", "access_log"): ("false", False),
    ("server", "log_format"): ("json", "json"),
    ("server", "tls_cert"): ("/etc/registry/chain.pem", "/etc/registry/chain.pem"),
    ("server", "tls_key"): ("/etc/registry/key.pem", "/etc/registry/key.pem"),
    ("server", "workers"): ("auto", "auto"),
    ("registry", "host"): ("registry.example.com:443", "registry.example.com:443"),
    ("registry", "auto_create_projects"): ("yes", True),
    ("registry", "abandoned_upload_max_age_seconds"): ("3600", 3600),
    ("storage", "min_free_bytes"): ("0", 0),
    ("storage", "reserve_bytes"): ("0", 0),
    ("auth", "admin_token"): ("glpat-0123456789abcdefghij", "glpat-0123456789abcdefghij"),
    ("auth", "registry_token_key"): ("/etc/registry/token.pem", "/etc/registry/token.pem"),
    ("auth", "registry_token_issuer"): ("my-issuer", "my-issuer"),
    ("auth", "registry_token_ttl_seconds"): ("600", 600),
    ("catalog", "url"): ("postgresql://registry@db:5432/registry", "postgresql://registry@db:5432/registry"),
    ("jobs", "redis_url"): ("redis://localhost:6379/0", "redis://localhost:6379/0"),
    ("jobs", "lease_seconds"): ("5", 5.0),
    ("jobs", "runner_lease_seconds"): ("60", 60.0),
    ("jobs", "runner_renew_seconds"): ("2", 2.0),
    ("cleanup", "regex_anchoring"): ("full", "full"),
    ("cleanup", "bulk_delete_interval_seconds"): ("0", 0),
    ("cleanup", "max_list_size"): ("200", 200),
    ("gc", "manifest_grace_seconds"): ("0", 0),
    ("gc", "blob_grace_seconds"): ("60", 60),
    ("gc", "interval_seconds"): ("0", 0),
    ("fixture", "enabled"): ("true", True),
    ("fixture", "bulk_delete_interval_seconds"): ("3600", 3600),
    ("web", "session_ttl_seconds"): ("600", 600),
}
ONE_WORKER = {"REGISTRY_SERVICE_SERVER_WORKERS": "1"}  # fixture mode's other refusal
# Keys that are set both or neither: the test of one sets the other's sample too.
TOGETHER = {
    ("server", "tls_cert"): ("server", "tls_key"),
    ("server", "tls_key"): ("server", "tls_cert"),
}


def all_keys() -> list[tuple[str, str]]:
    return [
        (section.name, key.name)
        for section in dataclasses.fields(Settings)
        for key in dataclasses.fields(getattr(Settings(), section.name))
    ]


def value_of(settings: Settings, section: str, key: str) -> Any:
    return getattr(getattr(settings, section), key)


def test_shipped_config_equals_the_defaults() -> None:
    assert load(SHIPPED_CONFIG, {}) == Settings()


def test_shipped_config_names_every_key() -> None:
    text = SHIPPED_CONFIG.read_text()
    for section, key in all_keys():
        assert f"[{section}]" in text
        assert f"\n{key} = " in text, f"{section}.{key} is not documented in {SHIPPED_CONFIG}"


def test_no_file_and_no_environment_gives_the_defaults() -> None:
    assert load(None, {}) == Settings()


def test_every_key_has_a_sample_value() -> None:
    assert sorted(SAMPLES) == sorted(all_keys())
    for (section, key), (_, loaded) in SAMPLES.items():
        assert loaded != value_of(Settings(), section, key), f"{section}.{key}: sample = default"


@pytest.mark.parametrize(("section", "key"), all_keys(), ids=lambda part: str(part))
def test_every_key_can_be_set_by_its_long_environment_name(section: str, key: str) -> None:
    raw, loaded = SAMPLES[(section, key)]
    name = f"REGISTRY_SERVICE_{section.upper()}_{key.upper()}"
    environ, expected = {name: raw}, {(section, key)}
    if (section, key) in TOGETHER:
        other = TOGETHER[(section, key)]
        environ[f"REGISTRY_SERVICE_{other[0].upper()}_{other[1].upper()}"] = SAMPLES[other][0]
        expected.add(other)

    settings = load(None, environ)

    assert value_of(settings, section, key) == loaded
    changed = {
        (s, k) for s, k in all_keys() if value_of(settings, s, k) != value_of(Settings(), s, k)
    }
    assert changed == expected


@pytest.mark.parametrize(("name", "target"), sorted(SHORT_ENV.items()))
def test_short_environment_names(name: str, target: tuple[str, str]) -> None:
    raw, loaded = SAMPLES[target]
    assert value_of(load(None, {name: raw}), *target) == loaded


def test_there_are_five_short_names() -> None:
    assert sorted(SHORT_ENV) == [
        "REGISTRY_SERVICE_ADMIN_TOKEN",
        "REGISTRY_SERVICE_DATA_DIR",
        "REGISTRY_SERVICE_EXTERNAL_URL",
        "REGISTRY_SERVICE_LISTEN",
        "REGISTRY_SERVICE_REDIS_URL",
    ]


def test_other_environment_variables_are_ignored() -> None:
    assert load(None, {"HOME": "/root", "REGISTRY_SERVICE_CONFIG": "/etc/x.toml"}) == Settings()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("ON", True), (" yes ", True),
     ("0", False), ("false", False), ("Off", False), ("no", False)],
)
def test_boolean_spellings(raw: str, expected: bool) -> None:
    settings = load(None, {"REGISTRY_SERVICE_SERVER_ACCESS_LOG": raw})
    assert settings.server.access_log is expected


def test_listen_splits_into_host_and_port() -> None:
    settings = load(None, {"REGISTRY_SERVICE_LISTEN": "[::1]:5001"})
    assert (settings.server.host, settings.server.port) == ("::1", 5001)
    assert settings.registry_host == "[::1]:5001"


def test_registry_host_defaults_to_the_external_url() -> None:
    settings = load(None, {"REGISTRY_SERVICE_EXTERNAL_URL": "https://reg.example.com:8443/"})
    assert settings.server.base_url == "https://reg.example.com:8443"
    assert settings.registry_host == "reg.example.com:8443"


# --- bad values -----------------------------------------------------------------------------

BAD_ENVIRONMENT = [
    ("REGISTRY_SERVICE_CLEANUP_BULK_DELETE_INTERVAL_SECONDS", "abc",
     "cleanup.bulk_delete_interval_seconds"),
    ("REGISTRY_SERVICE_CLEANUP_BULK_DELETE_INTERVAL_SECONDS", "-1",
     "cleanup.bulk_delete_interval_seconds"),
    ("REGISTRY_SERVICE_CLEANUP_BULK_DELETE_INTERVAL_SECONDS", "1.5",
     "cleanup.bulk_delete_interval_seconds"),
    ("REGISTRY_SERVICE_CLEANUP_MAX_LIST_SIZE", "", "cleanup.max_list_size"),
    ("REGISTRY_SERVICE_CLEANUP_REGEX_ANCHORING", "partial", "cleanup.regex_anchoring"),
    ("REGISTRY_SERVICE_SERVER_SHUTDOWN_TIMEOUT_S", "soon", "server.shutdown_timeout_s"),
    ("REGISTRY_SERVICE_SERVER_SHUTDOWN_TIMEOUT_S", "nan", "server.shutdown_timeout_s"),
    ("REGISTRY_SERVICE_SERVER_SHUTDOWN_TIMEOUT_S", "inf", "server.shutdown_timeout_s"),
    ("REGISTRY_SERVICE_SERVER_ACCESS_LOG", "maybe", "server.access_log"),
    ("REGISTRY_SERVICE_SERVER_LOG_FORMAT", "xml", "server.log_format"),
    ("REGISTRY_SERVICE_LISTEN", "nonsense", "server.listen"),
    ("REGISTRY_SERVICE_LISTEN", "127.0.0.1:99999", "server.listen"),
    ("REGISTRY_SERVICE_LISTEN", ":5000", "server.listen"),
    ("REGISTRY_SERVICE_DATA_DIR", "", "server.data_dir"),
    ("REGISTRY_SERVICE_EXTERNAL_URL", "registry.example.com", "server.external_url"),
    ("REGISTRY_SERVICE_REGISTRY_HOST", "https://registry.example.com", "registry.host"),
    ("REGISTRY_SERVICE_REDIS_URL", "http://localhost:6379", "jobs.redis_url"),
    ("REGISTRY_SERVICE_ADMIN_TOKEN", "too-short", "auth.admin_token"),
    ("REGISTRY_SERVICE_AUTH_REGISTRY_TOKEN_TTL_SECONDS", "0", "auth.registry_token_ttl_seconds"),
    ("REGISTRY_SERVICE_AUTH_REGISTRY_TOKEN_ISSUER", "", "auth.registry_token_issuer"),
    ("REGISTRY_SERVICE_FOO", "1", "REGISTRY_SERVICE_FOO"),
    ("REGISTRY_SERVICE_SERVER_COLOUR", "blue", "REGISTRY_SERVICE_SERVER_COLOUR"),
]


@pytest.mark.parametrize(("name", "raw", "named"), BAD_ENVIRONMENT)
def test_a_bad_environment_value_names_the_key(name: str, raw: str, named: str) -> None:
    with pytest.raises(SettingsInvalid) as caught:
        load(None, {name: raw})
    assert named in str(caught.value)


BAD_FILES = [
    ('[server]\ncolour = "blue"\n', "server.colour"),
    ("[frontend]\nport = 1\n", "[frontend]"),
    ('server = "x"\n', "[server]"),
    ("[server\n", "not valid TOML"),
    ('[server]\naccess_log = "yes"\n', "server.access_log"),
    ('[server]\nlisten = 5000\n', "server.listen"),
    ("[server]\nshutdown_timeout_s = true\n", "server.shutdown_timeout_s"),
    ("[cleanup]\nbulk_delete_interval_seconds = 1.5\n", "cleanup.bulk_delete_interval_seconds"),
    ("[cleanup]\nmax_list_size = -3\n", "cleanup.max_list_size"),
    (
        "[registry]\nabandoned_upload_max_age_seconds = 0\n",
        "registry.abandoned_upload_max_age_seconds",
    ),
]


@pytest.mark.parametrize(("text", "named"), BAD_FILES)
def test_a_bad_file_value_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(text)
    with pytest.raises(SettingsInvalid) as caught:
        load(path, {})
    assert named in str(caught.value)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsInvalid, match="cannot read configuration file"):
        load(tmp_path / "absent.toml", {})


# --- --config: defaults < file < environment ------------------------------------------------


def test_the_file_overrides_defaults_and_the_environment_overrides_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(
        '[server]\nlisten = "0.0.0.0:6000"\nlog_format = "json"\n'
        "[cleanup]\nbulk_delete_interval_seconds = 60\n"
    )

    from_file = load(path, {})
    both = load(path, {"REGISTRY_SERVICE_LISTEN": "127.0.0.1:7000",
                       "REGISTRY_SERVICE_CLEANUP_BULK_DELETE_INTERVAL_SECONDS": "0"})

    assert from_file == Settings(
        server=dataclasses.replace(Settings().server, listen="0.0.0.0:6000", log_format="json"),
        cleanup=dataclasses.replace(Settings().cleanup, bulk_delete_interval_seconds=60),
    )
    assert (both.server.listen, both.server.log_format) == ("127.0.0.1:7000", "json")
    assert both.cleanup.bulk_delete_interval_seconds == 0


def test_a_partial_file_keeps_the_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "registry.toml"
    path.write_text("[registry]\nauto_create_projects = true\n")
    settings = load(path, {})
    assert settings.registry.auto_create_projects is True
    assert dataclasses.replace(settings, registry=Settings().registry) == Settings()


def test_an_integer_in_the_file_is_fine_for_a_float_key(tmp_path: Path) -> None:
    path = tmp_path / "registry.toml"
    path.write_text("[server]\nshutdown_timeout_s = 5\n")
    assert load(path, {}).server.shutdown_timeout_s == 5.0


def test_replace_validates_like_load() -> None:
    settings = Settings().replace("server", listen="127.0.0.1:0")
    assert settings.server.port == 0
    with pytest.raises(SettingsInvalid, match=r"server\.listen"):
        Settings().replace("server", listen="nonsense")


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().server.listen = "x"  # type: ignore[misc]


def test_short_and_long_name_for_one_key_is_refused() -> None:
    with pytest.raises(SettingsInvalid, match="REGISTRY_SERVICE_REDIS_URL"):
        load(
            None,
            {
                "REGISTRY_SERVICE_REDIS_URL": "redis://a",
                "REGISTRY_SERVICE_JOBS_REDIS_URL": "redis://b",
            },
        )


def test_zero_shutdown_timeout_is_refused() -> None:
    # aiohttp would read 0 as "wait forever".
    with pytest.raises(SettingsInvalid, match=r"server\.shutdown_timeout_s"):
        load(None, {"REGISTRY_SERVICE_SERVER_SHUTDOWN_TIMEOUT_S": "0"})


def test_fixture_mode_with_redis_is_refused() -> None:
    # run-jobs and reset need the job runner inside the serving process.
    environ = {
        "REGISTRY_SERVICE_REDIS_URL": "redis://localhost",
        "REGISTRY_SERVICE_FIXTURE_ENABLED": "1",
    }
    with pytest.raises(SettingsInvalid, match=r"fixture\.enabled.*jobs\.redis_url"):
        load(None, environ)
    with pytest.raises(SettingsInvalid, match=r"fixture\.enabled"):
        load(None, {"REGISTRY_SERVICE_REDIS_URL": "redis://localhost"}).replace(
            "fixture", enabled=True
        )


@pytest.mark.parametrize(
    ("text", "count"),
    [('workers = "1"', 1), ("workers = 3", 3), ('workers = "4"', 4), ('workers = "auto"', None)],
)
def test_workers_is_a_number_or_auto(tmp_path: Path, text: str, count: int | None) -> None:
    config = tmp_path / "registry.toml"
    config.write_text(f"[server]\n{text}\n")
    expected = count if count is not None else (os.cpu_count() or 1)
    assert load(config, {}).server.worker_count == expected


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5", "²", ""])
def test_a_bad_workers_value_names_the_key(raw: str) -> None:
    with pytest.raises(SettingsInvalid, match=r"server\.workers"):
        load(None, {"REGISTRY_SERVICE_SERVER_WORKERS": raw})


def test_fixture_mode_with_several_workers_is_refused() -> None:
    with pytest.raises(SettingsInvalid, match=r"server\.workers: fixture mode"):
        load(
            None,
            {"REGISTRY_SERVICE_SERVER_WORKERS": "2", "REGISTRY_SERVICE_FIXTURE_ENABLED": "1"},
        )


@pytest.mark.parametrize(
    ("lease", "renew"), [("30", "30"), ("30", "45"), ("30", "0"), ("0", "0")]
)
def test_a_runner_lease_that_could_run_out_between_renewals_is_refused(
    lease: str, renew: str
) -> None:
    with pytest.raises(SettingsInvalid, match=r"jobs\.runner_"):
        load(
            None,
            {
                "REGISTRY_SERVICE_JOBS_RUNNER_LEASE_SECONDS": lease,
                "REGISTRY_SERVICE_JOBS_RUNNER_RENEW_SECONDS": renew,
            },
        )


@pytest.mark.parametrize(
    "url", ["postgresql://registry@db:5432/registry", "sqlite:////srv/shared/catalog.sqlite3"]
)
def test_fixture_mode_on_a_catalog_other_servers_may_share_is_refused(
    url: str, tmp_path: Path
) -> None:
    """Fixture mode resets the catalog: never one that servers it did not start may use."""
    data = {"REGISTRY_SERVICE_DATA_DIR": str(tmp_path / "data")}
    fixture = {**data, "REGISTRY_SERVICE_FIXTURE_ENABLED": "1"}
    assert load(None, fixture).fixture.enabled  # its own SQLite file: fine
    inside = f"sqlite:///{tmp_path}/data/elsewhere.sqlite3"
    assert load(None, {**fixture, "REGISTRY_SERVICE_CATALOG_URL": inside}).fixture.enabled
    with pytest.raises(SettingsInvalid, match=r"fixture\.enabled: fixture mode resets"):
        load(None, {**fixture, "REGISTRY_SERVICE_CATALOG_URL": url})
    assert load(None, {**data, "REGISTRY_SERVICE_CATALOG_URL": url}).catalog.url == url


@pytest.mark.parametrize(
    ("url", "postgresql", "sqlite_path"),
    [
        ("", False, None),
        ("sqlite:////var/lib/registry/catalog.sqlite3", False, "/var/lib/registry/catalog.sqlite3"),
        ("sqlite:///data/catalog.sqlite3", False, "data/catalog.sqlite3"),
        ("postgresql://registry:pw@db:5432/registry", True, None),
        ("postgres://registry@db/registry?sslmode=require", True, None),
        ("postgresql://registry@[::1]:5433/registry", True, None),
    ],
)
def test_catalog_url_names_sqlite_or_postgresql(
    url: str, postgresql: bool, sqlite_path: str | None
) -> None:
    catalog = load(None, {"REGISTRY_SERVICE_CATALOG_URL": url}).catalog
    assert catalog.is_postgresql is postgresql
    assert catalog.sqlite_path == (Path(sqlite_path) if sqlite_path else None)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://registry:hunter2-secret@db/registry",
        "sqlite:///",
        "sqlite://relative.sqlite3",
        "postgresql://registry:hunter2-secret@db:port/registry",
        "postgresql://registry:hunter2-secret@db:5432",
        "postgresql:///registry",
        "/var/lib/registry.sqlite3",
    ],
)
def test_a_bad_catalog_url_names_the_key_and_never_its_password(url: str) -> None:
    with pytest.raises(SettingsInvalid, match=r"catalog\.url") as caught:
        load(None, {"REGISTRY_SERVICE_CATALOG_URL": url})
    assert "hunter2" not in str(caught.value)


def test_catalog_password_is_known_as_written_and_decoded() -> None:
    url = "postgresql://registry:p%40ss-word@db/registry"
    assert set(load(None, {"REGISTRY_SERVICE_CATALOG_URL": url}).catalog.passwords) == {
        "p%40ss-word",
        "p@ss-word",
    }
    assert load(None, {}).catalog.passwords == ()


def test_the_replicas_sample_loads_and_names_what_replicas_share() -> None:
    """README's "Several replicas" sample: a PostgreSQL catalog (so fixture mode is refused),
    one shared data directory holding the one token signing key, jobs in-process."""
    loaded = load(REPLICAS_CONFIG, {})
    assert loaded.catalog.is_postgresql
    assert catalog_may_be_shared(loaded)
    assert loaded.server.data_dir == "/mnt/registry"
    assert Path(loaded.auth.registry_token_key).parent == loaded.data_path
    assert loaded.server.external_url == "https://registry.example.com"
    assert loaded.jobs.redis_url == ""
    with pytest.raises(SettingsInvalid, match="fixture mode resets its catalog"):
        load(REPLICAS_CONFIG, {"REGISTRY_SERVICE_FIXTURE_ENABLED": "true", **ONE_WORKER})
