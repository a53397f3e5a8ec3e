"""Datetimes come back timezone-aware in UTC, whatever zone they were stored from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from storage.engine import normalize_database_url
from storage.incidents import create_incident, get_incident
from storage.models import IncidentKind, IncidentStatus


def test_aware_datetimes_round_trip_as_utc(sessions: sessionmaker[Session]) -> None:
    rome_summer = timezone(timedelta(hours=2))
    opened = datetime(2025, 7, 1, 12, 0, tzinfo=rome_summer)
    with sessions() as session, session.begin():
        incident = create_incident(
            session=session,
            kind=IncidentKind.INCIDENT,
            title="t",
            status=IncidentStatus.INVESTIGATING,
            opened_by="a",
            at=opened,
        )
        incident_id = incident.id
    assert incident_id is not None
    with sessions() as session:
        loaded = get_incident(session=session, incident_id=incident_id)
        assert loaded is not None
        assert loaded.opened_at.tzinfo is not None
        assert loaded.opened_at.utcoffset() == timedelta(0)
        assert loaded.opened_at == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(Exception, match="naive datetime"), sessions() as session, session.begin():
        create_incident(
            session=session,
            kind=IncidentKind.INCIDENT,
            title="t",
            status=IncidentStatus.INVESTIGATING,
            opened_by="a",
            at=datetime(2025, 7, 1, 12, 0),
        )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_people_paste_are_accepted(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_no_database_url_means_a_sqlite_file_here() -> None:
    url = normalize_database_url(None)
    assert url.startswith("sqlite:///")
    assert url.endswith("/herald.db")
