"""A period's aggregate figures on a known set of incidents, on each backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from storage.components import create_component, set_components_of
from storage.incidents import create_incident, get_incident
from storage.models import Component, IncidentKind, IncidentStatus, UpdateKind
from storage.summary import (
    ImpactSpan,
    MaintenanceDone,
    ResolvedIncident,
    count_opened_by_day_and_severity,
    count_opened_by_severity,
    count_resolved,
    get_longest_resolved,
    get_maintenance_done,
    get_mean_seconds_to_first_update,
    get_mean_seconds_to_resolve,
    list_impact_spans,
    seconds_between,
    sum_incident_seconds,
)
from storage.types import UTCDateTime
from storage.updates import create_update

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 4, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def add(
    session: Session,
    title: str,
    opened: datetime,
    closed: datetime | None = None,
    *,
    sev: int | None = 2,
    kind: IncidentKind = IncidentKind.INCIDENT,
    status: IncidentStatus | None = None,
    components: tuple[Component, ...] = (),
) -> int:
    """An incident (resolved when closed is given) or maintenance; its id."""
    if status is None:
        status = IncidentStatus.RESOLVED if closed else IncidentStatus.INVESTIGATING
    incident = create_incident(
        session=session,
        kind=kind,
        title=title,
        status=status,
        opened_by="ada",
        at=opened,
        severity=sev if kind == IncidentKind.INCIDENT else None,
    )
    incident.closed_at = closed
    session.add(incident)
    assert incident.id is not None
    set_components_of(session=session, incident_id=incident.id, components=components)
    session.flush()
    return incident.id


@pytest.fixture
def known(sessions: sessionmaker[Session]) -> dict[str, int]:
    """March 2025 with incidents inside it, across its start and end, and outside it."""
    with sessions() as session, session.begin():
        posta = create_component(session=session, key="posta", name="Posta")
        web = create_component(session=session, key="web", name="Web")
        ids = {
            "inside": add(
                session,
                "A",
                START + DAY + 10 * HOUR,
                START + DAY + 12 * HOUR,
                sev=1,
                components=(posta,),
            ),
            "across_start": add(
                session, "B", START - HOUR, START + 3 * HOUR, components=(posta, web)
            ),
            "open_across_end": add(session, "C", END - HOUR, sev=3, components=(web,)),
            "minor": add(
                session,
                "D",
                START + 10 * DAY,
                START + 10 * DAY + HOUR / 2,
                sev=4,
                components=(posta,),
            ),
            "overlapping": add(
                session, "E", START + DAY + 11 * HOUR, START + DAY + 13 * HOUR, components=(posta,)
            ),
            "open_all_along": add(session, "F", START - 5 * DAY, sev=3),
            "resolved_after_end": add(session, "G", END - HOUR / 2, END + HOUR, components=(web,)),
            "before": add(
                session, "H", START - 3 * DAY, START - 2 * DAY, sev=1, components=(posta,)
            ),
            "after": add(session, "I", END + HOUR, sev=1, components=(posta,)),
        }
        for title, opened, closed, status in (
            ("done", START + 5 * DAY, START + 5 * DAY + 2 * HOUR, IncidentStatus.COMPLETED),
            ("done before", START - 9 * DAY, START - 9 * DAY + HOUR, IncidentStatus.COMPLETED),
            ("ahead", START + 6 * DAY, None, IncidentStatus.SCHEDULED),
            ("called off", START + 7 * DAY, START + 7 * DAY, IncidentStatus.CANCELLED),
        ):
            add(session, title, opened, closed, kind=IncidentKind.MAINTENANCE, status=status)
    return ids


def test_opened_counts_by_severity_only_incidents_opened_in_the_period(
    sessions: sessionmaker[Session], known: dict[str, int]
) -> None:
    with sessions() as session:
        found = count_opened_by_severity(session=session, start=START, end=END)
    assert found == {1: 1, 2: 2, 3: 1, 4: 1}


def test_resolved_counts_those_closed_in_the_period_or_after_its_end(
    sessions: sessionmaker[Session], known: dict[str, int]
) -> None:
    with sessions() as session:
        assert count_resolved(session=session, start=START, end=END) == 5


def test_mean_time_to_resolve_is_over_whole_incidents(
    sessions: sessionmaker[Session], known: dict[str, int]
) -> None:
    with sessions() as session:
        mean = get_mean_seconds_to_resolve(session=session, start=START, end=END)
    # inside 2 h, across the start 4 h, minor 30 min, overlapping 2 h, after the end 1 h 30
    assert mean == (2 + 4 + 0.5 + 2 + 1.5) * 3600 / 5


def test_the_longest_resolved_counts_time_before_the_period(
    sessions: sessionmaker[Session], known: dict[str, int]
) -> None:
    with sessions() as session:
        longest = get_longest_resolved(session=session, start=START, end=END)
    assert longest == ResolvedIncident(known["across_start"], "B", START - HOUR, START + 3 * HOUR)


def test_a_period_without_resolved_incidents_has_no_mean_nor_longest(
    sessions: sessionmaker[Session], known: dict[str, int]
) -> None:
    later = (END + DAY, END + 2 * DAY)
    with sessions() as session:
        assert count_resolved(session=session, start=later[0], end=later[1]) == 0
        assert get_mean_seconds_to_resolve(session=session, start=later[0], end=later[1]) is None
        assert get_longest_resolved(session=session, start=later[0], end=later[1]) is None
        assert count_opened_by_severity(session=session, start=later[0], end=later[1]) == {}


def test_incident_time_clips_each_incident_to_the_period(
    sessions: sessionmaker[Session], known: dict[str, int]
) -> None:
    with sessions() as session:
        total = sum_incident_seconds(session=session, start=START, end=END)
    clipped = {
        "inside": 2 * HOUR,
        "across_start": 3 * HOUR,
        "open_across_end": HOUR,
        "minor": HOUR / 2,
        "overlapping": 2 * HOUR,
        "open_all_along": END - START,
        "resolved_after_end": HOUR / 2,
    }
    assert total == sum(clipped.values(), timedelta()).total_seconds()


def test_only_maintenance_completed_in_the_period_counts(
    sessions: sessionmaker[Session], known: dict[str, int]
) -> None:
    with sessions() as session:
        # "done" has neither a window nor a started update: counted, with no time.
        assert get_maintenance_done(session=session, start=START, end=END) == MaintenanceDone(
            1, 0.0
        )


def test_impact_spans_are_sev1_to_3_incidents_active_in_the_period_per_component(
    sessions: sessionmaker[Session], known: dict[str, int]
) -> None:
    with sessions() as session:
        spans = list_impact_spans(session=session, start=START, end=END)
    assert sorted(spans, key=lambda s: (s.opened_at, s.component or "")) == [
        ImpactSpan(None, START - 5 * DAY, None),
        ImpactSpan("Posta", START - HOUR, START + 3 * HOUR),
        ImpactSpan("Web", START - HOUR, START + 3 * HOUR),
        ImpactSpan("Posta", START + DAY + 10 * HOUR, START + DAY + 12 * HOUR),
        ImpactSpan("Posta", START + DAY + 11 * HOUR, START + DAY + 13 * HOUR),
        ImpactSpan("Web", END - HOUR, None),
        ImpactSpan("Web", END - HOUR / 2, END + HOUR),
    ]


@pytest.mark.parametrize(
    ("later", "seconds"),
    [
        (timedelta(hours=5), 18_000.0),
        (timedelta(days=400, seconds=1), 400 * 86_400.0 + 1),
        (timedelta(milliseconds=1500), 1.5),
        (timedelta(0), 0.0),
        (-HOUR, -3600.0),
    ],
)
def test_seconds_between_is_exact_to_the_millisecond(
    sessions: sessionmaker[Session], later: timedelta, seconds: float
) -> None:
    first = datetime(2025, 3, 30, 0, 30, 15, tzinfo=UTC)  # a DST change in Europe, not in UTC
    with sessions() as session:
        expression = seconds_between(
            session=session,
            start=sa.literal(first, UTCDateTime()),
            end=sa.literal(first + later, UTCDateTime()),
        )
        assert float(session.exec(select(expression)).one()) == seconds


def post(
    session: Session, incident_id: int, kind: UpdateKind, at: datetime, *, public: bool = True
) -> None:
    """An update on the incident's timeline."""
    incident = get_incident(session=session, incident_id=incident_id)
    assert incident is not None
    create_update(
        session=session,
        incident=incident,
        kind=kind,
        text="",
        author="ada",
        front_end="cli",
        at=at,
        component_ids=set(),
        public=public,
    )


