"""One worker at a time sends to each rate-limited platform: the holder of its sender lease.

With several workers on PostgreSQL, the messages of one bot token must keep the
platform's limits as if one process sent them all. The simplest way that holds under
load is that one process does send them all: each Telegram or Slack bot token has a
lease in the database, renewed every RENEW_SECONDS by its holder, and only the holder
claims that platform's deliveries and paces them with the in-memory limiter. Any
worker takes the lease over when its holder stops renewing it (killed, stalled, cut
off), within LEASE_SECONDS. Webhooks have no shared limit: every worker sends them.

A 429 is paused in the holder at once and written to the database, so that the next
holder honours it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.delivery.errors import Paused
from bot.delivery.limits import Landing, RateLimits, RateSettings
from storage import pauses as pause_store
from storage.leases import acquire_lease, release_lease
from storage.models import Platform

log = logging.getLogger(__name__)

T = TypeVar("T")

LEASE_SECONDS = 6.0
RENEW_SECONDS = 1.5
# The holder stops sending this long before its lease can be taken from it: the clocks
# of two machines may disagree by a little, and a request already sent takes a moment
# to land.
MARGIN_SECONDS = 2.0
LIMITED = (Platform.TELEGRAM, Platform.SLACK)


def lease_name(platform: Platform, token: str) -> str:
    """The lease of one bot token, named by a digest of the token (never the token)."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:16]
    return f"sender:{platform.value}:{digest}"


class LeasedRateLimits(RateLimits):
    """The in-memory limiter, for the platforms whose sender lease this process holds.

    `keep` renews the leases in the background; a platform whose lease lapsed is not
    claimed, and a request to it still waiting for its turn is given back (Paused,
    due at once) for the new holder.
    """

    def __init__(
        self,
        rates: RateSettings,
        *,
        clock: Callable[[], datetime],
        sessions: sessionmaker[Session],
        tokens: dict[Platform, str],
        holder: str,
        local_clock: Callable[[], float] = time.monotonic,
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
        margin_seconds: float = MARGIN_SECONDS,
    ) -> None:
        super().__init__(rates, clock=clock)
        self.sessions = sessions
        self.holder = holder
        self._names = {p: lease_name(p, token) for p, token in tokens.items() if p in LIMITED}
        self._local = local_clock
        self._lease = lease_seconds
        self._renew = renew_seconds
        self._margin = margin_seconds
        self._valid_until: dict[Platform, float] = {}
        # Lease renewals on a thread of their own: behind a burst of the worker's claims
        # and records on asyncio's default threads, a renewal could come too late.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="herald-leases")

    def holds(self, platform: Platform) -> bool:
        """True while this process may send to `platform` (always, for webhooks)."""
        if platform not in self._names:
            return platform not in LIMITED
        return self._local() < self._valid_until.get(platform, -math.inf)

    def platforms_to_claim(self) -> frozenset[Platform] | None:
        """Webhooks, and the platforms whose lease this process holds."""
        return frozenset(p for p in Platform if self.holds(p))

    async def acquire(self, platform: Platform, address: str, scope: str) -> Landing:
        """Wait for the turn; give the request back if the lease lapsed meanwhile."""
        landing = await super().acquire(platform, address, scope)
        if not self.holds(platform):
            landing.landed()
            raise Paused(f"another worker sends to {platform.value} now", until=self.clock())
        return landing

    async def pause(self, scope: str, seconds: float) -> datetime:
        """Pause `scope` here at once, and for whoever holds the lease next."""
        until = self._pause_here(scope, seconds)
        try:
            await self._in_thread(lambda: self._write_pause(scope, seconds))
        except Exception as error:
            log.warning("could not record the pause of %s for the next sender: %s", scope, error)
        return until

    async def keep(self, stop: asyncio.Event, taken: Callable[[], None] = lambda: None) -> None:
        """Take and renew the leases until `stop`; `taken` is called when one is taken."""
        while not stop.is_set():
            try:
                if await self._in_thread(self.refresh):
                    taken()
            except Exception as error:
                # Not renewed: the leases held lapse by themselves, sending stops in time.
                log.warning("sender leases not renewed: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._renew)

    def refresh(self) -> list[Platform]:
        """Take or renew each lease once; the platforms newly taken."""
        taken: list[Platform] = []
        for platform, name in self._names.items():
            began = self._local()
            with self.sessions() as session, session.begin():
                held = acquire_lease(
                    session=session,
                    name=name,
                    holder=self.holder,
                    now=self.clock(),
                    seconds=self._lease,
                )
                running: dict[str, float] = {}
                if held and platform not in self._valid_until:
                    pause_store.forget_pauses(session=session)
                    running = pause_store.pauses_running(session=session)
            if not held:
                if self._valid_until.pop(platform, None) is not None:
                    log.warning("another worker sends to %s now", platform.value)
                continue
            if platform not in self._valid_until:
                # Pauses first: a 429 the last holder read must stop this one too.
                for scope, seconds in running.items():
                    self._pause_here(scope, seconds)
                taken.append(platform)
                log.info("this worker sends to %s (it holds the sender lease)", platform.value)
            self._valid_until[platform] = began + self._lease - self._margin
        return taken

    async def release(self) -> None:
        """Give the leases up (at shutdown, once the sends under way are done)."""
        held = [self._names[p] for p in list(self._valid_until)]
        self._valid_until.clear()
        if held:
            with contextlib.suppress(Exception):
                await self._in_thread(lambda: self._release(held))
        self._thread.shutdown(wait=False)

    def _release(self, names: Iterable[str]) -> None:
        with self.sessions() as session, session.begin():
            for name in names:
                release_lease(session=session, name=name, holder=self.holder)

    def _write_pause(self, scope: str, seconds: float) -> None:
        with self.sessions() as session, session.begin():
            pause_store.pause(session=session, scope=scope, seconds=seconds)

    async def _in_thread(self, step: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, step)
