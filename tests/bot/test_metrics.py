"""/metrics exposes delivery counters and the outbox's depth and age."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bot.database import Database
from bot.metrics import metrics_route
from storage.engine import make_session_factory
from tests.factories import FakeClock, make_channel, make_context, make_incident


def test_metrics_show_queue_depth_and_counters(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    make_channel(ctx, "-1001")
    make_channel(ctx, "-1002")
    make_incident(ctx)
    app = Starlette(routes=[metrics_route(Database(engine, make_session_factory(engine)))])
    body = TestClient(app).get("/metrics").text
    assert "herald_delivery_queue_depth 2.0" in body
    assert "herald_delivery_oldest_pending_age_seconds" in body
    assert "# TYPE herald_deliveries_sent_total counter" in body
    assert "# TYPE herald_deliveries_dead_total counter" in body


def test_with_a_token_metrics_want_it_as_a_bearer_token(engine: sa.Engine) -> None:
    database = Database(engine, make_session_factory(engine))
    http = TestClient(Starlette(routes=[metrics_route(database, token="s3cret-metrics")]))
    assert http.get("/metrics").status_code == 401
    wrong = {"Authorization": "Bearer not-it"}
    assert http.get("/metrics", headers=wrong).status_code == 401
    odd = {b"Authorization": "Bearer è".encode()}
    assert http.get("/metrics", headers=odd).status_code == 401
    right = http.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert right.status_code == 200
    assert "herald_delivery_queue_depth" in right.text
