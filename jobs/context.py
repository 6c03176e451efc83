"""What a job body may use: the catalog, the blob storage, the clock, the settings, and the
runner's identity (the owner name its leases are taken under)."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from registry_service.catalog.protocols import CatalogBackend
from registry_service.clock import Clock
from registry_service.services.blobs import Storage
from registry_service.settings import Settings


def new_owner_name(role: str) -> str:
    """Unique per runner process and start: host, pid and a random suffix."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class JobContext:
    catalog: CatalogBackend
    storage: Storage
    clock: Clock
    settings: Settings
    owner: str = field(default_factory=lambda: new_owner_name("runner"))
