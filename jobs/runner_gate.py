"""Which in-process job runner of a catalog is the active one: the holder of the catalog lease
``jobs-runner``.

Every ``serve`` builds a runner (each child of ``--workers``, separate processes on one data
directory, replicas on other hosts sharing one catalog); only the one whose gate holds the lease
sweeps and claims. The holder renews it every ``renew`` and counts itself active only until the
lease it last wrote runs out by its own clock, so a holder that cannot renew (a stall, a lost
catalog) stops claiming before anyone else may take over; a renewal that finds the lease taken
makes it step down at once. A standby tries to take the lease at each of its own ticks, so an
expired lease passes on within one tick. Clocks of the hosts must agree to well within
``lease - renew`` (NTP), as they must for job leases already.

Why not the ``flock`` this replaced (``<data>/jobs-runner.lock``): it says nothing to a process on
another host, and on a network filesystem its meaning depends on the mount. One file lock stays,
for one thing only, proof of death on this host: each runner holds ``flock`` on its own file,
``<runners>/<owner>.lock``, for as long as it lives, and the kernel drops it when the process dies
(SIGKILL included). A runner that can lock another runner's file knows that runner is dead, so it
takes that runner's lease over at once instead of waiting it out (a restart after a crash, a
``--workers`` child killed), and returns that runner's running jobs to the queue at once instead
of leaving them to their job leases. Only files of runners of this host are trusted (an owner
name carries its host): a network filesystem may drop a live client's lock. Every other case (a
runner on another host, a process stalled but alive) waits for the lease to expire, which is
always safe; job leases (``execute.py``) still guard each job on top of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from datetime import datetime, timedelta
from pathlib import Path

from registry_service.catalog import jobs as job_rows
from registry_service.catalog import leases
from registry_service.catalog.protocols import CatalogBackend
from registry_service.clock import Clock
from registry_service.storage import file_locks

log = logging.getLogger("registry_service.jobs")

LEASE_NAME = "jobs-runner"
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._:-]")


def lock_file_name(owner: str) -> str:
    """The name of the file a runner keeps locked while it lives."""
    return _UNSAFE_IN_FILE_NAME.sub("_", owner) + ".lock"


def owner_host(owner: str) -> str | None:
    """The host an owner name (``role:host:pid:suffix``, ``jobs.context``) was made on."""
    parts = owner.split(":")
    return parts[1] if len(parts) == 4 else None


class RunnerGate:
    """Takes, renews and releases the ``jobs-runner`` lease for one runner (``owner``)."""

    def __init__(
        self,
        catalog: CatalogBackend,
        clock: Clock,
        owner: str,
        *,
        lease: timedelta,
        renew: timedelta,
        runners_dir: Path | None = None,
    ) -> None:
        """``runners_dir``: where runners of this data directory keep their lock files (None:
        no proof of death, every takeover waits for the lease to expire)."""
        if renew >= lease:
            raise ValueError("a runner must renew its lease before the lease runs out")
        self.owner = owner
        self.lease = lease
        self.renew = renew
        self._catalog = catalog
        self._clock = clock
        self._runners_dir = runners_dir
        self._held_until: datetime | None = None
        self._own_lock: int | None = None
        self._known_dead: set[str] = set()

    @property
    def active(self) -> bool:
        """Whether the last tick took or renewed the lease."""
        return self._held_until is not None

    def holds(self) -> bool:
        """Whether this runner may claim work now: active, and its lease not yet run out."""
        return self._held_until is not None and self._clock.now() < self._held_until

    async def open(self) -> None:
        """Lock this runner's own file (its proof of life) and forget dead runners' files."""
        if self._runners_dir is None or self._own_lock is not None:
            return
        self._own_lock = await asyncio.to_thread(
            _create_locked, self._runners_dir, lock_file_name(self.owner)
        )
        own = self._runners_dir / lock_file_name(self.owner)
        for path in await asyncio.to_thread(sorted, self._runners_dir.glob("*.lock")):
            if path != own and owner_host(path.name) == socket.gethostname():
                await self._probe(path)

    async def tick(self) -> bool:
        """Take or renew the lease; whether this runner is now the active one."""
        now = self._clock.now()
        until = now + self.lease
        holder = await leases.select_lease(self._catalog.reader, LEASE_NAME)
        dead_holder = None
        if (
            holder is not None
            and holder.owner != self.owner
            and holder.expires_at > now
            and await self._is_dead(holder.owner)
        ):
            dead_holder = holder.owner
        async with self._catalog.transaction() as tx:
            held = await leases.acquire_lease(tx, LEASE_NAME, self.owner, until, now)
            if not held and dead_holder is not None:
                held = await leases.take_over_lease(tx, LEASE_NAME, self.owner, dead_holder, until)
        was_active = self.active
        self._held_until = until if held else None
        if held and not was_active:
            log.info(
                "job runner active: this process runs the catalog's jobs (lease %s as %s%s)",
                LEASE_NAME,
                self.owner,
                f", from dead {dead_holder}" if dead_holder else "",
            )
            await self._release_jobs_of_dead_runners()
        elif was_active and not held:
            log.info("job runner stepping down: lease %s was taken by another runner", LEASE_NAME)
        return held

    def lapse(self) -> None:
        """After a failed tick: step down if the lease ran out meanwhile (a lost catalog)."""
        if self._held_until is not None and self._clock.now() >= self._held_until:
            self._held_until = None
            log.info("job runner stepping down: lease %s ran out unrenewed", LEASE_NAME)

    async def close(self) -> None:
        """Hand over: this runner's running jobs back to the queue, the lease released (the
        caller has stopped its jobs); then its lock file goes."""
        try:
            if self._held_until is not None:
                self._held_until = None
                async with self._catalog.transaction() as tx:
                    released = await job_rows.release_jobs_of_runner(tx, self.owner)
                    await leases.release_lease(tx, LEASE_NAME, self.owner)
                log.info(
                    "job runner stepping down: stopping (lease %s released, %d job(s) requeued)",
                    LEASE_NAME,
                    released,
                )
        finally:
            if self._own_lock is not None and self._runners_dir is not None:
                own = self._runners_dir / lock_file_name(self.owner)
                with contextlib.suppress(FileNotFoundError):
                    own.unlink()
                file_locks.unlock(self._own_lock)
                self._own_lock = None

    async def _release_jobs_of_dead_runners(self) -> None:
        owners = await job_rows.select_running_job_owners(self._catalog.reader)
        runners = sorted({owner.split("/", 1)[0] for owner in owners} - {self.owner})
        dead = [runner for runner in runners if await self._is_dead(runner)]
        if not dead:
            return
        async with self._catalog.transaction() as tx:
            released = 0
            for runner in dead:
                released += await job_rows.release_jobs_of_runner(tx, runner)
        if released:
            log.info("resuming %d job(s) interrupted by the crash of %s", released, ", ".join(dead))

    async def _is_dead(self, owner: str) -> bool:
        name = lock_file_name(owner)
        if name in self._known_dead:
            return True
        if self._runners_dir is None or owner_host(owner) != socket.gethostname():
            return False
        return await self._probe(self._runners_dir / name)

    async def _probe(self, path: Path) -> bool:
        """Whether the runner of ``path`` is dead (its lock is free); a dead one's file goes."""
        dead = await asyncio.to_thread(_take_dead_lock_file, path)
        if dead:
            self._known_dead.add(path.name)
        return dead


def _create_locked(directory: Path, name: str) -> int:
    """Create ``directory/name`` already locked: made and locked under a temporary name, then
    renamed, so no prober ever finds it unlocked and takes a starting runner for a dead one."""
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{name}.new"
    fd = file_locks.try_lock(temporary)
    if fd is None:
        raise RuntimeError(f"{temporary} is locked by another process")  # names are unique
    temporary.rename(directory / name)
    return fd


def _take_dead_lock_file(path: Path) -> bool:
    try:
        fd = file_locks.try_lock(path, create=False)
    except FileNotFoundError:
        return False  # gone: its runner stopped cleanly, or another standby took it
    if fd is None:
        return False
    try:
        path.unlink(missing_ok=True)  # while still locked: nobody mistakes a fresh file for it
    finally:
        file_locks.unlock(fd)
    return True
