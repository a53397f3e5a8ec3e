"""The web app: health check, the public status page with its feeds and API, extra routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from bot.body_limit import BodyLimit
from bot.database import Database
from bot.delivery.email import build_sender
from bot.delivery.limits import RateLimits
from bot.delivery.setup import rate_settings
from bot.health import HealthCheck, database_check
from bot.settings import Settings
from bot.status.export import StatusExport
from bot.status.subscribe import SubscribePages
from bot.status.views import StatusSite
from storage.models import utcnow

log = logging.getLogger(__name__)

# How stale a page may be after a change: one cheap version lookup per interval serves
# every reader in it, so a crowd costs the database nothing more.
RECHECK_SECONDS = 1.0


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    await run_in_threadpool(app.state.status_site.warm_up)
    # What exists now (modules, locale data, templates) lives as long as the process; out
    # of the collector's reach, a full collection during a render costs a few milliseconds
    # instead of tens.
    gc.freeze()
    export: StatusExport | None = app.state.status_export
    # Every process has each fixed document ready before an outage can ask for it.
    tasks = [asyncio.create_task(app.state.status_site.prepare())]
    if export is not None:
        tasks.append(asyncio.create_task(export.run()))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if export is not None:
            export.close()
        if app.state.subscriptions is not None:
            await app.state.subscriptions.mailer.close()


def create_app(
    settings: Settings,
    database: Database,
    extra_routes: Sequence[BaseRoute] = (),
    *,
    clock: Callable[[], datetime] = utcnow,
    recheck_seconds: float = RECHECK_SECONDS,
) -> Starlette:
    """Build the Starlette app around one database; extra_routes are mounted first."""

    health = HealthCheck(database_check(database.engine))
    site = StatusSite(settings, database, clock=clock, recheck_seconds=recheck_seconds)
    app = Starlette(
        routes=[*extra_routes, Route("/healthz", health.endpoint), *site.routes()],
        middleware=[Middleware(BodyLimit)],
        lifespan=_lifespan,
    )
    app.state.status_site = site
    app.state.subscriptions = None
    if settings.smtp_url is not None and settings.mail_from is not None:
        # Subscribing by e-mail needs mail to send: without SMTP the form is not offered.
        mailer = build_sender(settings, RateLimits(rate_settings(settings), clock=clock))
        pages = SubscribePages(settings, database, site.pages, mailer, clock=clock)
        app.router.routes.extend(pages.routes())
        app.state.subscriptions = pages
    directory = settings.status_export_dir
    app.state.status_export = StatusExport(site, directory) if directory is not None else None
    return app
