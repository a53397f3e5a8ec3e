"""`GET /metrics`: Prometheus text exposition of Herald's counters and queue gauges."""

from __future__ import annotations

import hmac
import logging

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.database import Database
from bot.delivery.metrics import register_queue_metrics
from storage.models import utcnow

log = logging.getLogger(__name__)


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Compared as bytes: compare_digest refuses a str with non-ASCII characters.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode()
    )


def metrics_route(database: Database, token: str | None = None) -> Route:
    """The /metrics route; with a token (METRICS_TOKEN) it wants `Authorization: Bearer …`.

    The queue gauges read the database at each scrape.
    """
    register_queue_metrics(database.sessions, utcnow)
    if token is None:
        log.info("/metrics is open to anyone who reaches the web app; set METRICS_TOKEN if public")

    async def metrics(request: Request) -> Response:
        if token is not None and not _authorized(request, token):
            return PlainTextResponse(
                "Metrics need `Authorization: Bearer METRICS_TOKEN`.",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        body = await run_in_threadpool(generate_latest)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics)
