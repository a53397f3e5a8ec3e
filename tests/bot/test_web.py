"""The web app: health check and the plain list of open incidents."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.testclient import TestClient

from bot.database import Database
from bot.settings import Settings
from bot.web import create_app
from storage.engine import make_engine, make_session_factory
from tests.factories import FakeClock, make_context, make_incident, run


def client_for(engine: sa.Engine) -> TestClient:
    settings = Settings(_env_file=None, site_name="Stato <servizi>")
    return TestClient(create_app(settings, Database(engine, make_session_factory(engine))))


def test_healthz_reports_the_database(engine: sa.Engine) -> None:
    response = client_for(engine).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_fails_when_the_database_is_gone(tmp_path: object) -> None:
    broken = make_engine("sqlite:////nonexistent-dir/herald.db")
    response = client_for(broken).get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_home_lists_open_incidents_escaped(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    make_incident(ctx, "<script>alert(1)</script> posta")
    closed = make_incident(ctx, "Già risolto")
    run(ctx, f"resolve {closed}")
    page = client_for(engine).get("/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; posta" in page
    assert "<script>" not in page
    assert "Stato &lt;servizi&gt;" in page
    assert "Già risolto" not in page
    assert "In analisi" in page
    assert "Investigating" in client_for(engine).get("/?lang=en").text
