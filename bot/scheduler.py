"""The scheduler: one loop that moves maintenance along, reminds, nudges and posts the digest.

Every process that runs it (`herald serve`, any number of `herald worker`) competes for
one database lease; only its holder fires jobs, so each fires once. The jobs keep their
own state in the database too (a reminder or nudge is claimed on its incident row, a
digest on a scheduled_run row), so a lease that changes hands mid-tick, or a restart,
neither repeats nor loses a firing: the next holder finds what is due and not yet done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from bot.database import did_not_answer
from bot.settings import Settings
from commands.context import Context
from commands.digest import build_digest, digest_text, last_complete_week, week_of_day
from commands.errors import Refused
from commands.maintenance import advance_due_maintenance, remind_due_maintenance
from commands.nudges import nudge_quiet_incidents
from storage import deliveries as delivery_store
from storage import leases as lease_store
from storage import schedules as schedule_store
from storage.models import DeliveryState

log = logging.getLogger(__name__)

LEASE = "scheduler"
LEASE_SECONDS = 30.0
# A digest older than this is news nobody wants: skipped, with a log line.
DIGEST_DEADLINE = timedelta(days=1)
# How long an attempt at posting the digest is held before another may try (a process
# that died mid-post); longer than the longest post, 429 waits included.
ATTEMPT_HOLD = timedelta(minutes=5)
RETRY_CAP = timedelta(hours=1)
# How long a stop waits for a digest being posted before it cuts it short.
STOP_GRACE_SECONDS = 10.0

PostDigest = Callable[[Settings, str, str, bytes, str], Awaitable[list[str]]]


def pending_deliveries(ctx: Context) -> int:
    """How many deliveries wait in the outbox."""
    with ctx.sessions() as session:
        counts = delivery_store.count_deliveries_by_state(session=session)
    return counts.get(DeliveryState.PENDING, 0) + counts.get(DeliveryState.FAILED, 0)


def digest_due_at(cron: str, now: datetime, settings: Settings) -> datetime:
    """The latest moment at or before `now` that `cron` names, read in TIMEZONE."""
    # croniter's get_prev is strictly before its start: a microsecond later counts `now`.
    start = (now + timedelta(microseconds=1)).astimezone(settings.zone)
    return croniter(cron, start).get_prev(datetime).astimezone(UTC)


@dataclass(frozen=True)
class DigestTarget:
    """One destination of the digest, fired and retried on its own."""

    job: str
    settings: Settings


def digest_targets(settings: Settings) -> list[DigestTarget]:
    """Slack and Telegram as separate jobs, so one's failure never re-posts the other."""
    targets = []
    if settings.digest_slack_channel:
        only = settings.model_copy(update={"digest_telegram_chat": None})
        targets.append(DigestTarget("digest:slack", only))
    if settings.digest_telegram_chat:
        only = settings.model_copy(update={"digest_slack_channel": None})
        targets.append(DigestTarget("digest:telegram", only))
    return targets


