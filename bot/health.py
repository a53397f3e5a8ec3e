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

from bot.attempts import Attempts
from bot.database import failure_of

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
        threads = anyio.CapacityLimiter(MOST_CHECKS)

        async def checking(_: float) -> None:
            await anyio.to_thread.run_sync(check, limiter=threads)

        self._checks = Attempts(
            checking,
            clock=clock,
            every=HEALTH_WAIT_SECONDS,
            stuck=HEALTH_WAIT_SECONDS,
            young=1,
            most=MOST_CHECKS,
        )
        self._healthy: bool | None = None

    async def endpoint(self, request: Request) -> Response:
        """The /healthz route."""
        try:
            check, _, _ = self._checks.newest()
            await asyncio.wait_for(asyncio.shield(check), HEALTH_WAIT_SECONDS)
        except (sa.exc.SQLAlchemyError, TimeoutError) as error:
            if self._healthy is not False:
                log.warning("health check: the database does not answer (%s)", failure_of(error))
            self._healthy = False
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        if self._healthy is False:
            log.info("health check: the database answers again")
        self._healthy = True
        return JSONResponse({"status": "ok", "database": "ok"})


def database_check(engine: sa.Engine) -> Callable[[], None]:
    """The check: one connection from the pool answers SELECT 1."""

    def check() -> None:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    return check
