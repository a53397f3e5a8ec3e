"""Long polling in exactly one process: a lease in the database, a standby waiting for it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

import sqlalchemy.exc
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from telegram import Bot, Update
from telegram.error import Conflict, TelegramError

from bot.database import did_not_answer
from bot.telegram.intake import UpdateIntake
from storage.leases import acquire_lease, release_lease

log = logging.getLogger(__name__)

# The poller renews its lease every poll; a standby takes over within LEASE + STANDBY seconds
# of the poller's death, and at once when it stops cleanly and releases the lease.
LEASE_SECONDS = 10.0
POLL_SECONDS = 3
STANDBY_SECONDS = 1.0
BACK_OFF = (1.0, 2.0, 5.0, 10.0, 30.0)


class Poller:
    """Reads updates with getUpdates while it holds the lease, resuming after the last claimed."""

    def __init__(
        self,
        bot: Bot,
        intake: UpdateIntake,
        sessions: sessionmaker[Session],
        *,
        lease: str,
        allowed_updates: Sequence[str],
        clock: Callable[[], datetime],
    ) -> None:
        self.bot = bot
        self.intake = intake
        self.sessions = sessions
        self.lease = lease
        self.allowed_updates = list(allowed_updates)
        self.clock = clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = False
        self.leaseless = False
        self._failures = 0

    def _acquire(self) -> bool:
        with self.sessions() as session, session.begin():
            return acquire_lease(
                session=session,
                name=self.lease,
                holder=self.holder,
                now=self.clock(),
                seconds=LEASE_SECONDS,
            )

    def _release(self) -> None:
        with self.sessions() as session, session.begin():
            release_lease(session=session, name=self.lease, holder=self.holder)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop`, as the one poller or as a standby."""
        offset: int | None = None
        standby_said = False
        try:
            while not stop.is_set():
                try:
                    leading = await asyncio.to_thread(self._acquire)
                except sqlalchemy.exc.SQLAlchemyError as error:
                    if not (self.leading and did_not_answer(error)):
                        await self._pause(
                            stop, f"the database did not answer ({type(error).__name__})"
                        )
                        continue
                    # No standby can take the lease while the database is away from all:
                    # go on reading, so that commands sent meanwhile are answered at once.
                    # If it is away from this process only, a standby takes the lease and
                    # polls too; Telegram then answers one of the two 409, and this one,
                    # reading without a lease, steps down at its first.
                    self.leaseless = True
                    leading = True
                else:
                    self.leaseless = False
                if not leading:
                    if self.leading:
                        log.warning("Telegram polling: another process took over")
                    self.leading = False
                    if not standby_said:
                        log.info("Telegram polling: standby, another process is polling")
                        standby_said = True
                    await _wait(stop, STANDBY_SECONDS)
                    continue
                if not self.leading:
                    offset = await self._take_over()
                    if offset is None and not self.leading:
                        await self._pause(stop, "Telegram did not answer")
                        continue
                standby_said = False
                offset = await self._poll_once(stop, offset)
        finally:
            if self.leading:
                with contextlib.suppress(sqlalchemy.exc.SQLAlchemyError):
                    await asyncio.to_thread(self._release)

    async def _take_over(self) -> int | None:
        try:
            # getUpdates answers 409 while a webhook is set.
            await self.bot.delete_webhook()
            last = await asyncio.to_thread(self.intake.last_handled)
            await asyncio.to_thread(self.intake.forget_old)
        except (TelegramError, sqlalchemy.exc.SQLAlchemyError) as error:
            log.warning("Telegram polling not started: %s", str(error)[:200])
            return None
        self.leading = True
        log.info("Telegram polling: this process reads the updates (after update %s)", last)
        return None if last is None else last + 1

    async def _poll_once(self, stop: asyncio.Event, offset: int | None) -> int | None:
        polling = asyncio.ensure_future(
            self.bot.get_updates(
                offset=offset, timeout=POLL_SECONDS, allowed_updates=self.allowed_updates
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not polling.done():
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await polling
            return offset
        try:
            updates: tuple[Update, ...] = polling.result()
        except Conflict as error:
            if self.leaseless:
                log.warning("Telegram polling: another process polls with the lease; standing by")
                self.leading = self.leaseless = False
                return offset
            await self._pause(stop, f"another getUpdates reader ({error.message})")
            return offset
        except TelegramError as error:
            await self._pause(stop, f"{type(error).__name__}: {str(error)[:200]}")
            return offset
        self._failures = 0
        for update in updates:
            try:
                await self.intake.take(update)
            except sqlalchemy.exc.SQLAlchemyError as error:
                # Not confirmed to Telegram: the same updates come again once it answers.
                await self._pause(stop, f"the database failed ({type(error).__name__})")
                return offset
            offset = update.update_id + 1
        if self.intake.unclaimed:
            await self._confirm(offset)
        return offset

    async def _confirm(self, offset: int | None) -> None:
        """Tell Telegram now that the updates before `offset` are read, instead of at the next
        poll: an update run unclaimed must never come back (this process may stop first)."""
        self.intake.unclaimed = False
        with contextlib.suppress(TelegramError):
            # Whatever it returns stays unconfirmed, for the next poll to read.
            await self.bot.get_updates(offset=offset, timeout=0, limit=1)

    async def _pause(self, stop: asyncio.Event, why: str) -> None:
        wait = BACK_OFF[min(self._failures, len(BACK_OFF) - 1)]
        if self._failures == 0:
            log.warning("Telegram polling paused: %s; retrying", why)
        self._failures += 1
        await _wait(stop, wait)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
