"""The scheduler loop: moves scheduled maintenance along on time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from commands.context import Context
from commands.maintenance import advance_due_maintenance
from storage import deliveries as delivery_store
from storage.models import DeliveryState

log = logging.getLogger(__name__)


def pending_deliveries(ctx: Context) -> int:
    """How many deliveries wait in the outbox."""
    with ctx.sessions() as session:
        counts = delivery_store.count_deliveries_by_state(session=session)
    return counts.get(DeliveryState.PENDING, 0) + counts.get(DeliveryState.FAILED, 0)


async def tick(ctx: Context) -> None:
    """One pass of the scheduled jobs."""
    moved = await asyncio.to_thread(advance_due_maintenance, ctx)
    for incident_id in moved:
        log.info("maintenance INC-%s moved along by its schedule", incident_id)


async def run_worker(ctx: Context, stop: asyncio.Event, *, poll_seconds: float) -> None:
    """Tick until `stop` is set; a failing tick is logged and retried on the next one."""
    log.info(
        "worker started: %d deliveries wait in the outbox",
        await asyncio.to_thread(pending_deliveries, ctx),
    )
    while not stop.is_set():
        try:
            await tick(ctx)
        except Exception:
            log.exception("worker tick failed; trying again in %.1f s", poll_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
    log.info("worker stopped")
