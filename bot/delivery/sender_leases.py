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
import contextvars
import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.delivery.errors import Paused
from bot.delivery.limits import Landing, RateLimits, RateSettings
from storage import pauses as pause_store
from storage.leases import acquire_lease, lease_holder, release_lease
from storage.models import Platform
from storage.platforms import PLATFORMS

log = logging.getLogger(__name__)

LEASE_SECONDS = 6.0
RENEW_SECONDS = 1.5
# The holder stops sending this long before its lease can be taken from it: the clocks
# of two machines may disagree by a little, and a request already sent takes a moment
# to land.
MARGIN_SECONDS = 2.0
LIMITED = tuple(p for p, one in PLATFORMS.items() if one.rates.shared)
# A lease newly taken sends nothing for this long: the last holder may have written to a
# chat a moment ago, and a chat takes one message a second.
QUIET_START = 1.1
# How often a lapsed lease is looked for, to give its waiting requests back.
WATCH_SECONDS = 0.25
# A pause or a release the database does not take this soon is left: the leases lapse,
# and the other workers read the 429 themselves.
PAUSE_WRITE_SECONDS = 2.0
# Set around a message that must go whoever holds the lease (an alert to the responders):
# one message outside the holder's pacing, rather than none.
OUTSIDE_LEASE: contextvars.ContextVar[bool] = contextvars.ContextVar("outside_lease", default=False)


