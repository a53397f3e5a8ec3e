"""The web app: health check, the public status page with its feeds and API, extra routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.body_limit import BodyLimit
from bot.database import Database
from bot.settings import Settings
from bot.status.cache import failure_of
from bot.status.export import StatusExport
from bot.status.views import StatusSite
from storage.models import utcnow

log = logging.getLogger(__name__)

# How stale a page may be after a change: one cheap version lookup per interval serves
# every reader in it, so a crowd costs the database nothing more.
RECHECK_SECONDS = 1.0
# A load balancer's probe gives up after a few seconds; a silent database answers 503 first.
HEALTH_WAIT_SECONDS = 4.0


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    await run_in_threadpool(app.state.status_site.warm_up)
    # What exists now (modules, locale data, templates) lives as long as the process; out
    # of the collector's reach, a full collection during a render costs a few milliseconds
    # instead of tens.
    gc.freeze()
    export: StatusExport | None = app.state.status_export
    if export is None:
        yield
        return
    keeping = asyncio.create_task(export.run())
    try:
        yield
    finally:
        keeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeping
        export.close()


def create_app(
    settings: Settings,
    database: Database,
    extra_routes: Sequence[BaseRoute] = (),
    *,
    clock: Callable[[], datetime] = utcnow,
    recheck_seconds: float = RECHECK_SECONDS,
) -> Starlette:
    """Build the Starlette app around one database; extra_routes are mounted first."""

    def _check_database() -> None:
        with database.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    checking: list[asyncio.Future[None]] = []

    async def healthz(request: Request) -> Response:
        # One check at a time, shared by every prober: a server gone silent must neither
        # hold a prober past its own timeout nor take a thread per probe.
        if not checking:
            check = asyncio.ensure_future(run_in_threadpool(_check_database))
            check.add_done_callback(_forget(checking))
            checking.append(check)
        try:
            await asyncio.wait_for(asyncio.shield(checking[0]), HEALTH_WAIT_SECONDS)
        except (sa.exc.SQLAlchemyError, TimeoutError) as error:
            log.warning("health check failed: %s", failure_of(error))
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    site = StatusSite(settings, database, clock=clock, recheck_seconds=recheck_seconds)
    app = Starlette(
        routes=[*extra_routes, Route("/healthz", healthz), *site.routes()],
        middleware=[Middleware(BodyLimit)],
        lifespan=_lifespan,
    )
    app.state.status_site = site
    directory = settings.status_export_dir
    app.state.status_export = StatusExport(site, directory) if directory is not None else None
    return app


def _forget(checking: list[asyncio.Future[None]]) -> Callable[[asyncio.Future[None]], None]:
    def done(check: asyncio.Future[None]) -> None:
        checking.clear()
        # Probers that gave up must not leave an "exception never retrieved" behind.
        if not check.cancelled():
            check.exception()

    return done
