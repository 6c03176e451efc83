"""Configuration: TOML file + environment → one frozen ``Settings`` object.

This is the only module that reads ``os.environ``. Defaults live in the dataclass fields below;
``config/registry.toml`` is their documented copy (a test asserts the two agree). Every key
``[section] key`` can be overridden by ``REGISTRY_SERVICE_<SECTION>_<KEY>``; a handful of
short forms exist for the settings people change most. A bad value raises ``SettingsInvalid``
naming the key, and the CLI turns that into exit code 2 before any port is bound.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ENV_PREFIX = "REGISTRY_SERVICE_"

# Short environment names → (section, key).
SHORT_ENV = {
    "REGISTRY_SERVICE_DATA_DIR": ("server", "data_dir"),
    "REGISTRY_SERVICE_LISTEN": ("server", "listen"),
    "REGISTRY_SERVICE_EXTERNAL_URL": ("server", "external_url"),
    "REGISTRY_SERVICE_REDIS_URL": ("jobs", "redis_url"),
    "REGISTRY_SERVICE_ADMIN_TOKEN": ("auth", "admin_token"),
}
# What ``catalog.url`` may start with: the SQLite file, or a PostgreSQL server.
SQLITE_URL_PREFIX = "sqlite:///"
POSTGRESQL_SCHEMES = frozenset({"postgresql", "postgres"})


def is_postgresql_url(url: str) -> bool:
    return urlsplit(url).scheme in POSTGRESQL_SCHEMES


def sqlite_url_path(url: str) -> Path | None:
    """The file a ``sqlite:///…`` URL names (SQLAlchemy's spelling: ``sqlite:////abs/file``
    for an absolute path, ``sqlite:///rel/file`` from the working directory); None for any
    other URL or one without a path. The one reading of that spelling, for ``catalog.url``
    and ``migrate-catalog --from`` alike."""
    if not url.startswith(SQLITE_URL_PREFIX):
        return None
    path = url[len(SQLITE_URL_PREFIX) :]
    return Path(path) if path.strip("/") else None


# Environment names with the prefix that are not settings (read by the CLI itself).
NON_SETTING_ENV = {"REGISTRY_SERVICE_CONFIG"}


class SettingsInvalid(ValueError):
    """A configuration value cannot be used; the message names the key."""


@dataclass(frozen=True)
class ServerSettings:
    listen: str = "127.0.0.1:5000"
    data_dir: str = "./data"
    # Base of every absolute URL we emit (Link headers, delete_api_path). Empty = http://<listen>
    # (https:// with TLS).
    external_url: str = ""
    shutdown_timeout_s: float = 30.0
    access_log: bool = True
    log_format: str = "text"
    # Serve HTTPS with this PEM certificate (chain allowed: leaf first) and PEM private key;
    # both or neither. Read at start-up and again on SIGHUP.
    tls_cert: str = ""
    tls_key: str = ""
    # Server processes sharing the listening port, the data directory and the catalog: a
    # whole number, or "auto" for one per CPU core. 1 is a single process, as always.
    workers: str = "1"

    @property
    def worker_count(self) -> int:
        if self.workers == "auto":
            return os.cpu_count() or 1
        return int(self.workers)

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def base_url(self) -> str:
        return (self.external_url or f"{self.scheme}://{self.listen}").rstrip("/")


@dataclass(frozen=True)
class RegistrySettings:
    # Shown in `location` fields: host[:port], no scheme. Empty = the external URL's host:port.
    host: str = ""
    auto_create_projects: bool = False
    # An upload session untouched for this long is abandoned: its bytes are removed.
    abandoned_upload_max_age_seconds: int = 86400


@dataclass(frozen=True)
class StorageSettings:
    # New blob uploads are refused (507) when they would leave less than this free on the data
    # directory's filesystem, so the catalog, tag deletes and garbage collection keep room to
    # work on a full disk. 0 = off.
    min_free_bytes: int = 256 * 1024 * 1024
    # Space held back in <data>/reserve (and left free by uploads) and given up when the disk
    # is full anyway, so that tag deletes and garbage collection can still write the catalog;
    # new uploads are refused until it is back. 0 = none.
    reserve_bytes: int = 8 * 1024 * 1024


@dataclass(frozen=True)
class AuthSettings:
    # Token for the bootstrap administrator `root`; empty = generate one and print it once.
    admin_token: str = ""
    # PEM RSA private key that signs /jwt/auth tokens; empty = <data_dir>/registry_token_key.pem,
    # created (mode 0600) on first start.
    registry_token_key: str = ""
    # The `iss` claim of /jwt/auth tokens (GitLab's default issuer name).
    registry_token_issuer: str = "gitlab-issuer"
    # How long a /jwt/auth token is good for (GitLab: 5 minutes).
    registry_token_ttl_seconds: int = 300


@dataclass(frozen=True)
class CatalogSettings:
    # Where the catalog lives. Empty = <data_dir>/registry.sqlite3, the embedded default;
    # sqlite:///<path> = another SQLite file (SQLAlchemy's spelling: sqlite:////abs/file for an
    # absolute path, sqlite:///rel/file relative to the working directory);
    # postgresql://user:password@host:port/db
    # = a PostgreSQL database several servers may share (its password never reaches a log).
    url: str = ""

    @property
    def is_postgresql(self) -> bool:
        return is_postgresql_url(self.url)

    @property
    def passwords(self) -> tuple[str, ...]:
        """The URL's password as written and decoded (none if it has none): the log redactor
        hides both wherever they appear, with or without the URL around them."""
        written = urlsplit(self.url).password or ""
        return tuple({written, unquote(written)} - {""})

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file ``url`` names, or None (the default file, or PostgreSQL)."""
        return sqlite_url_path(self.url)


