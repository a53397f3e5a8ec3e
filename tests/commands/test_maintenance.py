"""Maintenance: scheduled -> in_progress -> completed, or cancelled; on time by itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from commands.context import Context
from commands.errors import Refused, UsageError
from commands.maintenance import advance_due_maintenance
from storage.models import Incident, IncidentStatus, Update, UpdateKind
from tests.factories import FakeClock, make_incident, run

# The clock starts at 2025-01-28 13:50 UTC (14:50 in Rome).
WINDOW = '--start "28/01/2025 22:00" --end "29/01/2025 02:00"'


def schedule(ctx: Context, extra: str = "") -> int:
    reply = run(ctx, f"maintenance schedule Aggiornamento server di posta {WINDOW} {extra}")
    assert reply.incident_id is not None
    return reply.incident_id


def state(
    sessions: sessionmaker[Session], incident_id: int
) -> tuple[IncidentStatus, list[UpdateKind]]:
    with sessions() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        kinds = session.exec(
            select(Update.kind).where(Update.incident_id == incident_id).order_by(Update.number)  # type: ignore[arg-type]
        ).all()
    return incident.status, [UpdateKind(k) for k in kinds]


def test_schedule_reads_the_window_in_the_configured_zone(
    ctx: Context, sessions: sessionmaker[Session]
) -> None:
    incident_id = schedule(ctx, "--components posta")
    with sessions() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        assert incident.window_start == datetime(2025, 1, 28, 21, 0, tzinfo=UTC)
        assert incident.window_end == datetime(2025, 1, 29, 1, 0, tzinfo=UTC)
    assert state(sessions, incident_id) == (
        IncidentStatus.SCHEDULED,
        [UpdateKind.MAINTENANCE_SCHEDULED],
    )


def test_end_must_follow_start(ctx: Context) -> None:
    with pytest.raises(UsageError, match="end after it starts"):
        run(ctx, 'maintenance schedule X --start "29/01/2025 10:00" --end "29/01/2025 09:00"')


def test_starts_and_completes_by_itself_on_time(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = schedule(ctx)
    assert advance_due_maintenance(ctx) == []
    clock.current = datetime(2025, 1, 28, 21, 0, 1, tzinfo=UTC)
    assert advance_due_maintenance(ctx) == [incident_id]
    assert state(sessions, incident_id)[0] == IncidentStatus.IN_PROGRESS
    assert advance_due_maintenance(ctx) == []
    clock.current = datetime(2025, 1, 29, 1, 0, 0, tzinfo=UTC)
    advance_due_maintenance(ctx)
    status, kinds = state(sessions, incident_id)
    assert status == IncidentStatus.COMPLETED
    assert kinds[1:] == [UpdateKind.MAINTENANCE_STARTED, UpdateKind.MAINTENANCE_COMPLETED]
    with sessions() as session:
        steps = session.exec(select(Update).where(Update.incident_id == incident_id)).all()
    assert {u.author for u in steps[1:]} == {"Herald"}
    assert steps[1].at == datetime(2025, 1, 28, 21, 0, tzinfo=UTC)


def test_a_missed_window_starts_and_completes_in_one_pass(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = schedule(ctx)
    clock.advance(days=2)
    advance_due_maintenance(ctx)
    assert state(sessions, incident_id)[1][1:] == [
        UpdateKind.MAINTENANCE_STARTED,
        UpdateKind.MAINTENANCE_COMPLETED,
    ]


def test_manual_maintenance_waits_to_be_told(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = schedule(ctx, "--manual")
    clock.advance(days=2)
    assert advance_due_maintenance(ctx) == []
    run(ctx, f"maintenance start {incident_id}")
    run(ctx, f"maintenance complete {incident_id} Fatto")
    assert state(sessions, incident_id)[0] == IncidentStatus.COMPLETED


def test_step_rules(ctx: Context) -> None:
    incident_id = schedule(ctx)
    run(ctx, f"maintenance start {incident_id}")
    with pytest.raises(Refused, match="cannot start now"):
        run(ctx, f"maintenance start {incident_id}")
    run(ctx, f"maintenance cancel {incident_id}")
    with pytest.raises(Refused, match="cannot complete now"):
        run(ctx, f"maintenance complete {incident_id}")
    with pytest.raises(Refused, match="cannot be extended"):
        run(ctx, f'maintenance extend {incident_id} --end "30/01/2025 10:00"')


def test_extend_moves_the_end_and_tells_customers(
    ctx: Context, sessions: sessionmaker[Session]
) -> None:
    incident_id = schedule(ctx)
    run(ctx, f'maintenance extend {incident_id} --end "29/01/2025 03:30"')
    with sessions() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        assert incident.window_end == datetime(2025, 1, 29, 2, 30, tzinfo=UTC)
    assert state(sessions, incident_id)[1][-1] == UpdateKind.MAINTENANCE_EXTENDED
    with pytest.raises(Refused, match="after the start"):
        run(ctx, f'maintenance extend {incident_id} --end "28/01/2025 21:00"')


def test_maintenance_verbs_refuse_incidents_and_back(ctx: Context) -> None:
    incident_id = make_incident(ctx)
    with pytest.raises(Refused, match="is an incident, not a maintenance"):
        run(ctx, f"maintenance start {incident_id}")
    maintenance_id = schedule(ctx)
    with pytest.raises(Refused, match="maintenance complete"):
        run(ctx, f"resolve {maintenance_id}")
    with pytest.raises(Refused, match="no incident status"):
        run(ctx, f"update {maintenance_id} --status identified testo")
    assert run(ctx, f"update {maintenance_id} Nota per i clienti").changed


def test_a_locked_read_sees_what_another_worker_committed(
    engine: sa.Engine, ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers: no other worker can commit in between")
    from storage.incidents import get_incident, list_due_maintenance

    incident_id = schedule(ctx)
    clock.advance(hours=8)
    with sessions() as session, session.begin():
        [due] = list_due_maintenance(session=session, now=clock())
        assert due.status == IncidentStatus.SCHEDULED
        assert advance_due_maintenance(ctx) == [incident_id]  # another worker, another session
        locked = get_incident(session=session, incident_id=incident_id, for_change=True)
        assert locked is not None
        assert locked.status == IncidentStatus.IN_PROGRESS
