"""The web app: health check and, until the status page lands, a plain list of open incidents."""

from __future__ import annotations

import html
import logging

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.database import Database
from bot.settings import Settings
from commands.lookup import ref
from commands.wording import display_title, pick_locale, status_label
from storage import incidents as incident_store

log = logging.getLogger(__name__)


def create_app(settings: Settings, database: Database) -> Starlette:
    """Build the Starlette app around one database."""

    def _check_database() -> None:
        with database.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(_check_database)
        except sa.exc.SQLAlchemyError as error:
            log.warning("health check failed: %s", type(error).__name__)
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    def _open_incidents_page(locale: str) -> str:
        with database.sessions() as session:
            incidents = incident_store.list_incidents(session=session, limit=200)
        site = html.escape(settings.site_name)
        items = "\n".join(
            f"<li><strong>{html.escape(ref(i.id))}</strong> "
            f"{html.escape(display_title(i, locale=locale))} — "
            f"{html.escape(status_label(i.status, locale=locale))}</li>"
            for i in incidents
        )
        empty = "Tutti i sistemi sono operativi." if locale == "it" else "All systems operational."
        body = f"<ul>{items}</ul>" if incidents else f"<p>{empty}</p>"
        return (
            f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8">'
            f"<title>{site}</title></head><body><main><h1>{site}</h1>{body}</main></body></html>"
        )

    async def home(request: Request) -> Response:
        locale = pick_locale(request.query_params.get("lang") or settings.locale)
        page = await run_in_threadpool(_open_incidents_page, locale)
        return HTMLResponse(page)

    return Starlette(routes=[Route("/healthz", healthz), Route("/", home)])
