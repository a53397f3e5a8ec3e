"""/healthz: is the database answering? One check shared by every prober, bounded in time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import anyio
import anyio.to_thread
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.status.cache import failure_of

log = logging.getLogger(__name__)

# A load balancer's probe gives up after a few seconds; a silent database answers 503 first.
HEALTH_WAIT_SECONDS = 4.0
# Checks at once at most: one stuck on a silent server must not keep /healthz at 503 after
# the database is back, but probes must not pile threads onto a dead one either.
MOST_CHECKS = 4


class HealthCheck:
    """Answers /healthz: 200 when the database answers, 503 when it does not or is too slow.

    Concurrent probes share the check under way; one older than the wait no longer
    holds a new one back. The log says when the state changes, not at every probe.
    """

    def __init__(self, check: Callable[[], None], *, clock: Callable[[], float] = time.monotonic):
        self._check = check
        self._clock = clock
        self._threads = anyio.CapacityLimiter(MOST_CHECKS)
        self._running: dict[asyncio.Future[None], float] = {}
        self._healthy: bool | None = None

    async def endpoint(self, request: Request) -> Response:
        """The /healthz route."""
        try:
            await asyncio.wait_for(asyncio.shield(self._newest()), HEALTH_WAIT_SECONDS)
        except (sa.exc.SQLAlchemyError, TimeoutError) as error:
            if self._healthy is not False:
                log.warning("health check: the database does not answer (%s)", failure_of(error))
            self._healthy = False
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        if self._healthy is False:
            log.info("health check: the database answers again")
        self._healthy = True
        return JSONResponse({"status": "ok", "database": "ok"})

    def _newest(self) -> asyncio.Future[None]:
        now = self._clock()
        newest = max(self._running, key=self._running.__getitem__, default=None)
        stuck = newest is not None and now - self._running[newest] >= HEALTH_WAIT_SECONDS
        if newest is None or (stuck and len(self._running) < MOST_CHECKS):
            newest = asyncio.ensure_future(
                anyio.to_thread.run_sync(self._check, limiter=self._threads)
            )
            newest.add_done_callback(self._done)
            self._running[newest] = now
        return newest

    def _done(self, check: asyncio.Future[None]) -> None:
        self._running.pop(check, None)
        # Probes that gave up must not leave an "exception never retrieved" behind.
        if not check.cancelled():
            check.exception()


def database_check(engine: sa.Engine) -> Callable[[], None]:
    """The check: one connection from the pool answers SELECT 1."""

    def check() -> None:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    return check
