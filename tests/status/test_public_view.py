"""Component states and the overall indicator, derived from what is open now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from commands.public_view import PublicComponent, PublicIncident, component_statuses, overall_of
from storage.models import IncidentKind, IncidentStatus
from tests.status.helpers import public_incident

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 1, 28, 13, 50, tzinfo=UTC)
POSTA = PublicComponent(id=1, key="posta", name="Posta", created_at=CREATED, removed=False)
WEB = PublicComponent(id=2, key="web", name="Web", created_at=CREATED, removed=False)
OLD = PublicComponent(id=3, key="fax", name="Fax", created_at=CREATED, removed=True)


def states(*active: PublicIncident) -> dict[str, str]:
    """Each listed component's state while these are open."""
    return {s.component.key: s.state for s in component_statuses([POSTA, WEB, OLD], active)}


def test_the_worst_open_incident_sets_each_component() -> None:
    minor = public_incident(1, NOW, None, severity=3, components=(POSTA, WEB))
    major = public_incident(2, NOW, None, severity=1, components=(POSTA,))
    assert states(minor, major) == {"posta": "major_outage", "web": "degraded_performance"}
    # A removed component is not listed, whatever touches it.
    assert "fax" not in states(public_incident(3, NOW, None, components=(OLD,)))


def test_sev4_leaves_components_operational_and_maintenance_counts_only_in_progress() -> None:
    quiet = public_incident(1, NOW, None, severity=4, components=(POSTA,))
    planned = public_incident(
        2,
        NOW + timedelta(days=1),
        NOW + timedelta(days=1, hours=2),
        severity=None,
        kind=IncidentKind.MAINTENANCE,
        status=IncidentStatus.SCHEDULED,
        components=(WEB,),
    )
    assert states(quiet, planned) == {"posta": "operational", "web": "operational"}
    running = public_incident(
        3,
        NOW - timedelta(hours=1),
        NOW + timedelta(hours=1),
        severity=None,
        kind=IncidentKind.MAINTENANCE,
        status=IncidentStatus.IN_PROGRESS,
        components=(WEB,),
    )
    degraded = public_incident(4, NOW, None, severity=3, components=(WEB,))
    assert states(running) == {"posta": "operational", "web": "under_maintenance"}
    # An outage during maintenance is worse than the maintenance.
    assert states(running, degraded)["web"] == "degraded_performance"


def test_overall_indicator_is_the_worst_open_impact() -> None:
    assert overall_of([]).indicator == "none"
    minor = public_incident(1, NOW, None, severity=3, components=(POSTA,))
    critical = public_incident(2, NOW, None, severity=1, components=(WEB,))
    resolved = public_incident(3, NOW - timedelta(hours=2), NOW, severity=1, components=(WEB,))
    assert overall_of([minor]).indicator == "minor"
    assert overall_of([minor, critical]).indicator == "critical"
    assert overall_of([minor, resolved]).indicator == "minor"
    running = public_incident(
        4,
        NOW,
        NOW + timedelta(hours=1),
        severity=None,
        kind=IncidentKind.MAINTENANCE,
        status=IncidentStatus.IN_PROGRESS,
        components=(POSTA,),
    )
    assert overall_of([running]).maintenance
    assert not overall_of([minor]).maintenance


def test_component_time_is_the_last_change_that_touched_it() -> None:
    ended = NOW - timedelta(hours=3)
    found = component_statuses([POSTA, WEB], [], {POSTA.id: ended})
    assert [s.updated_at for s in found] == [ended, CREATED]
    ongoing = public_incident(1, NOW - timedelta(hours=1), None, components=(POSTA,))
    (posta,) = component_statuses([POSTA], [ongoing], {POSTA.id: ended})
    assert posta.updated_at == ongoing.updated_at
