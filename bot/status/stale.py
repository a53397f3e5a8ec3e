"""Stale-if-error: while the database does not answer, public routes answer from their last
rendering, the HTML pages with a dated note, and a route never rendered with a 503."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from bot.database import did_not_answer, failure_of
from bot.status.cache import RenderCache, Rendered, Unavailable, rendered
from bot.status.http import PAGE_SECURITY, STALE_CACHE_CONTROL, respond
from bot.status.pages import PageContext, Pages
from bot.status.texts import TEXTS
from commands.public_view import PublicView
from storage.public import PublicDataVersion

log = logging.getLogger(__name__)

# A page never rendered, asked for while the database is down: ask again soon, keep nothing.
UNAVAILABLE_HEADERS = {"Cache-Control": "no-store", "Retry-After": "30"}

Render = Callable[[PublicView, PublicDataVersion], Rendered | None]


def is_outage(error: BaseException) -> bool:
    """True when the database did not answer (down, unreadable, too slow), not for a bug."""
    if isinstance(error, Unavailable | TimeoutError) or did_not_answer(error):
        return True
    return isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated


@dataclass(frozen=True)
class Document:
    """One public response: its cache key, its language and clock, and how it is rendered."""

    key: tuple[object, ...]
    lang: str
    path: str
    now: datetime
    render: Render
    html: bool
    extra_version: object = None
    # The site's fixed documents stay cached whatever a crawler asks for.
    pinned: bool = False
    # The same document in the other languages: better than a 503 when this one was
    # never rendered before the database went away.
    stand_ins: tuple[tuple[str, tuple[object, ...]], ...] = ()
    # True when the data, as of a version, cannot hold the document: answered without a query.
    absent_in: Callable[[PublicDataVersion], bool] | None = None


class LastRenderings:
    """Answers from the render cache's last bodies while the database is down."""

    def __init__(
        self, pages: Pages, cache: RenderCache, context: Callable[[str, str], PageContext]
    ) -> None:
        self.pages = pages
        self.cache = cache
        self.context = context
        self.outage_since: datetime | None = None
        # The data version last confirmed current, and when: a page of that version was
        # current then, however long ago anyone last asked for it.
        self._confirmed: tuple[Hashable, datetime] | None = None
        self._noted: dict[Hashable, Rendered] = {}

    def confirm(self, token: Hashable, now: datetime) -> None:
        """The data version `token` is current at `now`."""
        self._confirmed = (token, now)

    def recovered(self) -> None:
        """The database answered: live pages again (said once per outage)."""
        if self.outage_since is not None:
            log.info("status page: the database answers again; serving live pages")
            self.outage_since = None
            self._noted.clear()

    def answer(
        self, request: Request, document: Document, extra: dict[str, str], error: BaseException
    ) -> Response:
        """The document's last rendering, dated when it is a page; 503 when there is none."""
        if self.outage_since is None:
            self.outage_since = document.now
            # A remembered failure names the original one.
            reason = str(error) if isinstance(error, Unavailable) else failure_of(error)
            log.warning(
                "status page: the database does not answer (%s); serving the last renderings",
                reason,
            )
        candidates = ((document.lang, document.key), *document.stand_ins)
        found = next(
            ((lang, good) for lang, key in candidates if (good := self.cache.last_good(key))), None
        )
        if found is None:
            return self._unavailable(document)
        lang, (entry, as_of, version) = found
        if self._confirmed is not None and _token_of(version) == self._confirmed[0]:
            as_of = max(as_of, self._confirmed[1])
        if lang != document.lang:
            # The page is in another language: its note and its header say that one.
            document = replace(document, lang=lang)
            extra = {**extra, "Content-Language": lang} if "Content-Language" in extra else extra
        if not document.html:
            return respond(
                request, entry, now=document.now, extra=extra, cache_control=STALE_CACHE_CONTROL
            )
        # Undated: a cache holding the noted page must revalidate it by its own ETag, which
        # no live page shares; by date, any process could call it current (304).
        noted = self._with_note(document, entry, as_of)
        return respond(
            request,
            noted,
            now=document.now,
            extra=extra,
            cache_control=STALE_CACHE_CONTROL,
            dated=False,
        )

    def _with_note(self, document: Document, entry: Rendered, as_of: datetime) -> Rendered:
        """The page with its dated note, made once per body and moment, with its own ETag.

        The note makes it another representation: a client holding the live page must
        not be told 304 for it.
        """
        context = self.context(document.lang, document.path)
        # The note names the day once it is not today's: made again when the day turns.
        today = document.now.astimezone(context.zone).date()
        key = (entry.etag, as_of, document.lang, today)
        noted = self._noted.get(key)
        if noted is None:
            body = self.pages.with_stale_note(
                entry.body, as_of=as_of, now=document.now, context=context
            )
            noted = rendered(body, entry.media_type, document.now, now=document.now)
            if len(self._noted) >= len(self.cache) + 16:
                self._noted.clear()
            self._noted[key] = noted
        return noted

    def _unavailable(self, document: Document) -> Response:
        if document.html:
            body = self.pages.unavailable(self.context(document.lang, document.path))
            headers = {**UNAVAILABLE_HEADERS, **PAGE_SECURITY}
            return HTMLResponse(body, status_code=503, headers=headers)
        text = TEXTS[document.lang]["unavailable_text"]
        return PlainTextResponse(text, status_code=503, headers=UNAVAILABLE_HEADERS)


def _token_of(version: Hashable) -> Hashable:
    # A cache entry's version is the data version's token and the document's own part.
    return version[0] if isinstance(version, tuple) and version else version
