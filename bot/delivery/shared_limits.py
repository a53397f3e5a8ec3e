"""Rate budgets and 429 pauses kept in PostgreSQL, so any number of workers share one limit."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.delivery.errors import Paused
from bot.delivery.limits import RateLimits, RateSettings, extend_deadline, telegram_is_group
from storage import budgets as shared
from storage.models import Platform

log = logging.getLogger(__name__)

# How long before its turn a request asks whether a 429 paused its scope meanwhile:
# about as long as a request is in flight, the time in which a 429 cannot stop it anyway.
CHECK_AHEAD = 0.25
# A request that wakes this late for its turn books another: sent late, it would land in
# the same second as the next worker's on-time requests, and the platform counts both.
LATE = 0.010
REBOOKS = 3


class ClockOffset:
    """The database's clock less this process's, from the booking answered fastest.

    A booking reads the database's clock somewhere between asking and hearing back,
    so the quicker the round trip, the better that moment is known. The tightest one
    is kept (a round trip slowed by a busy machine says little), and replaced now and
    then as clocks drift.
    """

    KEEP_SECONDS = 30.0

    def __init__(self) -> None:
        self.value = 0.0
        self._spread = math.inf
        self._taken = -math.inf

    def learn(self, database: float, asked: float, answered: float) -> None:
        """Take a reading of the database's clock made between `asked` and `answered`."""
        spread = answered - asked
        if spread <= self._spread or answered - self._taken > self.KEEP_SECONDS:
            self.value = database - (asked + answered) / 2
            self._spread, self._taken = spread, answered


class SharedRateLimits(RateLimits):
    """Book every Telegram and Slack request in a budget all worker processes share.

    A request books its chat's next turn and, once that is near, the bot token's next
    turn; it waits for them and checks once more that no process has read a 429
    meanwhile. A turn is a moment on the database's clock, waited for on this
    process's clock through their offset: a wait measured from the booking would
    start late by the booking's round trip, and a late request crowds the next
    process's on-time one into the same second. Webhooks keep the per-process
    limiter: receivers share no limit, so their deliveries spread over every worker.
    """

    def __init__(
        self,
        rates: RateSettings,
        *,
        clock: Callable[[], datetime],
        sessions: sessionmaker[Session],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        shared_clock: Callable[[], float | None] = lambda: None,
        local_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(rates, clock=clock)
        self.sessions = sessions
        self._sleep = sleep
        # None reads the database's clock; tests stand a fake one in.
        self._shared_clock = shared_clock
        self._local = local_clock
        self.offset = ClockOffset()

    def budgets(self, platform: Platform, address: str) -> list[tuple[str, float]]:
        """The shared budgets one request to `address` spends: (name, seconds apart)."""
        if platform == Platform.TELEGRAM:
            chat = (
                self.rates.telegram_group_interval
                if telegram_is_group(address)
                else self.rates.telegram_chat_interval
            )
            token = 1 / self.rates.telegram_per_second
            return [(f"telegram:chat:{address}", chat), ("telegram:token", token)]
        return [
            (f"slack:channel:{address}", self.rates.slack_channel_interval),
            ("slack:token", 1 / self.rates.slack_per_second),
        ]

    async def acquire(self, platform: Platform, address: str, scope: str) -> None:
        """Wait for this request's turn in the shared budgets; raise Paused during a 429 pause."""
        if platform not in (Platform.TELEGRAM, Platform.SLACK):
            await super().acquire(platform, address, scope)
            return
        self._check(scope)
        budgets = self.budgets(platform, address)
        unbooked = budgets
        rebooks = 0
        while unbooked:
            turn_at, booked = await self._book(unbooked, scope)
            unbooked = unbooked[booked:]
            if unbooked:
                await self._until(turn_at)  # booking the rest checks the pause again
                continue
            waits = turn_at > self._local()  # a turn due already has no one right after it
            await self._wait_for_turn(turn_at, scope)
            if waits and self._local() - turn_at > LATE and rebooks < REBOOKS:
                rebooks += 1
                unbooked = budgets[-1:]  # the widest budget's turn went by: take another
        self._check(scope)

    async def _book(self, unbooked: list[tuple[str, float]], scope: str) -> tuple[float, int]:
        """Book turns; the moment of the last one on this process's clock, and how many."""
        asked = self._local()
        turn = await asyncio.to_thread(self._book_now, unbooked, scope)
        if turn.paused is not None or turn.clock is None:
            until = self._pause_here(scope, turn.paused or 0.0)
            raise Paused(f"{scope} is paused after a 429", until=until)
        self.offset.learn(turn.clock, asked, self._local())
        return turn.clock + turn.wait - self.offset.value, turn.booked

    async def _wait_for_turn(self, turn_at: float, scope: str) -> None:
        """Wait until `turn_at`, making sure shortly before it that no 429 came meanwhile.

        The check is made ahead of the turn, not at it, so that its round trip to the
        database does not make the request late.
        """
        if turn_at - self._local() > CHECK_AHEAD:
            await self._until(turn_at - CHECK_AHEAD)
            left = await asyncio.to_thread(self._pause_left, scope)
            if left is not None:
                until = self._pause_here(scope, left)
                raise Paused(f"{scope} is paused after a 429", until=until)
        await self._until(turn_at)

    async def _until(self, moment: float) -> None:
        seconds = moment - self._local()
        if seconds > 0:
            await self._sleep(seconds)
            extend_deadline(seconds)

    async def pause(self, scope: str, seconds: float) -> datetime:
        """Pause `scope` here at once, then for every process; return the end."""
        until = self._pause_here(scope, seconds)
        try:
            left = await asyncio.to_thread(self._share_pause, scope, seconds)
        except Exception as error:
            # The other processes will read the 429 themselves; this one is paused.
            log.warning("could not share a pause of %s: %s", scope, error)
            return until
        return self._pause_here(scope, left)

    def _book_now(self, named: list[tuple[str, float]], scope: str) -> shared.Turn:
        with self.sessions() as session, session.begin():
            return shared.book_turn(
                session=session, budgets=named, scope=scope, now=self._shared_clock()
            )

    def _pause_left(self, scope: str) -> float | None:
        with self.sessions() as session:
            return shared.pause_left(session=session, scope=scope, now=self._shared_clock())

    def _share_pause(self, scope: str, seconds: float) -> float:
        with self.sessions() as session, session.begin():
            return shared.pause(
                session=session, scope=scope, seconds=seconds, now=self._shared_clock()
            )