@dataclass(frozen=True)
class JobsSettings:
    # Empty = run jobs in-process inside `serve`; a redis:// URL = enqueue to arq workers.
    redis_url: str = ""
    # A runner holds a job under a lease this long, renewed every quarter of it; a runner that
    # dies leaves its jobs to others once the lease has run out.
    lease_seconds: float = 60.0
    # Of all the `serve` processes on one catalog (--workers, several on one data directory,
    # replicas on other hosts), only the holder of the catalog lease "jobs-runner" runs jobs
    # in-process. It holds it this long and renews it this often (less than the lease); the
    # others try to take it on the same beat, so a holder that stops renewing is replaced within
    # one lease (one on this host that dies, at the next renewal). Hosts' clocks must agree well
    # within the difference.
    runner_lease_seconds: float = 30.0
    runner_renew_seconds: float = 10.0


@dataclass(frozen=True)
class CleanupSettings:
    regex_anchoring: str = "gitlab"
    bulk_delete_interval_seconds: int = 3600
    max_list_size: int = 0


@dataclass(frozen=True)
class GcSettings:
    # An untagged manifest no index lists is removed once it has been so for this long.
    manifest_grace_seconds: int = 86400
    # A blob no manifest uses is removed once its newest repository link is this old (and an
    # unreferenced file with no catalog row once its mtime is).
    blob_grace_seconds: int = 86400
    # The runners start a collection this often; 0 = only on demand (`registry-service gc`).
    interval_seconds: int = 3600


@dataclass(frozen=True)
class FixtureSettings:
    # Fixture mode (also `serve --fixture`): a settable clock and the /-/fixture/ routes
    # (clock, run-jobs, reset) for integration tests of GitLab API clients. Jobs in-process only.
    enabled: bool = False
    # In fixture mode this replaces cleanup.bulk_delete_interval_seconds: 0 = the bulk-delete
    # limit is off; 3600 tests GitLab's once-an-hour limit against the settable clock.
    bulk_delete_interval_seconds: int = 0


@dataclass(frozen=True)
class WebSettings:
    # A web interface session ends this long after sign-in (or earlier with its token).
    session_ttl_seconds: int = 28800


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    jobs: JobsSettings = field(default_factory=JobsSettings)
    cleanup: CleanupSettings = field(default_factory=CleanupSettings)
    gc: GcSettings = field(default_factory=GcSettings)
    fixture: FixtureSettings = field(default_factory=FixtureSettings)
    web: WebSettings = field(default_factory=WebSettings)

    @property
    def registry_host(self) -> str:
        return self.registry.host or urlsplit(self.server.base_url).netloc

    @property
    def data_path(self) -> Path:
        return Path(self.server.data_dir)

    def replace(self, section: str, **values: Any) -> Settings:
        """A copy with some keys of one section changed (validated like loaded values)."""
        merged = {k: getattr(getattr(self, section), k) for k in _fields(section)}
        merged.update(values)
        new = _build_section(section, merged)
        replaced = dataclasses.replace(self, **{section: new})
        _check_cross_field(replaced)
        return replaced


_SECTIONS: dict[str, type[Any]] = {
    "server": ServerSettings,
    "registry": RegistrySettings,
    "storage": StorageSettings,
    "auth": AuthSettings,
    "catalog": CatalogSettings,
    "jobs": JobsSettings,
    "cleanup": CleanupSettings,
    "gc": GcSettings,
    "fixture": FixtureSettings,
    "web": WebSettings,
}