def lease_name(platform: Platform, token: str) -> str:
    """The lease of one bot token, named by a digest of the token (never the token)."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:16]
    return f"sender:{platform.value}:{digest}"


class LeasedRateLimits(RateLimits):
    """The in-memory limiter, for the platforms whose sender lease this process holds.

    `keep` renews the leases in the background and reads the pauses other workers
    wrote; a platform whose lease lapsed is not claimed, and a request to it still
    waiting for its turn is given back within a quarter second (Paused, due at once)
    for the new holder. A lease newly taken sends nothing for QUIET_START, so the
    chats the last holder just wrote to get their second.
    """

    def __init__(
        self,
        rates: RateSettings,
        *,
        clock: Callable[[], datetime],
        sessions: sessionmaker[Session],
        tokens: dict[Platform, str],
        holder: str,
        lease_clock: Callable[[], datetime | None] = lambda: None,
        local_clock: Callable[[], float] = time.monotonic,
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
        margin_seconds: float = MARGIN_SECONDS,
    ) -> None:
        super().__init__(rates, clock=clock)
        self.sessions = sessions
        self.holder = holder
        self._names = {p: lease_name(p, token) for p, token in tokens.items() if p in LIMITED}
        # None: the database's clock judges the leases (tests stand a fake one in).
        self._lease_clock = lease_clock
        self._local = local_clock
        self._lease = lease_seconds
        self._renew = renew_seconds
        self._margin = margin_seconds
        self._valid: dict[Platform, tuple[float, float]] = {}  # from, until (local clock)
        self._seen_free: set[Platform] = set()
        # Lease renewals on a thread of their own: behind a burst of the worker's claims
        # and records on asyncio's default threads, a renewal could come too late.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="herald-leases")

    def holds(self, platform: Platform) -> bool:
        """True while this process may send to `platform` (always, for webhooks)."""
        if platform not in self._names:
            return platform not in LIMITED
        begins, ends = self._valid.get(platform, (math.inf, -math.inf))
        return begins <= self._local() < ends

    def platforms_to_claim(self) -> frozenset[Platform] | None:
        """Webhooks, and the platforms whose lease this process holds."""
        return frozenset(p for p in Platform if self.holds(p))

    async def acquire(self, platform: Platform, address: str, scope: str) -> Landing:
        """Wait for the turn; give the request back as soon as the lease lapses."""
        if platform not in self._names or OUTSIDE_LEASE.get():
            return await super().acquire(platform, address, scope)
        if not self.holds(platform):
            raise self._not_ours(platform)
        waiting = asyncio.ensure_future(super().acquire(platform, address, scope))
        try:
            # Looked at every WATCH_SECONDS: a lease lapses while its holder's renewal
            # hangs, and nothing else would say so.
            while not (await asyncio.wait({waiting}, timeout=WATCH_SECONDS))[0]:
                if not self.holds(platform):
                    break
        except BaseException:
            # Cancelled (a send's deadline, a shutdown) as the turn came: it goes unused,
            # and says so, or the requests a window behind it would wait for its answer.
            if waiting.done() and not waiting.cancelled() and waiting.exception() is None:
                waiting.result().landed()
            raise
        finally:
            if not waiting.done():
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError, Paused):
                    await waiting
        if waiting.cancelled():
            raise self._not_ours(platform)
        landing = waiting.result()
        if not self.holds(platform):
            landing.landed()
            raise self._not_ours(platform)
        return landing

    async def pause(self, scope: str, seconds: float) -> datetime:
        """Pause `scope` here at once, and for every other worker (and the next holder)."""
        until = self._pause_here(scope, seconds)
        try:
            # Not on the lease thread, and not for long: a renewal hung on a silent
            # database must not hold up a sender's 429.
            await asyncio.wait_for(
                asyncio.to_thread(self._write_pause, scope, seconds), PAUSE_WRITE_SECONDS
            )
        except Exception as error:
            log.warning("could not record the pause of %s for the other workers: %s", scope, error)
        return until

    async def keep(self, stop: asyncio.Event, taken: Callable[[], None] = lambda: None) -> None:
        """Take and renew the leases until `stop`; `taken` is called when one is taken.

        A renewal stuck on a silent database does not stop the watch: a lease that
        lapses meanwhile gives its waiting requests back all the same.
        """
        loop = asyncio.get_running_loop()
        renewal: asyncio.Future[list[Platform]] | None = None
        next_renewal = loop.time()
        while not stop.is_set():
            if renewal is None and loop.time() >= next_renewal:
                renewal = loop.run_in_executor(self._thread, self.refresh)
                next_renewal = loop.time() + self._renew
            if renewal is not None and renewal.done():
                if renewal.exception() is not None:
                    log.error("sender leases: renewal failed", exc_info=renewal.exception())
                elif renewal.result():
                    # Claimed once the quiet start is over, not before it: sooner, the
                    # platform would be left out of the claim and wait for the next poll.
                    loop.call_later(QUIET_START, taken)
                renewal = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), WATCH_SECONDS)

    def refresh(self) -> list[Platform]:
        """Take or renew each lease once, then read every worker's pauses; the platforms
        newly taken. Each step on its own: one failing does not stop the others."""
        taken: list[Platform] = []
        for platform, name in self._names.items():
            began = self._local()
            try:
                if self._leave_to_others(platform, name):
                    continue
                with self.sessions() as session, session.begin():
                    held = acquire_lease(
                        session=session,
                        name=name,
                        holder=self.holder,
                        now=self._lease_clock(),
                        seconds=self._lease,
                    )
            except Exception as error:
                # Not renewed: the lease lapses by itself, and sending stops in time.
                log.warning("sender lease for %s not renewed: %s", platform.value, error)
                continue
            ends = began + self._lease - self._margin
            if not held:
                if self._valid.pop(platform, None) is not None:
                    log.warning("another worker sends to %s now", platform.value)
                continue
            if platform in self._valid and self._valid[platform][1] > began:
                self._valid[platform] = (self._valid[platform][0], ends)
                continue
            self._valid[platform] = (began + QUIET_START, ends)
            taken.append(platform)
            log.info("this worker sends to %s (it holds the sender lease)", platform.value)
        try:
            with self.sessions() as session, session.begin():
                running = pause_store.pauses_running(session=session)
        except Exception as error:
            log.warning("the pauses of the other workers not read: %s", error)
            running = {}
        for scope, seconds in running.items():
            self._pause_here(scope, seconds)
        return taken

    def _leave_to_others(self, platform: Platform, name: str) -> bool:
        """True to let a free lease go to another worker for one round: a worker that
        sends to one platform already leaves the next to an idle one, if there is one,
        so that Telegram and Slack do not share one process's CPU."""
        now = self._local()
        others = [p for p, (_, ends) in self._valid.items() if p != platform and ends > now]
        if platform in self._valid or not others:
            return False
        if platform in self._seen_free:
            self._seen_free.discard(platform)
            return False
        with self.sessions() as session:
            free = lease_holder(session=session, name=name, now=self._lease_clock()) is None
        if free:
            self._seen_free.add(platform)
        return True

    async def release(self) -> None:
        """Give the leases up (at shutdown, once the sends under way are done)."""
        held = [self._names[p] for p in list(self._valid)]
        self._valid.clear()
        if held:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(self._release, held), PAUSE_WRITE_SECONDS)
        self._thread.shutdown(wait=False)

    def _not_ours(self, platform: Platform) -> Paused:
        return Paused(f"another worker sends to {platform.value} now", until=self.clock())

    def _release(self, names: Iterable[str]) -> None:
        with self.sessions() as session, session.begin():
            for name in names:
                release_lease(session=session, name=name, holder=self.holder)

    def _write_pause(self, scope: str, seconds: float) -> None:
        with self.sessions() as session, session.begin():
            pause_store.pause(session=session, scope=scope, seconds=seconds)
