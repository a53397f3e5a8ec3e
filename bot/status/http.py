"""HTTP details of the public pages: language, compression and conditional requests."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response

from bot.status.cache import Rendered
from commands.wording import LOCALES

# stale-if-error lets a CDN in front keep serving its copy for a day while Herald, or its
# database, answers with an error or not at all (RFC 5861).
CACHE_CONTROL = "public, max-age=30, stale-if-error=86400"
# A copy served from the last rendering while the database is down: kept briefly, so the
# live page returns soon after the database does.
STALE_CACHE_CONTROL = "public, max-age=5, stale-if-error=86400"
VARY = "Accept-Encoding, Accept-Language"
# The pages need no script, frame or plugin: forbidding them all makes any escaping slip
# that might ever happen inert.
PAGE_SECURITY = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def _weighted(header: str) -> list[tuple[str, float]]:
    """The items of an Accept-* header with their q-values, best first (ties keep order)."""
    items: list[tuple[str, float]] = []
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name.strip():
            items.append((name.strip().lower(), quality))
    return sorted(items, key=lambda item: -item[1])


def choose_language(request: Request, default: str) -> str:
    """`?lang=it|en` first, then the best of Accept-Language that Herald speaks, else default."""
    asked = request.query_params.get("lang", "").strip().lower()
    if asked in LOCALES:
        return asked
    for tag, quality in _weighted(request.headers.get("accept-language", "")):
        base = tag.split("-")[0]
        if quality > 0 and base in LOCALES:
            return base
    return default if default in LOCALES else LOCALES[0]


def accepts_gzip(request: Request) -> bool:
    """True when the client takes gzip (and did not refuse it with q=0)."""
    weights = dict(_weighted(request.headers.get("accept-encoding", "")))
    return weights.get("gzip", weights.get("*", 0.0)) > 0


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def _not_modified_since(header: str, entry: Rendered, now: datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    # A date after the server's own time is invalid and must be ignored (RFC 9110
    # section 13.1.3): otherwise a wrong client clock pins a stale page until that date.
    if since.tzinfo is None or since > now:
        return False
    return entry.last_modified <= since


def respond(
    request: Request,
    entry: Rendered,
    *,
    now: datetime,
    extra: dict[str, str] | None = None,
    cache_control: str = CACHE_CONTROL,
    dated: bool = True,
) -> Response:
    """The cached body, gzipped if the client takes it, or 304 when the client has it already.

    If-None-Match wins over If-Modified-Since, as RFC 9110 says; the gzip body
    has its own ETag, since it is a different representation. `now` is the site's
    clock, which decides what an If-Modified-Since in the future is. An undated
    response carries no Last-Modified and answers If-None-Match only.
    """
    packed = entry.gzipped is not None and accepts_gzip(request)
    etag = f'{entry.etag[:-1]}-gz"' if packed else entry.etag
    headers = {
        "ETag": etag,
        **({"Last-Modified": format_datetime(entry.last_modified, usegmt=True)} if dated else {}),
        "Cache-Control": cache_control,
        "Vary": VARY,
        "X-Content-Type-Options": "nosniff",
        **(extra or {}),
    }
    match = request.headers.get("if-none-match")
    if match is not None:
        fresh = _etag_matches(match, etag)
        if not fresh and packed and _etag_matches(match, entry.etag):
            # The client holds the plain body, which is just as current.
            fresh, headers["ETag"] = True, entry.etag
    else:
        since = request.headers.get("if-modified-since") if dated else None
        fresh = since is not None and _not_modified_since(since, entry, now)
    if fresh:
        return Response(status_code=304, headers=headers)
    if packed:
        assert entry.gzipped is not None
        headers["Content-Encoding"] = "gzip"
        return Response(entry.gzipped, media_type=entry.media_type, headers=headers)
    return Response(entry.body, media_type=entry.media_type, headers=headers)
