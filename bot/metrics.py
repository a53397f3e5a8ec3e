"""`GET /metrics`: Prometheus text exposition of Herald's counters and queue gauges."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.database import Database
from bot.delivery.metrics import register_queue_metrics
from storage.models import utcnow


def metrics_route(database: Database) -> Route:
    """The /metrics route; the queue gauges read the database at each scrape."""
    register_queue_metrics(database.sessions, utcnow)

    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(generate_latest)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics)