def test_time_to_first_public_update_skips_notes_and_incidents_without_one(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        quick = add(session, "quick", START + HOUR)
        post(session, quick, UpdateKind.OPENED, START + HOUR)
        post(session, quick, UpdateKind.NOTE, START + HOUR + timedelta(minutes=5), public=False)
        post(session, quick, UpdateKind.UPDATE, START + HOUR + timedelta(minutes=20))
        post(session, quick, UpdateKind.UPDATE, START + HOUR + timedelta(minutes=50))
        closed_at_once = add(session, "closed at once", START + DAY, START + DAY + HOUR)
        post(session, closed_at_once, UpdateKind.OPENED, START + DAY)
        post(session, closed_at_once, UpdateKind.RESOLVED, START + DAY + HOUR)
        silent = add(session, "only a note", START + 2 * DAY)
        post(session, silent, UpdateKind.NOTE, START + 2 * DAY + HOUR, public=False)
        earlier = add(session, "opened before", START - HOUR)
        post(session, earlier, UpdateKind.UPDATE, START + HOUR)
    with sessions() as session:
        mean = get_mean_seconds_to_first_update(session=session, start=START, end=END)
        nothing = get_mean_seconds_to_first_update(session=session, start=END, end=END + DAY)
    assert mean == (20 * 60 + 3600) / 2
    assert nothing is None


def test_maintenance_time_runs_from_its_start_to_its_closing(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        for title, window, started, closed in (
            ("on time", START + DAY, None, START + DAY + 2 * HOUR),
            ("started late", START + 2 * DAY, START + 2 * DAY + HOUR, START + 2 * DAY + 2 * HOUR),
            ("across the start", START - HOUR, START - HOUR, START + HOUR / 2),
            ("closed after the end", END - HOUR, None, END + HOUR),
        ):
            maintenance_id = add(
                session,
                title,
                window - 3 * DAY,
                closed,
                kind=IncidentKind.MAINTENANCE,
                status=IncidentStatus.COMPLETED,
            )
            incident = get_incident(session=session, incident_id=maintenance_id)
            assert incident is not None
            incident.window_start, incident.window_end = window, window + 2 * HOUR
            if started is not None:
                post(session, maintenance_id, UpdateKind.MAINTENANCE_STARTED, started)
        add(
            session,
            "called off",
            START + 3 * DAY,
            START + 3 * DAY,
            kind=IncidentKind.MAINTENANCE,
            status=IncidentStatus.CANCELLED,
        )
    with sessions() as session:
        done = get_maintenance_done(session=session, start=START, end=END)
    assert done == MaintenanceDone(3, (2 * HOUR + HOUR + 1.5 * HOUR).total_seconds())


def test_opened_by_day_follows_the_bounds_given(
    sessions: sessionmaker[Session], known: dict[str, int]
) -> None:
    bounds = [START, START + DAY, START + DAY + 11 * HOUR, START + 11 * DAY]
    with sessions() as session:
        found = count_opened_by_day_and_severity(session=session, bounds=bounds)
        assert count_opened_by_day_and_severity(session=session, bounds=bounds[:1]) == {}
    # day 1 ends just as "overlapping" opens, so it falls on day 2 with "minor"
    assert found == {(1, 1): 1, (2, 2): 1, (2, 4): 1}
