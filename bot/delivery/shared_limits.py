"""Rate budgets and 429 pauses kept in PostgreSQL, so any number of workers share one limit."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.delivery.errors import Paused
from bot.delivery.limits import RateLimits, RateSettings, extend_deadline
from storage import budgets as shared
from storage.models import Platform

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long before its turn a request asks whether a 429 paused its scope meanwhile:
# about as long as a request is in flight, the time in which a 429 cannot stop it anyway.
CHECK_AHEAD = 0.25
# A request that wakes this late for its turn books another: sent late, it would land in
# the same second as the next worker's on-time requests, and the platform counts both.
LATE = 0.025
# Requests waiting for their turns at about the same moment share one look at the pause.
CHECK_FRESH = 0.05
REBOOKS = 3


class ClockOffset:
    """The database's clock less this process's, from the tightest recent reading.

    A reading of the database's clock is made somewhere between asking and hearing
    back, so the quicker the round trip, the better that moment is known. Of the
    readings of the last minute the tightest is used (one slowed by a busy machine
    says little); a new one is taken every few seconds, as clocks drift.
    """

    WINDOW_SECONDS = 60.0
    EVERY_SECONDS = 5.0

    def __init__(self) -> None:
        self.value = 0.0
        self._readings: list[tuple[float, float, float]] = []  # taken, spread, offset
        self._lock = threading.Lock()

    def due(self, now: float) -> bool:
        """True when no reading was taken in the last few seconds."""
        with self._lock:
            return not self._readings or now - self._readings[-1][0] >= self.EVERY_SECONDS

    def learn(self, database: float, asked: float, answered: float) -> None:
        """Take a reading of the database's clock made between `asked` and `answered`."""
        with self._lock:
            self._readings = [r for r in self._readings if answered - r[0] < self.WINDOW_SECONDS]
            self._readings.append((answered, answered - asked, database - (asked + answered) / 2))
            self.value = min(self._readings, key=lambda r: r[1])[2]


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
        local_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rates, clock=clock)
        self.sessions = sessions
        self._sleep = sleep
        # None reads the database's clock; tests stand a fake one in.
        self._shared_clock = shared_clock
        self._local = local_clock
        self.offset = ClockOffset()
        # Bookings on threads of their own: queued behind the worker's claims and records
        # on asyncio's few default threads, requests would wake late for their turns.
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="herald-budgets")
        # The checks just before a turn get a thread of their own: queued behind a burst
        # of bookings (a fan-out starting), they would come back after the turn.
        self._checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="herald-pauses")
        self._checked: dict[str, tuple[float, float | None]] = {}  # scope: (when, left)

    def budgets(self, platform: Platform, address: str) -> list[tuple[str, float]]:
        """The shared budgets one request to `address` spends: (name, seconds apart)."""
        chat = self.rates.destination_interval(platform, address)
        assert chat is not None  # only Telegram and Slack have shared budgets
        token = self.rates.platform_interval(platform)
        return [(f"{platform.value}:chat:{address}", chat), (f"{platform.value}:token", token)]

    async def acquire(self, platform: Platform, address: str, scope: str) -> None:
        """Wait for this request's turn in the shared budgets; raise Paused during a 429 pause."""
        if platform not in (Platform.TELEGRAM, Platform.SLACK):
            await super().acquire(platform, address, scope)
            return
        self._check(scope)
        budgets = self.budgets(platform, address)
        booked = rebooks = 0
        while booked < len(budgets):
            turn_at, booked = await self._book(budgets, booked, scope)
            if booked < len(budgets):
                await self._until(turn_at)  # booking the rest checks the pause again
                continue
            waits = turn_at > self._local()  # a turn due already has no one right after it
            await self._wait_for_turn(turn_at, scope)
            if waits and self._local() - turn_at > LATE and rebooks < REBOOKS:
                rebooks += 1
                booked -= 1  # the widest budget's turn went by: take another
        self._check(scope)

    async def _in_thread(self, step: Callable[[], T], threads: Executor | None = None) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(threads or self._threads, step)

    async def _pause_left_now(self, scope: str) -> float | None:
        """Seconds left of a pause on `scope`, asked again at most every CHECK_FRESH."""
        asked = self._local()
        seen = self._checked.get(scope)
        if seen is not None and asked - seen[0] < CHECK_FRESH:
            return None if seen[1] is None else seen[1] - (asked - seen[0])
        left = await self._in_thread(lambda: self._pause_left(scope), self._checks)
        self._checked[scope] = (asked, left)
        return left

    async def _book(
        self, budgets: list[tuple[str, float]], skip: int, scope: str
    ) -> tuple[float, int]:
        """Book turns; the moment of the last one on this process's clock, and how many."""
        turn = await self._in_thread(lambda: self._book_now(budgets, skip, scope))
        if turn.paused is not None or turn.clock is None:
            until = self._pause_here(scope, turn.paused or 0.0)
            raise Paused(f"{scope} is paused after a 429", until=until)
        return turn.clock + turn.wait - self.offset.value, turn.booked

    async def _wait_for_turn(self, turn_at: float, scope: str) -> None:
        """Wait until `turn_at`, making sure shortly before it that no 429 came meanwhile.

        The check is made ahead of the turn, not at it, so that its round trip to the
        database does not make the request late.
        """
        if turn_at - self._local() > CHECK_AHEAD:
            await self._until(turn_at - CHECK_AHEAD)
            left = await self._pause_left_now(scope)
            if left is not None and left > 0:
                until = self._pause_here(scope, left)
                raise Paused(f"{scope} is paused after a 429", until=until)
        await self._until(turn_at)

    async def _until(self, moment: float) -> None:
        seconds = moment - self._local()
        if seconds > 0:
            extend_deadline(seconds)  # before the wait: a deadline met mid-wait would stop it
            await self._sleep(seconds)

    async def pause(self, scope: str, seconds: float) -> datetime:
        """Pause `scope` here at once, then for every process; return the end."""
        until = self._pause_here(scope, seconds)
        try:
            left = await self._in_thread(lambda: self._share_pause(scope, seconds))
        except Exception as error:
            # The other processes will read the 429 themselves; this one is paused.
            log.warning("could not share a pause of %s: %s", scope, error)
            return until
        return self._pause_here(scope, left)

    def _book_now(self, budgets: list[tuple[str, float]], skip: int, scope: str) -> shared.Turn:
        with self.sessions() as session, session.begin():
            self._keep_time(session)
            return shared.book_turn(
                session=session, budgets=budgets, scope=scope, skip=skip, now=self._shared_clock()
            )

    def _keep_time(self, session: Session) -> None:
        """Read the database's clock now and then, timed closely on this process's clock."""
        if not self.offset.due(self._local()):
            return
        stand_in = self._shared_clock()
        session.connection()  # a connection's set-up is not part of the reading
        asked = self._local()
        database = stand_in if stand_in is not None else shared.database_clock(session=session)
        self.offset.learn(database, asked, self._local())

    def _pause_left(self, scope: str) -> float | None:
        with self.sessions() as session:
            return shared.pause_left(session=session, scope=scope, now=self._shared_clock())

    def _share_pause(self, scope: str, seconds: float) -> float:
        with self.sessions() as session, session.begin():
            return shared.pause(
                session=session, scope=scope, seconds=seconds, now=self._shared_clock()
            )
