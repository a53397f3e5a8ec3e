"""The public routes: status page, incident pages, feeds, calendar and the Statuspage-style API.

Each is a Document rendered once per data version; while the database does not answer,
the last renderings stand in (bot.status.stale).
"""

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

from bot.database import Database, failure_of
from bot.settings import Settings
from bot.status import feeds
from bot.status import statuspage_api as api
from bot.status.cache import DataVersionWatch, RenderCache, Rendered, rendered
from bot.status.http import CACHE_CONTROL, PAGE_SECURITY, choose_language, respond
from bot.status.pages import PageContext, Pages
from bot.status.stale import Document, LastRenderings, is_outage
from commands.public_view import PublicIncident, PublicView, UnknownComponent
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
FEEDS = {
    "atom": ("feed.atom", "application/atom+xml; charset=utf-8"),
    "rss": ("feed.rss", "application/rss+xml; charset=utf-8"),
    "json": ("feed.json", "application/feed+json; charset=utf-8"),
    "ics": ("maintenance.ics", "text/calendar; charset=utf-8"),
}
# Numbers this far past the highest known one a moment ago are looked up all the same: an
# incident opened within the last interval is asked for at once (link previews).
JUST_OPENED = 50
# Incident pages the static export writes at most, newest first.
EXPORT_INCIDENTS = 5000


def parse_incident_ref(text: str) -> int | None:
    """The number in `INC-5`, `inc5` or `5`; None for anything else."""
    match = _INCIDENT_REF.fullmatch(text.strip())
    return int(match.group(1)) if match else None


