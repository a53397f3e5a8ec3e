"""Build the web app on the test database, with the test's clock and no version throttle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bot.database import Database
from bot.settings import Settings
from bot.status.views import StatusSite
from bot.web import create_app
from commands.context import Context
from commands.public_view import IMPACTS, PublicComponent, PublicIncident
from storage.engine import make_session_factory
from storage.models import IncidentKind, IncidentStatus
from tests.factories import FakeClock, make_context, run

PUBLIC_URL = "https://status.example.it"
CHANNEL = "-1009876543210"
NOTE = "NOTA-RISERVATA ticket 4242 sul nodo mx3"


def status_app(
    engine: sa.Engine, clock: FakeClock, *, recheck_seconds: float = 0.0, **settings: Any
) -> Starlette:
    """The app on this database, reading the test's clock, seeing every change at once."""
    values: dict[str, Any] = {"public_url": PUBLIC_URL, "site_name": "Stato servizi"}
    values.update(settings)
    config = Settings(_env_file=None, **values)
    database = Database(engine, make_session_factory(engine))
    return create_app(config, database, clock=clock, recheck_seconds=recheck_seconds)


def status_client(engine: sa.Engine, clock: FakeClock, **kwargs: Any) -> TestClient:
    """A test client for status_app."""
    return TestClient(status_app(engine, clock, **kwargs))


def site_of(client: TestClient) -> StatusSite:
    """The status site behind a client, to read its render and lookup counters."""
    site = client.app.state.status_site  # type: ignore[attr-defined]
    assert isinstance(site, StatusSite)
    return site


def seed_status(sessions: sessionmaker[Session], clock: FakeClock) -> Context:
    """Components, an open incident with a note, a resolved one, and two maintenance windows.

    The clock starts at 28/01/2025 14:50 in Rome; the windows are after it.
    """
    ctx = make_context(sessions, clock)
    for key, name in (("posta", "Posta"), ("web", "Web"), ("dns", "DNS")):
        run(ctx, f"components add {key} {name}")
    run(ctx, f"channels add telegram {CHANNEL} --components posta")
    run(ctx, 'open "Guasto DNS" --sev 3 --components dns --at "27/01/2025 09:00"')
    run(ctx, 'resolve INC-1 --at "27/01/2025 10:30" "Risolto il guasto DNS"')
    clock.advance(minutes=5)
    run(
        ctx,
        'open "Problemi consegna posta" --sev 2 --components posta '
        '--message "Le mail verso Office365 sono in ritardo"',
    )
    clock.advance(minutes=5)
    run(ctx, f'note INC-2 "{NOTE}"')
    run(ctx, 'update INC-2 --status identified "Individuata la causa sul cluster"')
    run(
        ctx,
        'maintenance schedule "Aggiornamento server web" --start "30/01/2025 10:00" '
        '--end "30/01/2025 12:00" --components web --message "Riavvio dei server"',
    )
    run(
        ctx,
        'maintenance schedule "Sostituzione switch" --start "28/01/2025 14:00" '
        '--end "28/01/2025 18:00" --components dns --manual --at "20/01/2025 09:00"',
    )
    run(ctx, 'maintenance start INC-4 --at "28/01/2025 14:00"')
    return ctx


def public_incident(
    n: int,
    start: datetime,
    end: datetime | None,
    *,
    severity: int | None = 1,
    kind: IncidentKind = IncidentKind.INCIDENT,
    status: IncidentStatus | None = None,
    components: tuple[PublicComponent, ...],
) -> PublicIncident:
    """A public incident built directly, with just the facts the status logic reads."""
    closed = (
        IncidentStatus.COMPLETED if kind == IncidentKind.MAINTENANCE else (IncidentStatus.RESOLVED)
    )
    return PublicIncident(
        id=n,
        ref=f"INC-{n}",
        kind=kind,
        title=f"Incidente {n}",
        display_title=f"Incidente {n}",
        status=status or (closed if end else IncidentStatus.INVESTIGATING),
        status_label="",
        severity=severity,
        impact="maintenance" if kind == IncidentKind.MAINTENANCE else IMPACTS[severity or 4],
        impact_label=None,
        opened_at=start,
        closed_at=end,
        window_start=start if kind == IncidentKind.MAINTENANCE else None,
        window_end=end if kind == IncidentKind.MAINTENANCE else None,
        window_text=None,
        components=components,
        timeline=(),
        updated_at=end or start,
    )
