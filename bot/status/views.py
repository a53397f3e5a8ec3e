"""The public routes: status page, incident pages, feeds, calendar and the Statuspage-style API."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from babel.numbers import format_decimal
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import configure_mappers
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.database import Database
from bot.settings import Settings
from bot.status import feeds
from bot.status import statuspage_api as api
from bot.status.cache import DataVersionWatch, RenderCache, Rendered, rendered
from bot.status.http import CACHE_CONTROL, choose_language, respond
from bot.status.pages import PageContext, Pages
from commands.public_view import PublicView, UnknownComponent
from commands.status_page import build_status_page
from commands.wording import LOCALES, stamp
from storage import public as public_store
from storage.public import PublicDataVersion

log = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
# The home page shows time-relative facts (uptime of ongoing incidents, today's bar):
# it is rendered again at most this often even when no data changes.
HOME_REFRESH_SECONDS = 300
_INCIDENT_REF = re.compile(r"(?:inc-?)?(\d{1,18})", re.IGNORECASE)
_OPEN_TO_ALL = {"Access-Control-Allow-Origin": "*"}
# The pages need no script, frame or plugin: forbidding them all makes any escaping slip
# that might ever happen inert.
PAGE_SECURITY = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}

Render = Callable[[PublicView, PublicDataVersion], Rendered | None]


def parse_incident_ref(text: str) -> int | None:
    """The number in `INC-5`, `inc5` or `5`; None for anything else."""
    match = _INCIDENT_REF.fullmatch(text.strip())
    return int(match.group(1)) if match else None


class StatusSite:
    """The public side of Herald: every page and feed, each rendered once per data version."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        clock: Callable[[], datetime],
        recheck_seconds: float,
    ) -> None:
        self.settings = settings
        self.database = database
        self.clock = clock
        self.public_url = settings.public_url.rstrip("/")
        self.pages = Pages()
        self.cache = RenderCache()
        self.watch = DataVersionWatch(self._read_version, recheck_seconds=recheck_seconds)
        self.api_page = api.ApiPage(settings.site_name, self.public_url, settings.timezone)

    def warm_up(self) -> None:
        """Do at start what the first reader would otherwise wait for; render nothing.

        Locale data, the ORM's mapper set-up and a first connection with the
        version lookup all cost the first request tens of milliseconds otherwise.
        """
        configure_mappers()
        moment = datetime.now(UTC)
        for locale in LOCALES:
            stamp(moment, locale=locale, zone=self.settings.zone)
            format_decimal(99.5, "#,##0.00", locale=locale)
        try:
            self._read_version()
        except SQLAlchemyError as error:
            log.warning("status page: database not reachable at start (%s)", type(error).__name__)

    def routes(self) -> list[BaseRoute]:
        """Every public route, to mount in the web app."""
        endpoints: dict[str, Callable[[Request], Any]] = {
            "/": self.home,
            "/incidents/{incident_ref}": self.incident,
            "/feed.atom": self._feed("atom", "application/atom+xml; charset=utf-8"),
            "/feed.rss": self._feed("rss", "application/rss+xml; charset=utf-8"),
            "/feed.json": self._feed("json", "application/feed+json; charset=utf-8"),
            "/maintenance.ics": self._feed("ics", "text/calendar; charset=utf-8"),
            **{f"/api/v2/{name}": self._api(name, build) for name, build in api.DOCUMENTS.items()},
        }
        return [
            Route(path, endpoint, methods=["GET", "HEAD"]) for path, endpoint in endpoints.items()
        ]

    # -- the machinery every route shares ------------------------------------------------

    def _read_version(self) -> PublicDataVersion:
        with self.database.sessions() as session:
            return public_store.get_public_data_version(session=session)

    def _context(self, lang: str, path: str) -> PageContext:
        return PageContext(
            site=self.settings.site_name,
            public_url=self.public_url,
            lang=lang,
            default_lang=self.settings.locale,
            zone=self.settings.zone,
            path=path,
        )

    async def _cached(
        self, key: tuple[object, ...], lang: str, render: Render, *, extra_version: object = None
    ) -> Rendered | None:
        version = await self.watch.current()

        def run() -> Rendered | None:
            with self.database.sessions() as session:
                view = PublicView(session, locale=lang, zone=self.settings.zone)
                return render(view, version)

        return await self.cache.get(key, (version.token, extra_version), run)

    def _not_found(self, lang: str, path: str) -> Response:
        body = self.pages.not_found(self._context(lang, path))
        headers = {"Cache-Control": CACHE_CONTROL, **PAGE_SECURITY}
        return HTMLResponse(body, status_code=404, headers=headers)

    # -- pages ---------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        """The status page."""
        lang = choose_language(request, self.settings.locale)
        now = self.clock()
        bucket = int(now.timestamp()) // HOME_REFRESH_SECONDS

        def render(view: PublicView, version: PublicDataVersion) -> Rendered:
            page = build_status_page(view, now=now)
            html = self.pages.home(page, self._context(lang, "/"))
            refreshed = datetime.fromtimestamp(bucket * HOME_REFRESH_SECONDS, UTC)
            return rendered(html.encode(), HTML, max(version.changed_at, refreshed), now=now)

        entry = await self._cached(("home", lang), lang, render, extra_version=bucket)
        assert entry is not None
        return respond(request, entry, now=now, extra={"Content-Language": lang, **PAGE_SECURITY})

    async def incident(self, request: Request) -> Response:
        """One incident's page; `INC-5` and `5` both work."""
        lang = choose_language(request, self.settings.locale)
        incident_id = parse_incident_ref(request.path_params["incident_ref"])
        if incident_id is None:
            return self._not_found(lang, request.url.path)
        now = self.clock()

        def render(view: PublicView, version: PublicDataVersion) -> Rendered | None:
            found = view.incident(incident_id)
            if found is None:
                return None
            html = self.pages.incident(found, self._context(lang, f"/incidents/{found.ref}"))
            return rendered(html.encode(), HTML, version.changed_at, now=now)

        entry = await self._cached(("incident", lang, incident_id), lang, render)
        if entry is None:
            return self._not_found(lang, request.url.path)
        return respond(request, entry, now=now, extra={"Content-Language": lang, **PAGE_SECURITY})

    # -- feeds ---------------------------------------------------------------------------

    def _feed(self, kind: str, media_type: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            lang = choose_language(request, self.settings.locale)
            key = request.query_params.get("component", "").strip().lower()[:80]
            now = self.clock()

            def render(view: PublicView, version: PublicDataVersion) -> Rendered | None:
                try:
                    component = view.component_by_key(key) if key else None
                except UnknownComponent:
                    return None
                source = feeds.FeedSource(self._context(lang, "/"), component)
                body = self._feed_body(kind, view, source, component.id if component else None)
                return rendered(body, media_type, version.changed_at, now=now)

            entry = await self._cached((kind, lang, key), lang, render)
            if entry is None:
                return PlainTextResponse(
                    f"No component {key!r}; the component keys are listed at "
                    f"{self.public_url}/api/v2/components.json",
                    status_code=404,
                )
            return respond(request, entry, now=now, extra=_OPEN_TO_ALL)

        return endpoint

    def _feed_body(
        self, kind: str, view: PublicView, source: feeds.FeedSource, component_id: int | None
    ) -> bytes:
        session = view.session
        if kind == "ics":
            rows = public_store.list_maintenance_windows(
                session=session, limit=feeds.CALENDAR_EVENTS, component_id=component_id
            )
            return feeds.calendar(source, view.build(rows))
        rows = public_store.list_recently_changed(
            session=session, limit=feeds.FEED_ENTRIES, component_id=component_id
        )
        items = view.build(rows)
        writer = {"atom": feeds.atom, "rss": feeds.rss, "json": feeds.json_feed}[kind]
        return writer(source, items, self.pages)

    # -- the Statuspage-compatible API ---------------------------------------------------

    def _api(self, name: str, build: api.Document) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            lang = choose_language(request, self.settings.locale)
            now = self.clock()

            def render(view: PublicView, version: PublicDataVersion) -> Rendered:
                document = build(view, self.api_page)
                return rendered(api.encode(document), JSON, version.changed_at, now=now)

            entry = await self._cached(("api", name, lang), lang, render)
            assert entry is not None
            return respond(request, entry, now=now, extra=_OPEN_TO_ALL)

        return endpoint
