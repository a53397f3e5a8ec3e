"""Keep under the platforms' rate limits before they enforce them, and obey their 429s."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiolimiter import AsyncLimiter

from bot.delivery.errors import Paused
from storage.models import Platform
from storage.platforms import spec

# The deadline of the send under way (set by the worker): time spent waiting for a turn
# is added to it, so a long queue behind the rate limit is not taken for a dead platform.
SEND_DEADLINE: contextvars.ContextVar[asyncio.Timeout | None] = contextvars.ContextVar(
    "send_deadline", default=None
)


def extend_deadline(seconds: float) -> None:
    """Give the send under way `seconds` more, for the time it spent waiting its turn."""
    deadline = SEND_DEADLINE.get()
    if deadline is not None and seconds > 0 and not deadline.expired():
        when = deadline.when()
        if when is not None:
            with contextlib.suppress(RuntimeError):  # the send's timeout is over already
                deadline.reschedule(when + seconds)


@dataclass(frozen=True)
class RateSettings:
    """Messages per second Herald allows itself, below each platform's published limits:
    the registry's, but for the paces set here (from settings, or a test's)."""

    per_second: Mapping[Platform, float] = field(default_factory=dict)

    def platform_interval(self, platform: Platform) -> float:
        """Seconds between two requests on one bot token (webhooks: in one process)."""
        return 1 / self.per_second.get(platform, spec(platform).rates.per_second)

    def destination_interval(self, platform: Platform, address: str) -> float | None:
        """Seconds between two requests to one chat or channel; None where none is set."""
        return spec(platform).rates.destination_interval(address)

    @staticmethod
    def most_per_second(platform: Platform) -> int | None:
        """What the platform counts in any window of one second; None where it counts none."""
        return spec(platform).rates.most_per_second


class Landing:
    """One request's answer, which the request `most` places behind it waits for."""

    def __init__(
        self,
        *answered: asyncio.Future[float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._answered = answered
        self._clock = clock

    def __add__(self, other: Landing) -> Landing:
        return Landing(*self._answered, *other._answered, clock=self._clock)

    def landed(self) -> None:
        """The request is answered (or will never be sent): it has arrived, if ever."""
        for answered in self._answered:
            if not answered.done():
                answered.set_result(self._clock())


NOT_COUNTED = Landing()


class LandingWindow:
    """At most `most` requests arrive in any `seconds`, however late some of them leave.

    Spacing requests evenly as they leave is not enough: a request held up on its
    way (a busy machine, a new connection) arrives together with the on-time ones
    after it, and the platform counts them in one second. A request arrives before
    its answer does, so each request leaves no sooner than `seconds` after the
    answer to the one `most` places before it: then no window holds more than `most`.
    On a quiet machine the even spacing is the slower rule and this one costs nothing.
    """

    # Only a safety net for a request never marked: each is marked once answered or
    # ended by its time-outs (Telegram's connect, write and read: 35 s at most; the
    # worker's 60 s per send). Shorter would be wrong: a platform that stalls, then counts
    # all that reached it meanwhile in one second, answers 429 (seen with 2 s here).
    LONGEST_WAIT = 40.0

    def __init__(
        self,
        most: int,
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.most = most
        self.seconds = seconds
        self._clock = clock
        self._sleep = sleep
        self._answers: deque[asyncio.Future[float]] = deque(maxlen=most)

    async def enter(self) -> Landing:
        """Wait until one more request keeps the window; its Landing, to mark when answered."""
        earlier = self._answers[0] if len(self._answers) == self.most else None
        answered: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._answers.append(answered)
        landing = Landing(answered, clock=self._clock)
        if earlier is None:
            return landing
        try:
            try:
                at = await asyncio.wait_for(asyncio.shield(earlier), self.LONGEST_WAIT)
            except TimeoutError:
                at = self._clock()
            wait = at + self.seconds - self._clock()
            if wait > 0:
                await self._sleep(wait)
        except BaseException:
            landing.landed()
            raise
        return landing


def _spaced(interval: float) -> AsyncLimiter:
    # A bucket of one: strictly spaced requests, so no window of any length holds
    # more than the platform allows (a bigger bucket would allow bursts over it).
    return AsyncLimiter(1, interval)


def _paced(interval: float, window: bool) -> AsyncLimiter:
    # A bucket of two for a bot token's pace, where a LandingWindow keeps what the
    # platform counts in a second: a request woken late by a busy event loop lets the
    # next one go that much sooner, so the pace holds on average (with a bucket of one
    # every late wake-up was lost for good: 26 a second, not 29). Elsewhere, strict.
    return AsyncLimiter(2, 2 * interval) if window else _spaced(interval)


class RateLimits:
    """Per-platform and per-destination limiters, plus the pauses that 429s impose."""

    def __init__(self, rates: RateSettings, *, clock: Callable[[], datetime]) -> None:
        self.rates = rates
        self.clock = clock
        self._global = {
            platform: _paced(
                rates.platform_interval(platform), rates.most_per_second(platform) is not None
            )
            for platform in Platform
        }
        self._destinations: dict[tuple[Platform, str], tuple[AsyncLimiter, LandingWindow]] = {}
        self._windows = {
            platform: LandingWindow(most, 1.0)
            for platform in Platform
            if (most := rates.most_per_second(platform)) is not None
        }
        self._paused: dict[str, datetime] = {}
        self._pauses_lock = threading.Lock()

    def _destination(
        self, platform: Platform, address: str
    ) -> tuple[AsyncLimiter, LandingWindow] | None:
        """The chat's spacing, and its window: the next message leaves an interval after
        the last one's answer, so a message held up on its way does not land with it."""
        key = (platform, address)
        limiter = self._destinations.get(key)
        if limiter is None:
            interval = self.rates.destination_interval(platform, address)
            if interval is None:
                return None
            limiter = self._destinations[key] = (_spaced(interval), LandingWindow(1, interval))
        return limiter

    @contextlib.asynccontextmanager
    async def turn(self, platform: Platform, address: str, scope: str) -> AsyncIterator[None]:
        """Send one request within: waits for its turn, and counts it until it is answered."""
        landing = await self.acquire(platform, address, scope)
        try:
            yield
        finally:
            landing.landed()

    async def acquire(self, platform: Platform, address: str, scope: str) -> Landing:
        """Wait until one more request keeps within every limit; raise Paused during a 429 pause.

        The pause is checked after the wait too: a 429 that arrives while a request
        waits its turn must stop it, or it would go out before retry_after. The
        Landing returned must be told when the request is answered (`turn` does).
        """
        self._check(scope)
        started = asyncio.get_running_loop().time()
        destination = self._destination(platform, address)
        landing = NOT_COUNTED
        if destination is not None:
            await destination[0].acquire()
            landing = await destination[1].enter()
        try:
            await self._global[platform].acquire()
            window = self._windows.get(platform)
            if window is not None:
                landing += await window.enter()
        except BaseException:
            landing.landed()
            raise
        extend_deadline(asyncio.get_running_loop().time() - started)
        try:
            self._check(scope)
        except Paused:
            landing.landed()
            raise
        return landing

    def platforms_to_claim(self) -> frozenset[Platform] | None:
        """The platforms whose deliveries this process may claim; None for every one."""
        return None

    def _check(self, scope: str) -> None:
        until = self.paused_until(scope)
        if until is not None:
            raise Paused(f"{scope} is paused after a 429", until=until)

    async def pause(self, scope: str, seconds: float) -> datetime:
        """Send nothing to `scope` for `seconds` (a platform said 429); return the end."""
        return self._pause_here(scope, seconds)

    def _pause_here(self, scope: str, seconds: float) -> datetime:
        until = self.clock() + timedelta(seconds=seconds)
        # Locked: the pauses other workers wrote are read in on a thread of their own.
        with self._pauses_lock:
            self._paused[scope] = max(until, self._paused.get(scope, until))
            return self._paused[scope]

    def paused_until(self, scope: str) -> datetime | None:
        """When a pause on `scope` ends, or None when there is none now."""
        with self._pauses_lock:
            until = self._paused.get(scope)
            if until is not None and until <= self.clock():
                del self._paused[scope]
                return None
            return until


class Unlimited(RateLimits):
    """No limiter waits (tests driving a fake clock); 429 pauses still apply."""

    async def acquire(self, platform: Platform, address: str, scope: str) -> Landing:
        """Return at once, unless the scope is paused after a 429."""
        self._check(scope)
        await asyncio.sleep(0)
        self._check(scope)
        return NOT_COUNTED