class StatusSite:
    """The public side of Herald: every page and feed, each rendered once per data version.

    While the database does not answer, each route answers from its last rendering,
    HTML with a dated note, and a route never rendered answers 503.
    """

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
        self.pages = Pages(by_mail=settings.smtp_url is not None and settings.mail_from is not None)
        self.cache = RenderCache()
        self.watch = DataVersionWatch(
            self._read_version, recheck_seconds=recheck_seconds, is_outage=is_outage
        )
        self.api_page = api.ApiPage(settings.site_name, self.public_url, settings.timezone)
        self.stale = LastRenderings(self.pages, self.cache, self._context)

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
            if is_outage(error):
                log.warning("status page: database not reachable at start (%s)", failure_of(error))
            else:
                log.error("status page: the data version cannot be read", exc_info=error)

    async def prepare(self) -> None:
        """Render the fixed documents in every language once, so that each can stand in
        during an outage even if no reader of this process asked for it before."""
        now = self.clock()
        try:
            for lang in LOCALES:
                for document in self.site_documents(lang, now):
                    await self.cached(document)
        except Exception as error:
            if is_outage(error):
                log.info("status page: not prepared at start, the database does not answer")
            else:
                log.error("status page: the fixed documents could not be rendered", exc_info=error)

    def routes(self) -> list[BaseRoute]:
        """Every public route, to mount in the web app."""
        endpoints: dict[str, Callable[[Request], Any]] = {
            "/": self.home,
            "/incidents/{incident_ref}": self.incident,
            **{f"/{name}": self._feed(kind) for kind, (name, _) in FEEDS.items()},
            **{f"/api/v2/{name}": self._api(name) for name in api.DOCUMENTS},
        }
        return [
            Route(path, endpoint, methods=["GET", "HEAD"]) for path, endpoint in endpoints.items()
        ]

    # -- the documents -------------------------------------------------------------------

    def home_document(self, lang: str, now: datetime) -> Document:
        """The status page, rendered again every HOME_REFRESH_SECONDS as time passes."""
        bucket = int(now.timestamp()) // HOME_REFRESH_SECONDS

        def render(view: PublicView, version: PublicDataVersion) -> Rendered:
            page = build_status_page(view, now=now)
            html = self.pages.home(page, self._context(lang, "/"))
            refreshed = datetime.fromtimestamp(bucket * HOME_REFRESH_SECONDS, UTC)
            return rendered(html.encode(), HTML, max(version.changed_at, refreshed), now=now)

        return Document(
            ("home", lang),
            lang,
            "/",
            now,
            render,
            html=True,
            extra_version=bucket,
            pinned=True,
            stand_ins=_elsewhere(lang, lambda other: ("home", other)),
        )

    def incident_document(self, lang: str, incident_id: int, path: str, now: datetime) -> Document:
        """One incident's page with its whole public timeline."""

        def render(view: PublicView, version: PublicDataVersion) -> Rendered | None:
            found = view.incident(incident_id)
            if found is None:
                return None
            html = self.pages.incident(found, self._context(lang, f"/incidents/{found.ref}"))
            return rendered(html.encode(), HTML, version.changed_at, now=now)

        return Document(
            ("incident", lang, incident_id),
            lang,
            path,
            now,
            render,
            html=True,
            stand_ins=_elsewhere(lang, lambda other: ("incident", other, incident_id)),
            absent_in=lambda version: incident_id > version.highest_incident + JUST_OPENED,
        )

    def feed_document(self, kind: str, lang: str, component_key: str, now: datetime) -> Document:
        """A feed or the calendar, optionally narrowed to one component."""
        name, media_type = FEEDS[kind]

        def render(view: PublicView, version: PublicDataVersion) -> Rendered | None:
            try:
                component = view.component_by_key(component_key) if component_key else None
            except UnknownComponent:
                return None
            source = feeds.FeedSource(self._context(lang, "/"), component)
            body = self._feed_body(kind, view, source, component.id if component else None)
            return rendered(body, media_type, version.changed_at, now=now)

        return Document(
            (kind, lang, component_key),
            lang,
            f"/{name}",
            now,
            render,
            html=False,
            pinned=not component_key,
            stand_ins=_elsewhere(lang, lambda other: (kind, other, component_key)),
        )

    def api_document(self, name: str, lang: str, now: datetime) -> Document:
        """One of the Statuspage-compatible API documents."""
        build = api.DOCUMENTS[name]

        def render(view: PublicView, version: PublicDataVersion) -> Rendered:
            document = build(view, self.api_page)
            return rendered(api.encode(document), JSON, version.changed_at, now=now)

        return Document(
            ("api", name, lang),
            lang,
            f"/api/v2/{name}",
            now,
            render,
            html=False,
            pinned=True,
            stand_ins=_elsewhere(lang, lambda other: ("api", name, other)),
        )

    def site_documents(self, lang: str, now: datetime) -> list[Document]:
        """Every document at a fixed address: the page, the feeds, the calendar, the API."""
        return [
            self.home_document(lang, now),
            *(self.feed_document(kind, lang, "", now) for kind in FEEDS),
            *(self.api_document(name, lang, now) for name in api.DOCUMENTS),
        ]

    def render_incident_pages(
        self, lang: str, shown: dict[str, PublicIncident]
    ) -> dict[str, bytes]:
        """The pages of the newest incidents that differ from `shown`, which is brought up to date.

        Rendered in this thread. Comparing what a page shows, not when its incident
        last changed, also catches a correction or a renamed component, and renders
        only the few pages a change touched instead of thousands.
        """
        with self.database.sessions() as session:
            view = PublicView(session, locale=lang, zone=self.settings.zone)
            rows = public_store.list_recently_changed(session=session, limit=EXPORT_INCIDENTS)
            latest = {f"/incidents/{found.ref}": found for found in view.build(rows)}
        changed = {path: found for path, found in latest.items() if shown.get(path) != found}
        shown.clear()
        shown.update(latest)
        return {
            path: self.pages.incident(found, self._context(lang, path)).encode()
            for path, found in changed.items()
        }

    async def cached(self, document: Document) -> Rendered | None:
        """The document's body at the current data version; raises when the database fails."""
        version = await self.watch.current()
        self.stale.confirm(version.token, document.now)
        if document.absent_in is not None and document.absent_in(version):
            self.stale.recovered()
            return None

        def run() -> Rendered | None:
            with self.database.sessions() as session:
                view = PublicView(session, locale=document.lang, zone=self.settings.zone)
                return document.render(view, version)

        found = await self.cache.get(
            document.key,
            (version.token, document.extra_version),
            run,
            current_at=document.now,
            pinned=document.pinned,
        )
        self.stale.recovered()
        return found

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

    async def _answer(
        self,
        request: Request,
        document: Document,
        extra: dict[str, str],
        missing: Callable[[], Response],
    ) -> Response:
        try:
            entry = await self.cached(document)
        except Exception as error:
            if not is_outage(error):
                raise
            return self.stale.answer(request, document, extra, error)
        if entry is None:
            return missing()
        return respond(request, entry, now=document.now, extra=extra)

    def _not_found(self, lang: str, path: str) -> Response:
        body = self.pages.not_found(self._context(lang, path))
        headers = {"Cache-Control": CACHE_CONTROL, **PAGE_SECURITY}
        return HTMLResponse(body, status_code=404, headers=headers)

    # -- routes --------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        """The status page."""
        lang = choose_language(request, self.settings.locale)
        document = self.home_document(lang, self.clock())
        extra = {"Content-Language": lang, **PAGE_SECURITY}
        return await self._answer(request, document, extra, _never)

    async def incident(self, request: Request) -> Response:
        """One incident's page; `INC-5` and `5` both work."""
        lang = choose_language(request, self.settings.locale)
        incident_id = parse_incident_ref(request.path_params["incident_ref"])
        if incident_id is None:
            return self._not_found(lang, request.url.path)
        document = self.incident_document(lang, incident_id, request.url.path, self.clock())
        extra = {"Content-Language": lang, **PAGE_SECURITY}
        return await self._answer(
            request, document, extra, lambda: self._not_found(lang, request.url.path)
        )

    def _feed(self, kind: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            lang = choose_language(request, self.settings.locale)
            key = request.query_params.get("component", "").strip().lower()[:80]
            document = self.feed_document(kind, lang, key, self.clock())

            def missing() -> Response:
                return PlainTextResponse(
                    f"No component {key!r}; the component keys are listed at "
                    f"{self.public_url}/api/v2/components.json",
                    status_code=404,
                )

            return await self._answer(request, document, _OPEN_TO_ALL, missing)

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

    def _api(self, name: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            lang = choose_language(request, self.settings.locale)
            document = self.api_document(name, lang, self.clock())
            return await self._answer(request, document, _OPEN_TO_ALL, _never)

        return endpoint


def _elsewhere(
    lang: str, key_in: Callable[[str], tuple[object, ...]]
) -> tuple[tuple[str, tuple[object, ...]], ...]:
    """A document's keys in the languages other than `lang`, each with its language."""
    return tuple((other, key_in(other)) for other in LOCALES if other != lang)


def _never() -> Response:
    raise AssertionError("this document always renders")
