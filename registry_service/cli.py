"""The ``registry-service`` command and the composition root.

``serve`` loads settings (exit 2 on a bad value, before any port is bound), opens the catalog,
creates the administrator on first start, applies a seed if asked, wires everything into
``create_app`` and serves until SIGTERM/SIGINT, letting in-flight requests finish; over HTTPS
when ``server.tls_cert`` is set (``tls.py``; SIGHUP reloads the certificate).
``admin`` (its commands live in ``admin_commands``) and ``seed`` work on the catalog file
directly (safe while ``serve`` runs: SQLite WAL). Jobs run in-process inside ``serve`` by
default; with ``jobs.redis_url`` set, ``serve`` only enqueues and ``worker`` runs them (arq).
``serve --fixture`` (or ``fixture.enabled``) is fixture mode: a ``ShiftedClock`` and the
``/-/fixture/`` routes; ``build_app`` is also what the pytest plugin serves in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web

from jobs.arq_queue import ArqQueue
from jobs.context import JobContext, new_owner_name
from jobs.execute import Outcome, Progress, run_claimed_job
from jobs.gc import (
    Collected,
    Report,
    collect_garbage,
    collection_outcome,
    start_collection,
)
from jobs.runner import InProcessRunner
from jobs.runner_gate import RunnerGate
from jobs.schedule import schedule_due_work
from jobs.worker import create_worker
from registry_service.admin_commands import add_admin_parser, run_admin
from registry_service.app import create_app
from registry_service.catalog.opening import open_catalog
from registry_service.catalog.protocols import CatalogBackend
from registry_service.catalog.rows import JobRow
from registry_service.clock import ShiftedClock, SystemClock
from registry_service.fixture.routes import PREFIX as FIXTURE_PREFIX
from registry_service.fixture.routes import create_fixture_api
from registry_service.http.access_log import AccessLogger
from registry_service.logs import configure_logging
from registry_service.migrate_catalog_command import (
    add_migrate_catalog_parser,
    migrate_catalog,
)
from registry_service.python_gc import freeze_startup_objects
from registry_service.services import tokens
from registry_service.services.blobs import Storage
from registry_service.services.bootstrap import ensure_root
from registry_service.services.fixture import FixtureControl
from registry_service.services.jobs import JobKind, JobQueue
from registry_service.services.provisioning import ProvisioningFailed
from registry_service.services.seeding import SeedInvalid, SeedReport, seed_file
from registry_service.settings import Settings, SettingsInvalid, load
from registry_service.storage import layout
from registry_service.storage.base import BlobStore
from registry_service.storage.filesystem import FilesystemBlobStore
from registry_service.storage.reserve import Reserve
from registry_service.supervisor import run_workers
from registry_service.tls import ServerTls, load_server_tls

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

log = logging.getLogger("registry_service")


class CommandFailed(Exception):
    """A command could not do what was asked; the message is for the operator."""


# --- serve ----------------------------------------------------------------------------------


async def build_app(settings: Settings, seed: Path | None) -> web.Application:
    """Open the catalog, bootstrap and seed it, start the jobs, and wire the app (``serve``,
    and the pytest plugin in-process). In fixture mode: a ``ShiftedClock``, the fixture
    bulk-delete interval, and the ``/-/fixture/`` routes."""
    fixture = settings.fixture.enabled
    clock: SystemClock | ShiftedClock = ShiftedClock() if fixture else SystemClock()
    if fixture:
        settings = settings.replace(
            "cleanup", bulk_delete_interval_seconds=settings.fixture.bulk_delete_interval_seconds
        )
        if not settings.auth.admin_token:
            # Reset recreates root with this same token, so it must be known for the whole run.
            settings = settings.replace("auth", admin_token=tokens.new_token_value())
            print(
                "registry-service: fixture mode; administrator 'root' has the API token "
                f"(for this run):\n  {settings.auth.admin_token}",
                flush=True,
            )
    # Opened in order, closed in reverse: at once if building fails, else by the app (last of
    # its cleanup, after the requests; and also when its start-up fails).
    resources = contextlib.AsyncExitStack()
    reserve = Reserve(settings.data_path, settings.storage.reserve_bytes)
    try:
        catalog = await open_catalog(settings, before_write=reserve.keep_room)
        resources.push_async_callback(catalog.close)
        await _bootstrap(catalog, settings, seed, clock.now())
        store = FilesystemBlobStore(
            settings.data_path, min_free_bytes=settings.storage.min_free_bytes, reserve=reserve
        )
        resources.push_async_callback(store.aclose)
        storage = Storage.on(store)
        queue: JobQueue
        runner: InProcessRunner | None = None
        if settings.jobs.redis_url:
            queue = ArqQueue(settings.jobs.redis_url)
            resources.push_async_callback(queue.close)
        else:
            ctx = JobContext(catalog, storage, clock, settings)
            # One active runner per catalog (serve --workers, several serves, replicas). The
            # lease is timed by the system clock even in fixture mode: it measures liveness.
            gate = RunnerGate(
                catalog,
                SystemClock(),
                ctx.owner,
                lease=timedelta(seconds=settings.jobs.runner_lease_seconds),
                renew=timedelta(seconds=settings.jobs.runner_renew_seconds),
                runners_dir=layout.runners_dir(settings.data_path),
            )
            runner = queue = InProcessRunner(ctx, gate=gate)
            await runner.start()
            resources.push_async_callback(runner.stop)
            if fixture and not runner.active:
                # Reset would wipe, and run-jobs would race, another server's catalog.
                raise CommandFailed(
                    "fixture mode needs a catalog of its own, but another server runs this "
                    f"catalog's jobs (data directory {settings.data_path})"
                )
        app = create_app(
            settings, catalog=catalog, clock=clock, storage=storage, queue=queue,
            resources=resources,
        )
        if fixture:
            # Settings refuse fixture mode with a Redis URL: the runner is in-process.
            assert runner is not None and isinstance(clock, ShiftedClock)
            app.add_subapp(
                FIXTURE_PREFIX,
                create_fixture_api(_fixture_control(settings, seed, catalog, clock, runner)),
            )
    except BaseException:
        await resources.aclose()
        raise
    return app


async def _bootstrap(
    catalog: CatalogBackend, settings: Settings, seed: Path | None, now: datetime
) -> int:
    """Create the administrator on first start, and apply the seed if one is given."""
    generated = await ensure_root(catalog, admin_token=settings.auth.admin_token, now=now)
    if generated:
        print(
            "registry-service: created administrator 'root'; its API token "
            f"(shown only now) is:\n  {generated}",
            flush=True,
        )
    if seed is not None:
        report = await seed_with_store(catalog, settings, seed, now)
        log.info("seeded from %s: created %s", seed, report.summary())
    return EXIT_OK


def _fixture_control(
    settings: Settings,
    seed: Path | None,
    catalog: CatalogBackend,
    clock: ShiftedClock,
    runner: InProcessRunner,
) -> FixtureControl:
    async def sweep() -> None:
        await schedule_due_work(catalog, runner, settings, clock.now())

    async def reseed(now: datetime) -> None:
        assert seed is not None
        await seed_with_store(catalog, settings, seed, now)

    return FixtureControl(
        catalog=catalog,
        clock=clock,
        runner=runner,
        admin_token=settings.auth.admin_token,
        sweep=sweep,
        reseed=reseed if seed is not None else None,
    )


def serve(settings: Settings, seed: Path | None) -> int:
    tls = load_server_tls(settings.server)  # a bad file stops us before any port is bound
    workers = settings.server.worker_count
    log.info(
        "serving on %s://%s (data in %s, jobs %s%s)",
        settings.server.scheme,
        settings.server.listen,
        settings.data_path.resolve(),
        "via Redis" if settings.jobs.redis_url else "in-process",
        f", {workers} workers" if workers > 1 else "",
    )
    if settings.fixture.enabled:
        log.warning(
            "fixture mode: settable clock and %s/ routes (clock, run-jobs, reset)", FIXTURE_PREFIX
        )
    if workers == 1:
        _run_server(settings, seed, tls)
        return EXIT_OK
    # Migrations, the administrator and the seed once, here, before the children race for them.
    now = SystemClock().now()
    asyncio.run(with_catalog(settings, lambda c: _bootstrap(c, settings, seed, now)))

    def serve_child(sock: socket.socket, ready: Callable[[], None]) -> int:
        # Each child its own TLS context, so SIGHUP (forwarded by the parent) reloads each.
        _run_server(settings, None, load_server_tls(settings.server), sock=sock, ready=ready)
        return EXIT_OK

    return run_workers(
        settings.server.host,
        settings.server.port,
        workers,
        serve_child,
        settings.server.shutdown_timeout_s,
    )


def _run_server(
    settings: Settings,
    seed: Path | None,
    tls: ServerTls | None,
    *,
    sock: socket.socket | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    async def app_for_serving() -> web.Application:
        app = await build_app(settings, seed)
        app.on_startup.append(_freeze_startup_objects)
        if tls is not None:
            app.cleanup_ctx.append(tls.reload_on_sighup)
        return app

    def announce(*_: object, **__: object) -> None:
        # aiohttp "prints" once every site is serving: the moment a worker is ready.
        if ready is not None:
            ready()

    web.run_app(
        app_for_serving(),
        host=None if sock else settings.server.host,
        port=None if sock else settings.server.port,
        sock=sock,
        ssl_context=tls.context if tls is not None else None,
        shutdown_timeout=settings.server.shutdown_timeout_s,
        access_log=logging.getLogger("aiohttp.access") if settings.server.access_log else None,
        access_log_class=AccessLogger,
        print=announce if ready is not None else None,
    )


async def _freeze_startup_objects(_: web.Application) -> None:
    freeze_startup_objects()


def run_worker(settings: Settings) -> int:
    if not settings.jobs.redis_url:
        print(
            "registry-service worker: no Redis configured; set jobs.redis_url (or "
            "REGISTRY_SERVICE_REDIS_URL). Without it, serve runs jobs itself.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    log.info("arq worker for %s on %s", settings.data_path.resolve(), settings.jobs.redis_url)
    worker = create_worker(settings)
    freeze_startup_objects()  # the worker's modules and settings; it opens the catalog later
    worker.run()
    return EXIT_OK


# --- gc -------------------------------------------------------------------------------------


async def run_gc(catalog: CatalogBackend, settings: Settings, dry_run: bool, as_json: bool) -> int:
    """One collection in this process, recorded as a job like the scheduled ones."""
    store = FilesystemBlobStore(settings.data_path)
    report = _progress_printer() if sys.stderr.isatty() else None
    clock = SystemClock()
    try:
        if dry_run:
            done = await collect_garbage(
                catalog, store, settings.gc, clock.now(), dry_run=True, report=report
            )
            job_id = None
        else:
            done, job_id = await _collect_as_job(catalog, store, settings, clock, report)
    finally:
        await store.aclose()
    if report:
        print(file=sys.stderr)
    counts = done.counts()
    if as_json:
        print(json.dumps({"dry_run": dry_run, "job_id": job_id, **counts}, sort_keys=True))
    else:
        print(_gc_summary(done, dry_run, job_id))
    return EXIT_OK


async def _collect_as_job(
    catalog: CatalogBackend,
    store: BlobStore,
    settings: Settings,
    clock: SystemClock,
    report: Report | None,
) -> tuple[Collected, int]:
    outcome: list[Collected] = []

    async def body(ctx: JobContext, job: JobRow, progress: Progress) -> Outcome:
        # The scheduled job's body, plus progress on a terminal.
        done = await collect_garbage(
            ctx.catalog, store, settings.gc, ctx.clock.now(), report=report
        )
        outcome.append(done)
        return collection_outcome(done, settings.gc)

    ctx = JobContext(catalog, Storage.on(store), clock, settings, new_owner_name("cli"))
    # Recorded already claimed by this process: a running server's runner must not take it.
    job = await start_collection(ctx)
    final = await run_claimed_job(ctx, job, {JobKind.COLLECT_GARBAGE: body})
    if final is None or final.state != "done" or not outcome:
        error = final.error if final else "its lease was lost"
        raise CommandFailed(f"garbage collection job {job.id} did not finish: {error}")
    return outcome[0], job.id


def _progress_printer() -> Report:
    def report(phase: str, done: int, total: int) -> None:
        print(f"\r{phase}: {done}/{total}\033[K", end="", file=sys.stderr, flush=True)

    return report


def _gc_summary(done: Collected, dry_run: bool, job_id: int | None) -> str:
    verb = "would delete" if dry_run else "deleted"
    head = "garbage collection (dry run)" if dry_run else f"garbage collection (job {job_id})"
    return (
        f"{head}: {verb} {done.manifests} manifest(s), {done.blobs} blob(s) "
        f"({_size(done.blob_bytes)}), {done.orphan_files} uncataloged file(s) "
        f"({_size(done.orphan_bytes)}); {'would free' if dry_run else 'freed'} "
        f"{_size(done.bytes_freed)} ({done.bytes_freed} bytes)"
    )


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# --- catalog commands -----------------------------------------------------------------------


async def with_catalog(settings: Settings, work: Callable[[CatalogBackend], Awaitable[int]]) -> int:
    # The reserve is kept here too: `gc` and the admin commands must work on a full disk.
    reserve = Reserve(settings.data_path, settings.storage.reserve_bytes)
    catalog = await open_catalog(settings, before_write=reserve.keep_room)
    try:
        return await work(catalog)
    finally:
        await catalog.close()


# --- argument parsing -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="registry-service",
        description="A container registry with GitLab's Container Registry API.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML configuration file (default: $REGISTRY_SERVICE_CONFIG, else built-in defaults)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve_p = sub.add_parser("serve", help="run the registry")
    serve_p.add_argument("--seed", type=Path, help="load this seed file before serving")
    serve_p.add_argument("--listen", help="host:port (overrides the configuration)")
    serve_p.add_argument("--data-dir", help="data directory (overrides the configuration)")
    serve_p.add_argument(
        "--workers",
        help="server processes sharing the port: a number, or auto (as server.workers)",
    )
    serve_p.add_argument(
        "--fixture",
        action="store_true",
        help="fixture mode (as fixture.enabled): settable clock, /-/fixture/ routes for tests",
    )
    sub.add_parser("worker", help="run an arq worker for background jobs (needs a Redis URL)")
    add_admin_parser(sub)
    add_migrate_catalog_parser(sub)
    seed_p = sub.add_parser("seed", help="load a fixture seed file into the catalog")
    seed_p.add_argument("file", type=Path)
    gc = sub.add_parser(
        "gc",
        help="collect garbage now: unreferenced manifests and blobs (safe while serving)",
        description="Delete untagged manifests and unused blobs past their grace periods "
        "(gc.manifest_grace_seconds, gc.blob_grace_seconds) and print what was freed.",
    )
    gc.add_argument("--dry-run", action="store_true", help="only count what would be freed")
    gc.add_argument("--json", action="store_true", help="print the counts as JSON")
    return parser


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = dict(os.environ if environ is None else environ)
    config = args.config or env.get("REGISTRY_SERVICE_CONFIG")
    try:
        settings = load(config, env)
        if args.command == "serve":
            if args.listen:
                settings = settings.replace("server", listen=args.listen)
            if args.data_dir:
                settings = settings.replace("server", data_dir=args.data_dir)
            if args.fixture:
                settings = settings.replace("fixture", enabled=True)
            if args.workers:
                settings = settings.replace("server", workers=args.workers)
    except SettingsInvalid as exc:
        print(f"registry-service: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings)
    try:
        if args.command == "serve":
            return serve(settings, args.seed)
        if args.command == "admin":
            return asyncio.run(with_catalog(settings, lambda c: run_admin(args, c)))
        if args.command == "seed":
            return asyncio.run(with_catalog(settings, lambda c: _seed(c, settings, args.file)))
        if args.command == "worker":
            return run_worker(settings)
        if args.command == "migrate-catalog":
            return asyncio.run(migrate_catalog(args))
        if args.command == "gc":
            return asyncio.run(
                with_catalog(settings, lambda c: run_gc(c, settings, args.dry_run, args.json))
            )
        raise AssertionError(f"unhandled command {args.command}")
    except SettingsInvalid as exc:  # also raised by serve for unusable TLS files
        print(f"registry-service: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (SeedInvalid, CommandFailed, ProvisioningFailed) as exc:
        print(f"registry-service: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, SeedInvalid) else EXIT_FAILED
    except OSError as exc:
        print(f"registry-service: {exc}", file=sys.stderr)
        return EXIT_FAILED


async def _seed(catalog: CatalogBackend, settings: Settings, path: Path) -> int:
    report = await seed_with_store(catalog, settings, path, SystemClock().now())
    print(f"seeded from {path}: created {report.summary()}")
    return EXIT_OK


async def seed_with_store(
    catalog: CatalogBackend, settings: Settings, path: Path, now: datetime
) -> SeedReport:
    """Load a seed file; its images' blobs go to the store in the data directory."""
    store = FilesystemBlobStore(settings.data_path)
    try:
        return await seed_file(catalog, path, now, store=store)
    finally:
        await store.aclose()