def _fields(section: str) -> dict[str, Any]:
    return {f.name: f.type for f in dataclasses.fields(_SECTIONS[section])}


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsInvalid(f"server.listen: expected host:port, got {listen!r}")
    return host.strip("[]"), int(port)


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (if any), apply the environment, validate, and freeze."""
    raw: dict[str, dict[str, Any]] = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except OSError as exc:
            raise SettingsInvalid(f"cannot read configuration file {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsInvalid(f"{path}: not valid TOML: {exc}") from exc
        for section, values in data.items():
            if section not in _SECTIONS:
                raise SettingsInvalid(f"{path}: unknown section [{section}]")
            if not isinstance(values, dict):
                raise SettingsInvalid(f"{path}: [{section}] must be a table")
            for key in values:
                if key not in _fields(section):
                    raise SettingsInvalid(f"{path}: unknown key {section}.{key}")
            raw[section] = dict(values)
    set_by: dict[tuple[str, str], str] = {}
    for name, value in sorted((environ or {}).items()):
        if not name.startswith(ENV_PREFIX) or name in NON_SETTING_ENV:
            continue
        section_key = SHORT_ENV.get(name) or _long_env(name)
        if section_key is None:
            raise SettingsInvalid(f"environment variable {name} names no setting")
        if section_key in set_by:
            # A short and a long name for one key: refuse rather than pick one silently.
            raise SettingsInvalid(
                f"{set_by[section_key]} and {name} both set {'.'.join(section_key)}; keep one"
            )
        set_by[section_key] = name
        section, key = section_key
        raw.setdefault(section, {})[key] = _from_env(section, key, value, name)
    built = {section: _build_section(section, raw.get(section, {})) for section in _SECTIONS}
    settings = Settings(**built)
    _check_cross_field(settings)
    return settings


def _long_env(name: str) -> tuple[str, str] | None:
    rest = name[len(ENV_PREFIX) :].lower()
    for section in _SECTIONS:
        if rest.startswith(section + "_") and rest[len(section) + 1 :] in _fields(section):
            return section, rest[len(section) + 1 :]
    return None


def _from_env(section: str, key: str, value: str, name: str) -> Any:
    kind = _fields(section)[key]
    if kind == "bool":
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsInvalid(f"{name} ({section}.{key}): expected true or false, got {value!r}")
    return value  # numbers are converted (and checked) in _build_section


def _build_section(section: str, values: Mapping[str, Any]) -> Any:
    cls = _SECTIONS[section]
    converted: dict[str, Any] = {}
    for key, kind in _fields(section).items():
        if key not in values:
            continue
        value = values[key]
        where = f"{section}.{key}"
        if kind == "bool":
            if not isinstance(value, bool):
                raise SettingsInvalid(f"{where}: expected true or false, got {value!r}")
        elif kind == "int":
            value = _to_number(where, value, int)
        elif kind == "float":
            value = _to_number(where, value, float)
        elif where == "server.workers" and type(value) is int:
            value = str(value)  # `workers = 2` in TOML reads as naturally as "auto"
        elif kind == "str" and not isinstance(value, str):
            raise SettingsInvalid(f"{where}: expected a string, got {value!r}")
        converted[key] = value
    instance = cls(**converted)
    _check_section(section, instance)
    return instance


def _to_number(where: str, value: Any, kind: type[int] | type[float]) -> int | float:
    if isinstance(value, bool):
        raise SettingsInvalid(f"{where}: expected a number, got {value!r}")
    # int(1.5) is 1: a TOML float for an integer key would be truncated silently.
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise SettingsInvalid(f"{where}: expected a whole number, got {value!r}")
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise SettingsInvalid(f"{where}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise SettingsInvalid(f"{where}: expected a finite number, got {value!r}")
    if number < 0:
        raise SettingsInvalid(f"{where}: must not be negative, got {value!r}")
    return number


def _check_section(section: str, s: Any) -> None:
    if section == "server":
        split_listen(s.listen)
        if not s.data_dir:
            raise SettingsInvalid("server.data_dir: must not be empty")
        if s.external_url:
            parts = urlsplit(s.external_url)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise SettingsInvalid(
                    f"server.external_url: expected http(s)://host[:port], got {s.external_url!r}"
                )
        if s.shutdown_timeout_s <= 0:
            # aiohttp reads 0 as "wait forever", which is not what the key promises.
            raise SettingsInvalid("server.shutdown_timeout_s: must be greater than 0")
        if s.log_format not in {"text", "json"}:
            raise SettingsInvalid(f"server.log_format: expected text or json, got {s.log_format!r}")
        if s.workers != "auto" and not (
            s.workers.isascii() and s.workers.isdigit() and int(s.workers) >= 1
        ):
            raise SettingsInvalid(
                f"server.workers: expected a whole number from 1, or auto, got {s.workers!r}"
            )
        if bool(s.tls_cert) != bool(s.tls_key):
            given, missing = ("tls_cert", "tls_key") if s.tls_cert else ("tls_key", "tls_cert")
            raise SettingsInvalid(
                f"server.{missing}: must be set too when server.{given} is (both or neither)"
            )
        if s.tls_cert and s.external_url and urlsplit(s.external_url).scheme != "https":
            # Clients would be sent to plain-HTTP URLs of a server that only speaks HTTPS.
            raise SettingsInvalid(
                "server.external_url: must start with https:// when server.tls_cert is set, "
                f"got {s.external_url!r}"
            )
    elif section == "registry":
        if "/" in s.host or "://" in s.host:
            raise SettingsInvalid(f"registry.host: expected host[:port], got {s.host!r}")
        if s.abandoned_upload_max_age_seconds <= 0:
            raise SettingsInvalid(
                "registry.abandoned_upload_max_age_seconds: must be greater than 0"
            )
    elif section == "auth":
        if s.registry_token_ttl_seconds <= 0:
            raise SettingsInvalid("auth.registry_token_ttl_seconds: must be greater than 0")
        if not s.registry_token_issuer:
            raise SettingsInvalid("auth.registry_token_issuer: must not be empty")
    elif section == "catalog":
        _check_catalog_url(s.url)
    elif section == "jobs":
        if s.redis_url and urlsplit(s.redis_url).scheme not in {"redis", "rediss", "unix"}:
            raise SettingsInvalid(f"jobs.redis_url: expected redis://…, got {s.redis_url!r}")
        if s.lease_seconds <= 0:
            raise SettingsInvalid("jobs.lease_seconds: must be greater than 0")
        if s.runner_renew_seconds <= 0:
            raise SettingsInvalid("jobs.runner_renew_seconds: must be greater than 0")
        if s.runner_renew_seconds >= s.runner_lease_seconds:
            # The lease would run out between renewals: two runners active at once.
            raise SettingsInvalid(
                "jobs.runner_renew_seconds: must be less than jobs.runner_lease_seconds "
                f"({s.runner_renew_seconds:g} >= {s.runner_lease_seconds:g})"
            )
    elif section == "web" and s.session_ttl_seconds <= 0:
        raise SettingsInvalid("web.session_ttl_seconds: must be greater than 0")
    elif section == "cleanup" and s.regex_anchoring not in {"gitlab", "full"}:
        raise SettingsInvalid(
            f"cleanup.regex_anchoring: expected gitlab or full, got {s.regex_anchoring!r}"
        )


def _check_catalog_url(url: str) -> None:
    if not url:
        return
    # The message shows the scheme only: the rest of a PostgreSQL URL may hold its password.
    scheme = urlsplit(url).scheme
    expected = "expected sqlite:///<path> or postgresql://user@host[:port]/database"
    if url.startswith(SQLITE_URL_PREFIX):
        if not url[len(SQLITE_URL_PREFIX) :].strip("/"):
            raise SettingsInvalid(f"catalog.url: {expected}, got sqlite:/// without a path")
        return
    if scheme not in POSTGRESQL_SCHEMES:
        raise SettingsInvalid(f"catalog.url: {expected}, got a {scheme or 'schemeless'} URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise SettingsInvalid(f"catalog.url: {expected}; its port is not a number") from None
    if not parts.hostname or not parts.path.strip("/"):
        raise SettingsInvalid(f"catalog.url: {expected}; host and database are required")


def _check_cross_field(settings: Settings) -> None:
    token = settings.auth.admin_token
    if token and len(token) < 20:
        raise SettingsInvalid("auth.admin_token: must be at least 20 characters")
    if settings.fixture.enabled and settings.jobs.redis_url:
        # run-jobs waits for jobs and reset stops them: both need the runner in this process.
        raise SettingsInvalid(
            "fixture.enabled: fixture mode runs jobs in-process; unset jobs.redis_url"
        )
    if settings.fixture.enabled and settings.server.workers != "1":
        # Its clock and its run-jobs/reset routes live in one process.
        raise SettingsInvalid("server.workers: fixture mode runs one process; set it to 1")
    if settings.fixture.enabled and catalog_may_be_shared(settings):
        # Reset wipes the catalog, and run-jobs needs the only runner: both would reach into
        # other servers' state. (Another serve on the same data directory is refused at start:
        # the fixture server must hold the jobs-runner lease.)
        raise SettingsInvalid(
            "fixture.enabled: fixture mode resets its catalog, so it needs one of its own; "
            "this configuration names a catalog other servers may share"
        )


def catalog_may_be_shared(settings: Settings) -> bool:
    """Whether the configuration names a catalog that servers this process does not start may
    use too: a PostgreSQL database (any server may connect to it) or an SQLite file outside
    ``server.data_dir``. Only the default file inside the data directory is this server's own.
    """
    catalog = settings.catalog
    if catalog.is_postgresql:
        return True
    path = catalog.sqlite_path
    if path is None:
        return False
    return not path.resolve().is_relative_to(settings.data_path.resolve())
