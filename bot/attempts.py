"""Calls to a database that may have gone silent, shared by whoever waits for an answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Attempts(Generic[T]):
    """Attempts of one call under way, by when each began; the newest is the one to wait for.

    A new attempt starts only when the newest is `every` seconds old: a call stuck on a
    silent server must not hold the next one back once the server is back, but waiters
    must not pile calls onto a dead one either. Of attempts begun within `stuck`
    seconds at most `young` run at once, and at most `most` in all, stuck ones included.
    """

    def __init__(
        self,
        start: Callable[[float], Awaitable[T]],
        *,
        clock: Callable[[], float],
        every: float,
        stuck: float,
        young: int,
        most: int,
    ) -> None:
        self._start = start
        self._clock = clock
        self._every, self._stuck, self._young, self._most = every, stuck, young, most
        self._running: dict[asyncio.Future[T], float] = {}

    def __len__(self) -> int:
        return len(self._running)

    def newest(self) -> tuple[asyncio.Future[T], float, bool]:
        """The attempt to wait for, when it began, and whether it began just now."""
        now = self._clock()
        newest = max(self._running, key=self._running.__getitem__, default=None)
        if newest is not None and not self._may_start(now, self._running[newest]):
            return newest, self._running[newest], False
        attempt = asyncio.ensure_future(self._start(now))
        attempt.add_done_callback(self._done)
        self._running[attempt] = now
        return attempt, now, True

    def _may_start(self, now: float, newest_began: float) -> bool:
        young = sum(now - began < self._stuck for began in self._running.values())
        return (
            now - newest_began >= self._every
            and young < self._young
            and len(self._running) < self._most
        )

    def _done(self, attempt: asyncio.Future[T]) -> None:
        self._running.pop(attempt, None)
        # An attempt every waiter gave up on must not end as "exception never retrieved".
        if not attempt.cancelled():
            attempt.exception()