class Scheduler:
    """The scheduled jobs of one process; `tick()` runs whatever is due, if it leads."""

    def __init__(
        self,
        settings: Settings,
        ctx: Context,
        *,
        holder: str | None = None,
        post_digest: PostDigest | None = None,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._post_digest = post_digest
        self._pause = pause
        self._leading: bool | None = None  # unknown until the first tick
        # The digest rendered for a due moment, kept for its retries.
        self._rendered: tuple[datetime, tuple[str, str, bytes, str]] | None = None
        self._digest_task: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        """One pass: take or renew the lease, fire the jobs that are due, and start the
        digest in the background when it is due (a slow post holds up nothing else)."""
        if not await asyncio.to_thread(self._lead):
            return
        queued = False
        for name, job in (
            ("maintenance steps", self._maintenance_steps),
            ("maintenance reminders", self._reminders),
            ("quiet-incident nudges", self._nudges),
        ):
            try:
                queued = bool(await asyncio.to_thread(job)) or queued
            except Exception as error:
                if did_not_answer(error):
                    raise  # said once by run_scheduler, not once per job and tick
                log.exception("scheduler: %s failed; trying again at the next tick", name)
        if queued and self.ctx.changed is not None:
            self.ctx.changed()
        idle = self._digest_task is None or self._digest_task.done()
        if idle and digest_targets(self.settings):
            self._digest_task = asyncio.create_task(self._digests_logged())

    async def settle(self, grace: float | None = None) -> None:
        """Wait for a digest under way, if any, for at most `grace` seconds; then stop it
        (its attempt stays held, and the next leader tries again after ATTEMPT_HOLD)."""
        task = self._digest_task
        if task is None or task.done():
            return
        await asyncio.wait({task}, timeout=grace)
        if not task.done():
            task.cancel()
            log.warning(
                "scheduler: stopped while posting the digest; it is tried again in %s",
                ATTEMPT_HOLD,
            )
        await asyncio.gather(task, return_exceptions=True)

    async def _digests_logged(self) -> None:
        try:
            await self._digests()
        except Exception as error:
            if not did_not_answer(error):
                log.exception("scheduler: the weekly digest failed; trying again later")

    def release(self) -> None:
        """Give the lease up, so a standby process takes over at once."""
        with self.ctx.sessions() as session, session.begin():
            lease_store.release_lease(session=session, name=LEASE, holder=self.holder)
        self._leading = None

    def _lead(self) -> bool:
        with self.ctx.sessions() as session, session.begin():
            leading = lease_store.acquire_lease(
                session=session,
                name=LEASE,
                holder=self.holder,
                now=self.ctx.now(),
                seconds=LEASE_SECONDS,
            )
        if leading != self._leading:
            log.info(
                "scheduler: %s",
                "this process fires the scheduled jobs"
                if leading
                else "another process fires the scheduled jobs; standing by",
            )
            self._leading = leading
        return leading

    def _maintenance_steps(self) -> list[int]:
        moved = advance_due_maintenance(self.ctx)
        for incident_id in moved:
            log.info("maintenance INC-%s moved along by its schedule", incident_id)
        return moved

    def _reminders(self) -> list[int]:
        reminded = remind_due_maintenance(self.ctx)
        for incident_id in reminded:
            log.info("maintenance INC-%s: customers reminded of its window", incident_id)
        return reminded

    def _nudges(self) -> list[int]:
        if not self.settings.quiet_minutes:
            return []
        nudged = nudge_quiet_incidents(self.ctx, self.settings.quiet_minutes)
        for incident_id in nudged:
            log.info("INC-%s: responders nudged, customers heard nothing for a while", incident_id)
        return nudged

    async def _digests(self) -> None:
        targets = digest_targets(self.settings)
        if not targets:
            return
        now = self.ctx.now()
        due = digest_due_at(self.settings.digest_cron, now, self.settings)
        # A firing is keyed by the week it covers, so a changed DIGEST_CRON, or a cron
        # moment that an autumn night repeats, never posts one week twice.
        week = last_complete_week(due, self.settings.zone).midnights(self.settings.zone)[0]
        taken = [
            t for t in targets if await asyncio.to_thread(self._take_digest, t.job, week, due, now)
        ]
        if not taken:
            return
        try:
            title, text, png, filename = await asyncio.to_thread(self._render_digest, week)
        except Exception as error:
            for target in taken:
                await asyncio.to_thread(self._failed, target.job, week, now, error)
            raise
        for target in taken:
            try:
                lines = await self._post(target.settings, title, text, png, filename)
            except Exception as error:
                await asyncio.to_thread(self._failed, target.job, week, now, error)
            else:
                await self._record_posted(target.job, week, "; ".join(lines))

    def _take_digest(self, job: str, week: datetime, due: datetime, now: datetime) -> bool:
        """Record the week's firing when first seen; True when this process posts it now."""
        late = now - due
        with self.ctx.sessions() as session, session.begin():
            run = schedule_store.get_run(session=session, job=job, due_at=week)
            if run is None:
                first = not schedule_store.list_runs(session=session, job=job)
                if first or late > DIGEST_DEADLINE:
                    # A new install (or destination) has missed nothing; a digest more
                    # than a day late is news nobody wants.
                    outcome = "skipped: first start" if first else "skipped: missed"
                    if schedule_store.claim_run(
                        session=session, job=job, due_at=week, now=now, finished=outcome
                    ):
                        self._say_skipped(job, due, now, first=first)
                    return False
                schedule_store.claim_run(session=session, job=job, due_at=week, now=now)
            elif run.finished_at is None and late > DIGEST_DEADLINE:
                schedule_store.finish_run(
                    session=session,
                    job=job,
                    due_at=week,
                    now=now,
                    outcome="gave up: " + run.outcome,
                )
                log.warning(
                    "%s due at %s gave up after %d attempts over a day: %s",
                    job,
                    due.isoformat(timespec="minutes"),
                    run.attempts,
                    run.outcome,
                )
                return False
            return schedule_store.take_attempt(
                session=session, job=job, due_at=week, now=now, until=now + ATTEMPT_HOLD
            )

    def _say_skipped(self, job: str, due: datetime, now: datetime, *, first: bool) -> None:
        upcoming = croniter(self.settings.digest_cron, now.astimezone(self.settings.zone))
        following = upcoming.get_next(datetime).isoformat(timespec="minutes")
        if first:
            # A new install, or a destination just set: nothing was missed.
            log.info("%s: the first digest is due at %s", job, following)
            return
        log.warning(
            "%s due at %s was missed by more than a day (Herald was not running); "
            "skipped: the next one is due at %s",
            job,
            due.isoformat(timespec="minutes"),
            following,
        )

    def _render_digest(self, week_start: datetime) -> tuple[str, str, bytes, str]:
        from bot.digest.chart import chart_filename, render_chart
        from commands.digest import digest_title

        if self._rendered is not None and self._rendered[0] == week_start:
            return self._rendered[1]
        week = week_of_day(week_start.astimezone(self.settings.zone).date())
        digest = build_digest(self.ctx, week, self.settings.public_url, self.settings.site_name)
        rendered = digest_title(digest), digest_text(digest), render_chart(digest)
        self._rendered = week_start, (*rendered, chart_filename(digest))
        return self._rendered[1]

    async def _post(
        self, settings: Settings, title: str, text: str, png: bytes, name: str
    ) -> list[str]:
        if self._post_digest is not None:
            return await self._post_digest(settings, title, text, png, name)
        from bot.digest.post import post_digest

        return await post_digest(settings, title, text, png, name)

    def _failed(self, job: str, week: datetime, now: datetime, error: BaseException) -> None:
        """Try again later when that is safe and may help; otherwise the firing is over."""
        reason = error.message if isinstance(error, Refused) else f"{type(error).__name__}: {error}"
        from bot.digest.post import DigestNotPosted

        if isinstance(error, DigestNotPosted) and not error.retry:
            with self.ctx.sessions() as session, session.begin():
                schedule_store.finish_run(
                    session=session, job=job, due_at=week, now=now, outcome="failed: " + reason
                )
            log.warning("%s not posted, and not tried again: %s", job, reason)
            return
        with self.ctx.sessions() as session, session.begin():
            run = schedule_store.get_run(session=session, job=job, due_at=week)
            attempts = run.attempts if run is not None else 1
            wait = min(timedelta(minutes=1) * 2 ** max(attempts - 1, 0), RETRY_CAP)
            schedule_store.postpone_run(
                session=session, job=job, due_at=week, next_attempt_at=now + wait, outcome=reason
            )
        log.warning("%s failed (attempt %d), trying again in %s: %s", job, attempts, wait, reason)

    async def _record_posted(self, job: str, week: datetime, outcome: str) -> None:
        """Record a post, however long the database takes to answer: posting it again
        because the record failed would give managers the week twice."""
        delay = 1.0
        while True:
            try:
                await asyncio.to_thread(self._finish, job, week, outcome)
                return
            except Exception as error:
                if not did_not_answer(error):
                    raise
                if delay == 1.0:
                    log.warning(
                        "%s posted, but the database does not answer; recording it when it "
                        "does (it is not posted again)",
                        job,
                    )
            await self._pause(delay)
            delay = min(delay * 2, 30.0)

    def _finish(self, job: str, due: datetime, outcome: str) -> None:
        with self.ctx.sessions() as session, session.begin():
            schedule_store.finish_run(
                session=session, job=job, due_at=due, now=self.ctx.now(), outcome=outcome
            )
        log.info("%s posted: %s", job, outcome)


async def run_scheduler(
    scheduler: Scheduler,
    stop: asyncio.Event,
    *,
    poll_seconds: float,
    stop_grace: float = STOP_GRACE_SECONDS,
) -> None:
    """Tick until `stop` is set; a failing tick is logged and retried on the next one, and a
    database that does not answer is said once when it goes and once when it is back."""
    log.info("scheduler started: %d deliveries wait in the outbox", await _waiting(scheduler))
    down = False
    while not stop.is_set():
        try:
            await scheduler.tick()
        except Exception as error:
            if not did_not_answer(error):
                log.exception("scheduler tick failed; trying again in %.1f s", poll_seconds)
            elif not down:
                log.warning(
                    "scheduler: the database does not answer (%s); trying every %.1f s",
                    type(error).__name__,
                    poll_seconds,
                )
            down = down or did_not_answer(error)
        else:
            if down:
                log.info("scheduler: the database answers again")
            down = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
    await scheduler.settle(grace=stop_grace)
    with contextlib.suppress(Exception):
        await asyncio.to_thread(scheduler.release)
    log.info("scheduler stopped")


async def _waiting(scheduler: Scheduler) -> int:
    try:
        return await asyncio.to_thread(pending_deliveries, scheduler.ctx)
    except Exception as error:
        if not did_not_answer(error):
            raise
        return 0
