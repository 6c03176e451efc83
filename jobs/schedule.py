"""The periodic part of every runner's sweep: start what is due by the clock.

The in-process runner, each arq worker and fixture mode's run-jobs call this before they look
for due jobs, so a garbage collection and the cleanup policies start the same way whichever
runs them. Both steps decide and insert in one write transaction: several sweeps racing start
each run once.
"""

from __future__ import annotations

from datetime import datetime

from jobs.cleanup import Anchoring
from jobs.gc import schedule_collection
from jobs.policies import schedule_due_policies
from registry_service.catalog.protocols import CatalogBackend
from registry_service.services.jobs import JobQueue
from registry_service.settings import Settings


async def schedule_due_work(
    catalog: CatalogBackend, queue: JobQueue, settings: Settings, now: datetime
) -> None:
    await schedule_collection(catalog, queue, settings.gc, now)
    await schedule_due_policies(
        catalog, queue, now, anchoring=Anchoring(settings.cleanup.regex_anchoring)
    )
