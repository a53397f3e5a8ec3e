"""The web app: health check, the status page at `/`, and room for more routes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.database import Database
from bot.health import MOST_CHECKS
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


def test_healthz_answers_503_in_time_when_the_database_is_silent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    gone_quiet, silent, connects = threading.Event(), threading.Event(), []
    engine = make_engine(f"sqlite:///{tmp_path / 'herald.db'}")

    @sa.event.listens_for(engine, "do_connect")
    def hang(*_: object) -> None:
        if gone_quiet.is_set():
            connects.append(1)
            silent.wait(10)  # a server that took the SYN and then went quiet

    monkeypatch.setattr("bot.health.HEALTH_WAIT_SECONDS", 0.05)
    with client_for(engine) as client:
        assert client.get("/healthz").status_code == 200
        engine.dispose()
        gone_quiet.set()
        try:
            with caplog.at_level("INFO", logger="bot.health"):
                answers = [client.get("/healthz") for _ in range(6)]
                assert [a.status_code for a in answers] == [503] * 6
                # A check older than the wait lets a new one go, but the silent server
                # gets no more than MOST_CHECKS threads however many probes come.
                assert len(connects) == MOST_CHECKS
                silent.set()
                gone_quiet.clear()
                assert client.get("/healthz").status_code == 200
        finally:
            silent.set()
        lines = [r.getMessage() for r in caplog.records if r.name == "bot.health"]
        assert len(lines) == 2, lines  # one line when it went, one when it came back
        assert "answers again" in lines[1]


def test_home_shows_open_incidents_escaped(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    make_incident(ctx, "<script>alert(1)</script> posta")
    closed = make_incident(ctx, "Già risolto")
    run(ctx, f"resolve {closed}")
    page = client_for(engine).get("/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; posta" in page
    assert "<script>" not in page
    assert "<title>Stato &lt;servizi&gt;: " in page
    active = page[page.index('id="incidents-title"') : page.index('id="components-title"')]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; posta" in active
    assert "In analisi" in active
    assert "Già risolto" not in active
    assert "Già risolto (risolto)" in page  # in the history instead
    english = client_for(engine).get("/?lang=en").text
    assert '<html lang="en">' in english
    assert "Investigating" in english
    assert "Già risolto (resolved)" in english


def test_extra_routes_are_served_beside_the_status_page(engine: sa.Engine) -> None:
    async def metrics(request: Request) -> Response:
        return PlainTextResponse("herald_up 1\n")

    settings = Settings(_env_file=None)
    database = Database(engine, make_session_factory(engine))
    client = TestClient(create_app(settings, database, [Route("/metrics", metrics)]))
    assert client.get("/metrics").text == "herald_up 1\n"
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/").status_code == 200
