"""The delivery worker: claims due deliveries, sends them within limits, records the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar, assert_never
from zoneinfo import ZoneInfo

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.database import did_not_answer
from bot.delivery import metrics
from bot.delivery.jobs import DeliveryJob, load_job, load_jobs
from bot.delivery.limits import SEND_DEADLINE, RateLimits
from bot.delivery.operations import (
    Failed,
    Fault,
    NotYet,
    Outcome,
    RetryAfter,
    Sent,
    operation_for,
)
from bot.delivery.outage import Outage
from bot.delivery.senders import Sender
from storage import channels as channel_store
from storage import outbox
from storage.audit import create_audit_event
from storage.models import Platform
from storage.platforms import spec

log = logging.getLogger(__name__)

T = TypeVar("T")

ChannelAlert = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class WorkerSettings:
    """How hard the worker tries, and for how long."""

    batch: int = 200
    concurrency: int = 200
    lease: timedelta = timedelta(seconds=90)
    horizon: timedelta = timedelta(hours=24)
    first_backoff: float = 5.0
    max_backoff: float = 3600.0
    poll_seconds: float = 1.0
    send_timeout: float = 60.0
    # While the database does not answer: first wait before trying a step again, doubling.
    database_retry: float = 0.25
    database_retry_most: float = 2.0


def backoff(attempts: int, settings: WorkerSettings) -> float:
    """Seconds before the next try: exponential, capped, with jitter so retries spread out."""
    ceiling = min(settings.max_backoff, settings.first_backoff * 2 ** max(0, attempts - 1))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not security)


class DeliveryWorker:
    """One worker; any number may run against PostgreSQL, one against SQLite."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        senders: Mapping[Platform, Sender],
        limits: RateLimits,
        *,
        zone: ZoneInfo,
        clock: Callable[[], datetime],
        settings: WorkerSettings | None = None,
        name: str = "worker",
        alert: ChannelAlert | None = None,
    ) -> None:
        self.sessions = sessions
        self.senders = senders
        self.limits = limits
        self.zone = zone
        self.clock = clock
        self.settings = settings or WorkerSettings()
        self.name = name
        self.alert = alert
        self._wake = asyncio.Event()
        self._said_not_loaded_together = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.outage = Outage(name)

    def wake(self) -> None:
        """Look for new deliveries now instead of at the next poll (from the worker's loop)."""
        self._wake.set()

    def wake_from_any_thread(self) -> None:
        """Like wake(), for handlers running in worker threads of the same process."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def _claim(self, limit: int) -> list[int]:
        with self.sessions() as session, session.begin():
            claimed = outbox.claim_deliveries(
                session=session,
                now=self.clock(),
                limit=limit,
                worker=self.name,
                lease=self.settings.lease,
                platforms=self.limits.platforms_to_claim(),
            )
            return [d.id for d in claimed if d.id is not None]

    def _write(self, action: Callable[[Session], object]) -> None:
        with self.sessions() as session, session.begin():
            action(session)

    async def _patiently(self, step: Callable[[], T]) -> T:
        """Run a database step in a thread, waiting out a database that does not answer.

        What a send did is known only to this worker until it is written down: given
        up, the delivery would be claimed again when its lease ends and sent twice.
        The task stays in flight meanwhile, so its claim is renewed as soon as the
        database answers.
        """
        delay = self.settings.database_retry
        while True:
            started = self.outage.now()
            try:
                result = await asyncio.to_thread(step)
            except Exception as error:
                if not did_not_answer(error):
                    raise
                self.outage.gone(error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.database_retry_most)
            else:
                self.outage.back(started)
                return result

    async def _record(self, action: Callable[[Session], object]) -> None:
        await self._patiently(lambda: self._write(action))

    async def _release(self, delivery_id: int, at: datetime) -> None:
        """Give a claimed delivery back untouched, to be tried again at `at`."""
        await self._record(
            lambda s: outbox.release_delivery(
                session=s, delivery_id=delivery_id, next_attempt_at=at, worker=self.name
            )
        )

    async def deliver(self, delivery_id: int, job: DeliveryJob | None = None) -> None:
        """Send one claimed delivery (loaded here unless given) and record what happened;
        never raises."""
        try:
            if job is None:
                job = await self._patiently(lambda: load_job(self.sessions, delivery_id, self.zone))
            if job is not None:
                await self._deliver(job)
        except Exception as error:
            retry_at = self.clock()
            if did_not_answer(error):
                # Its turn could not be booked: nothing went out, so it simply waits.
                self.outage.gone(error)
            else:
                log.exception("delivery %s: unexpected failure; it will be retried", delivery_id)
                retry_at += timedelta(seconds=self.settings.first_backoff)
            with contextlib.suppress(Exception):
                await self._release(delivery_id, retry_at)

    async def _deliver(self, job: DeliveryJob) -> None:
        platform = job.destination.platform
        sender = self.senders.get(platform)
        if sender is None:
            # Its platform is not configured in this process: leave it for one that is.
            await self._release(job.delivery_id, self.clock() + timedelta(seconds=60))
            return
        paused = self.limits.paused_until(sender.scope(job.destination))
        if paused is not None:
            await self._release(job.delivery_id, paused)
            return
        operation = operation_for(job, spec(platform).can)
        posted: list[str] = []
        outcome: Outcome = Sent()
        if operation is not None:
            try:
                async with asyncio.timeout(self.settings.send_timeout) as deadline:
                    token = SEND_DEADLINE.set(deadline)
                    try:
                        outcome = await sender.perform(operation, posted.append)
                    finally:
                        SEND_DEADLINE.reset(token)
            except TimeoutError:
                reason = f"no answer in {self.settings.send_timeout} s"
                outcome = Failed(reason, Fault.TIMED_OUT)
            except Exception:
                await self._keep_progress(job, posted)
                raise
        match outcome:
            case Sent():
                now = self.clock()
                sent = outcome
                await self._record(lambda s: self._sent(s, job, sent, now))
                metrics.SENT.labels(platform.value).inc()
            case NotYet(until=until):
                await self._keep_progress(job, posted)
                await self._release(job.delivery_id, until)
            case RetryAfter():
                await self._keep_progress(job, posted)
                await self._rate_limited(job, outcome)
            case Failed():
                await self._failed(job, outcome, posted)
            case _:
                assert_never(outcome)

    def _sent(self, session: Session, job: DeliveryJob, sent: Sent, at: datetime) -> None:
        recorded = outbox.record_sent(
            session=session, delivery_id=job.delivery_id, remote_ref=sent.ref, at=at
        )
        if recorded and sent.moved and sent.ref is not None:
            self._move_messages(session, job, sent.ref)

    def _move_messages(self, session: Session, job: DeliveryJob, ref: str) -> None:
        """The edited update now lives in the messages of `ref` on this channel."""
        outbox.set_message_ref(
            session=session,
            channel_id=job.destination.channel_id,
            update_id=job.edited_update_id,
            ref=ref,
        )

    async def _keep_progress(self, job: DeliveryJob, posted: list[str]) -> None:
        """Store the messages a post that stopped half-way already lives in."""
        if posted:
            await self._record(lambda s: self._save_progress(s, job, posted[-1]))

    def _save_progress(self, session: Session, job: DeliveryJob, progress: str) -> None:
        if job.revision == 0:
            outbox.save_progress(
                session=session, delivery_id=job.delivery_id, ref=progress, worker=self.name
            )
        elif outbox.holds_claim(session=session, delivery_id=job.delivery_id, worker=self.name):
            self._move_messages(session, job, progress)

    async def _rate_limited(self, job: DeliveryJob, limited: RetryAfter) -> None:
        platform = job.destination.platform.value
        metrics.FAILED.labels(platform, "rate_limited").inc()
        # The senders pause the scope themselves as they read the 429, to stop the
        # requests still waiting; the worker does it only for one that did not.
        until = self.limits.paused_until(limited.scope) or await self.limits.pause(
            limited.scope, limited.seconds
        )
        log.warning("%s: %s; pausing %s until %s", platform, limited.reason, limited.scope, until)
        metrics.RETRIED.labels(platform).inc()
        await self._record(
            lambda s: outbox.record_failure(
                session=s,
                delivery_id=job.delivery_id,
                error=limited.reason,
                next_attempt_at=until,
                counts_as_attempt=False,
                worker=self.name,
            )
        )

    async def _failed(self, job: DeliveryJob, failed: Failed, posted: list[str]) -> None:
        moved_to = failed.address if failed.fault == Fault.MOVED else None
        if moved_to is None:  # parts posted in the old chat stay there
            await self._keep_progress(job, posted)
        platform = job.destination.platform.value
        metrics.FAILED.labels(platform, failed.fault.value).inc()
        now = self.clock()
        delivery_id = job.delivery_id
        if moved_to is not None:
            log.info("channel %s moved to %s", job.destination.label, moved_to)
            await self._record(lambda s: self._move(s, job, moved_to))
        elif failed.fault == Fault.CHANNEL_GONE:
            await self._record(lambda s: self._disable(s, job, failed.reason))
            # A subscriber who blocked the bot or whose mailbox is gone is no news for the
            # responders: they see the count in `channels list`.
            if self.alert is not None and not job.destination.subscriber:
                with contextlib.suppress(Exception):
                    await self.alert(
                        f"Channel {job.destination.label} was disabled: {failed.reason}. Its "
                        f"updates wait; fix it, then: channels enable #{job.destination.channel_id}"
                    )
        else:
            dead = failed.fault == Fault.REJECTED or now - job.queued_at > self.settings.horizon
            retry = now + timedelta(seconds=backoff(job.attempts + 1, self.settings))
            (metrics.DEAD if dead else metrics.RETRIED).labels(platform).inc()
            log.warning(
                "delivery %s to %s %s: %s",
                delivery_id,
                job.destination.label,
                "is dead" if dead else f"failed, next try {retry:%H:%M:%S}",
                failed.reason,
            )
            await self._record(
                lambda s: outbox.record_failure(
                    session=s,
                    delivery_id=delivery_id,
                    error=failed.reason,
                    next_attempt_at=retry,
                    dead=dead,
                    worker=self.name,
                )
            )

    def _move(self, session: Session, job: DeliveryJob, address: str) -> None:
        taken = channel_store.get_channel_by_address(
            session=session, address=address, platform=job.destination.platform
        )
        if taken:
            # The new chat is followed already (added by hand, or an ops chat made when
            # an incident was opened there): this row has nowhere to move.
            self._disable(
                session,
                job,
                f"the group became a supergroup, which Herald follows as channel #{taken[0].id}",
            )
            return
        outbox.move_channel(session=session, channel_id=job.destination.channel_id, address=address)
        self._retry_now_and_audit(session, job, "channel_moved", {"address": address})

    def _disable(self, session: Session, job: DeliveryJob, reason: str) -> None:
        log.warning("channel %s disabled: %s", job.destination.channel_id, reason)
        outbox.disable_channel(
            session=session, channel_id=job.destination.channel_id, reason=reason
        )
        self._retry_now_and_audit(session, job, "channel_disabled", {"reason": reason})

    def _retry_now_and_audit(
        self, session: Session, job: DeliveryJob, action: str, detail: dict[str, str]
    ) -> None:
        """Put the delivery back in its queue and record what happened to its channel."""
        outbox.release_delivery(
            session=session,
            delivery_id=job.delivery_id,
            next_attempt_at=self.clock(),
            worker=self.name,
        )
        create_audit_event(
            session=session,
            actor="Herald",
            front_end="worker",
            action=action,
            at=self.clock(),
            detail={"channel": job.destination.channel_id, **detail},
        )

    async def run_once(self) -> int:
        """Claim one batch, deliver all of it, and return how many were claimed."""
        ids = await asyncio.to_thread(self._claim, self.settings.batch)
        jobs = await self._load_quietly(ids)
        await asyncio.gather(*(self.deliver(i, jobs.get(i)) for i in ids))
        return len(ids)

    async def drain(self, rounds: int = 10_000) -> int:
        """Deliver until nothing is due now; return how many deliveries were claimed."""
        total = 0
        for _ in range(rounds):
            claimed = await self.run_once()
            if not claimed:
                break
            total += claimed
        return total

    def _renew(self, delivery_ids: list[int]) -> None:
        until = self.clock() + self.settings.lease
        with self.sessions() as session, session.begin():
            outbox.renew_leases(
                session=session, delivery_ids=delivery_ids, worker=self.name, until=until
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, waking on new work or every poll interval.

        Claims still being sent are renewed every third of the lease: a long wait
        behind the rate limiter must not let a lease lapse, or the same delivery
        would be claimed and sent a second time.
        """
        inflight: dict[int, asyncio.Task[None]] = {}
        loop = self._loop = asyncio.get_running_loop()
        renew_every = self.settings.lease.total_seconds() / 3
        next_renewal = loop.time() + renew_every
        log.info("delivery worker %s started", self.name)
        while not stop.is_set():
            room = self.settings.concurrency - len(inflight)
            # First thing once the database answers: keep the claims of sends under way
            # (their outcomes wait to be written), before anyone takes them over.
            if self.outage.down and inflight and await self._renew_quietly(list(inflight)):
                next_renewal = loop.time() + renew_every
            if room > 0:
                ids = await self._claim_quietly(min(room, self.settings.batch))
                jobs = await self._load_quietly(ids)
                for delivery_id in ids:
                    # A task that ended while the claim ran may have put its row back
                    # for an immediate retry: claimed again, it needs a new task.
                    running = inflight.get(delivery_id)
                    if running is None or running.done():
                        inflight[delivery_id] = asyncio.create_task(
                            self.deliver(delivery_id, jobs.get(delivery_id))
                        )
            self._wake.clear()
            waiters: set[asyncio.Future[object]] = {
                asyncio.ensure_future(self._wake.wait()),
                asyncio.ensure_future(stop.wait()),
            }
            await asyncio.wait(
                waiters | set(inflight.values()),
                timeout=min(self.settings.poll_seconds, renew_every),
                return_when=asyncio.FIRST_COMPLETED,
            )
            for waiter in waiters:
                waiter.cancel()
            inflight = {i: task for i, task in inflight.items() if not task.done()}
            if inflight and loop.time() >= next_renewal:
                renewed = await self._renew_quietly(list(inflight))
                # Not renewed: try again at the next poll, not a third of a lease later.
                next_renewal = loop.time() + (renew_every if renewed else 0.0)
        # Stopping: let the sends under way finish, their leases still renewed, so
        # that no other worker takes them over meanwhile.
        give_up = loop.time() + self.settings.send_timeout
        while inflight and loop.time() < give_up:
            await asyncio.wait(
                inflight.values(), timeout=min(renew_every, max(0.0, give_up - loop.time()))
            )
            inflight = {i: task for i, task in inflight.items() if not task.done()}
            if inflight:
                await self._renew_quietly(list(inflight))
        if inflight:
            # Their outcomes were never written (the database did not answer): once their
            # leases end they are sent again, and those already sent appear twice.
            log.warning(
                "delivery worker %s stopped with deliveries %s unrecorded; they will be sent "
                "again when their leases end",
                self.name,
                ", ".join(str(i) for i in sorted(inflight)),
            )
        log.info("delivery worker %s stopped", self.name)

    async def _claim_quietly(self, limit: int) -> list[int]:
        started = self.outage.now()
        try:
            ids = await asyncio.to_thread(self._claim, limit)
        except Exception as error:
            if did_not_answer(error):
                self.outage.gone(error)
            else:
                log.exception("could not claim deliveries; trying again shortly")
            return []
        self.outage.back(started)
        return ids

    async def _load_quietly(self, delivery_ids: list[int]) -> dict[int, DeliveryJob]:
        """The claimed deliveries loaded together, their shared parts read once; empty
        when that fails, and each delivery then loads itself, patiently."""
        if not delivery_ids:
            return {}
        try:
            return await asyncio.to_thread(load_jobs, self.sessions, delivery_ids, self.zone)
        except Exception as error:
            if did_not_answer(error) or self._said_not_loaded_together:
                log.debug("deliveries %s not loaded together: %s", delivery_ids, error)
            else:
                # A bug, said once: from now on each delivery may load itself, slowly.
                self._said_not_loaded_together = True
                log.exception("deliveries %s not loaded together", delivery_ids)
            return {}

    async def _renew_quietly(self, delivery_ids: list[int]) -> bool:
        """Renew the claims of sends under way; False when the database did not take it."""
        started = self.outage.now()
        try:
            await asyncio.to_thread(self._renew, delivery_ids)
        except Exception as error:
            if did_not_answer(error):
                self.outage.gone(error)
            else:
                log.exception("could not renew the leases of deliveries in flight")
            return False
        self.outage.back(started)
        return True
