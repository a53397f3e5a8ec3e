"""Keep under the platforms' rate limits before they enforce them, and obey their 429s."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiolimiter import AsyncLimiter

from bot.delivery.errors import Paused
from storage.models import Platform

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
    """Messages per second Herald allows itself, below each platform's published limits."""

    telegram_per_second: float = 29.0
    telegram_group_interval: float = 3.1
    telegram_chat_interval: float = 1.1
    slack_per_second: float = 4.8
    slack_channel_interval: float = 1.1
    webhook_per_second: float = 20.0

    def platform_interval(self, platform: Platform) -> float:
        """Seconds between two requests on one bot token (webhooks: in one process)."""
        per_second = {
            Platform.TELEGRAM: self.telegram_per_second,
            Platform.SLACK: self.slack_per_second,
            Platform.WEBHOOK: self.webhook_per_second,
        }[platform]
        return 1 / per_second

    def destination_interval(self, platform: Platform, address: str) -> float | None:
        """Seconds between two requests to one chat or channel; None where none is set."""
        if platform == Platform.TELEGRAM:
            if telegram_is_group(address):
                return self.telegram_group_interval
            return self.telegram_chat_interval
        if platform == Platform.SLACK:
            return self.slack_channel_interval
        return None


def _spaced(interval: float) -> AsyncLimiter:
    # A bucket of one: strictly spaced requests, so no window of any length holds
    # more than the platform allows (a bigger bucket would allow bursts over it).
    return AsyncLimiter(1, interval)


def telegram_is_group(address: str) -> bool:
    """Channels and groups (negative ids, @names) get 20 messages a minute, chats 1 a second."""
    return address.startswith(("-", "@"))


class RateLimits:
    """Per-platform and per-destination limiters, plus the pauses that 429s impose."""

    def __init__(self, rates: RateSettings, *, clock: Callable[[], datetime]) -> None:
        self.rates = rates
        self.clock = clock
        self._global = {
            platform: _spaced(rates.platform_interval(platform)) for platform in Platform
        }
        self._destinations: dict[tuple[Platform, str], AsyncLimiter] = {}
        self._paused: dict[str, datetime] = {}

    def _destination(self, platform: Platform, address: str) -> AsyncLimiter | None:
        key = (platform, address)
        limiter = self._destinations.get(key)
        if limiter is None:
            interval = self.rates.destination_interval(platform, address)
            if interval is None:
                return None
            limiter = self._destinations[key] = _spaced(interval)
        return limiter

    async def acquire(self, platform: Platform, address: str, scope: str) -> None:
        """Wait until one more request keeps within every limit; raise Paused during a 429 pause.

        The pause is checked after the wait too: a 429 that arrives while a request
        waits its turn must stop it, or it would go out before retry_after.
        """
        self._check(scope)
        started = asyncio.get_running_loop().time()
        destination = self._destination(platform, address)
        if destination is not None:
            await destination.acquire()
        await self._global[platform].acquire()
        extend_deadline(asyncio.get_running_loop().time() - started)
        self._check(scope)

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
        self._paused[scope] = max(until, self._paused.get(scope, until))
        return self._paused[scope]

    def paused_until(self, scope: str) -> datetime | None:
        """When a pause on `scope` ends, or None when there is none now."""
        until = self._paused.get(scope)
        if until is not None and until <= self.clock():
            del self._paused[scope]
            return None
        return until


class Unlimited(RateLimits):
    """No limiter waits (tests driving a fake clock); 429 pauses still apply."""

    async def acquire(self, platform: Platform, address: str, scope: str) -> None:
        """Return at once, unless the scope is paused after a 429."""
        self._check(scope)
        await asyncio.sleep(0)
        self._check(scope)
