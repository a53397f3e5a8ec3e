"""Ninety-day bars: local days (DST included), worst state per day, and weighted downtime."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commands.public_view import PublicComponent
from commands.uptime import NO_DATA, build_uptime, day_start
from storage.models import IncidentKind, IncidentStatus
from tests.status.helpers import public_incident

ROME = ZoneInfo("Europe/Rome")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
POSTA = PublicComponent(id=1, key="posta", name="Posta", created_at=LONG_AGO, removed=False)
DNS = PublicComponent(id=2, key="dns", name="DNS", created_at=LONG_AGO, removed=False)


def test_ninety_local_days_ending_today() -> None:
    now = datetime(2025, 1, 28, 13, 50, tzinfo=UTC)
    (posta, _) = build_uptime(
        [POSTA, DNS], [], now=now, zone=ROME, locale="it", data_since=LONG_AGO
    )
    assert len(posta.days) == 90
    assert posta.days[-1].day == date(2025, 1, 28)
    assert posta.days[0].day == date(2024, 10, 31)
    assert posta.days[-1].label == "28 gen 2025"
    assert posta.percent == 100.0
    assert posta.troubled_days == 0


def test_day_boundaries_follow_daylight_saving_time() -> None:
    # 30 March 2025 in Rome has 23 hours: midnight is 23:00 UTC before, 22:00 UTC after.
    assert day_start(date(2025, 3, 30), ROME) == datetime(2025, 3, 29, 23, 0, tzinfo=UTC)
    assert day_start(date(2025, 3, 31), ROME) == datetime(2025, 3, 30, 22, 0, tzinfo=UTC)
    now = datetime(2025, 4, 1, 10, 0, tzinfo=UTC)
    late = public_incident(
        1,
        datetime(2025, 3, 30, 22, 30, tzinfo=UTC),
        datetime(2025, 3, 30, 23, 0, tzinfo=UTC),
        components=(POSTA,),
    )
    (posta, _) = build_uptime(
        [POSTA, DNS], [late], now=now, zone=ROME, locale="it", data_since=LONG_AGO
    )
    marked = {d.day: d.state for d in posta.days if d.state != "operational"}
    assert marked == {date(2025, 3, 31): "major_outage"}


def test_worst_state_wins_and_events_are_listed_worst_first() -> None:
    now = datetime(2025, 1, 28, 20, 0, tzinfo=UTC)
    minor = public_incident(
        1,
        datetime(2025, 1, 28, 8, tzinfo=UTC),
        datetime(2025, 1, 28, 12, tzinfo=UTC),
        severity=3,
        components=(POSTA,),
    )
    major = public_incident(
        2,
        datetime(2025, 1, 28, 9, tzinfo=UTC),
        datetime(2025, 1, 28, 10, tzinfo=UTC),
        severity=2,
        components=(POSTA,),
    )
    work = public_incident(
        3,
        datetime(2025, 1, 28, 1, tzinfo=UTC),
        datetime(2025, 1, 28, 3, tzinfo=UTC),
        severity=None,
        kind=IncidentKind.MAINTENANCE,
        components=(DNS,),
    )
    (posta, dns) = build_uptime(
        [POSTA, DNS], [minor, major, work], now=now, zone=ROME, locale="it", data_since=LONG_AGO
    )
    today = posta.days[-1]
    assert today.state == "partial_outage"
    assert [e.ref for e in today.events] == ["INC-2", "INC-1"]
    assert today.events[1].took == "4 h"
    assert dns.days[-1].state == "under_maintenance"
    # Maintenance is not downtime.
    assert dns.percent == 100.0


def test_downtime_weights_major_fully_and_partial_at_thirty_percent() -> None:
    midnight = datetime(2025, 1, 27, 23, 0, tzinfo=UTC)  # 28 January begins in Rome
    now = midnight + timedelta(hours=23)
    fresh = PublicComponent(id=3, key="pec", name="PEC", created_at=midnight, removed=False)
    outage = public_incident(1, midnight, midnight + timedelta(hours=6), components=(fresh,))
    overlapping = public_incident(
        2,
        midnight + timedelta(hours=3),
        midnight + timedelta(hours=9),
        severity=2,
        components=(fresh,),
    )
    (pec,) = build_uptime(
        [fresh], [outage, overlapping], now=now, zone=ROME, locale="it", data_since=now
    )
    # One observed day of 23 h: 6 h of major outage, then 3 h more of partial outage at 30%.
    assert pec.percent == pytest.approx(100 * (1 - (6 + 0.3 * 3) / 23))
    assert sum(1 for d in pec.days if d.state == NO_DATA) == 89
    assert pec.days[-1].state == "major_outage"


def test_open_incident_counts_until_now_and_scheduled_or_cancelled_work_not_at_all() -> None:
    now = datetime(2025, 1, 28, 12, 0, tzinfo=UTC)
    ongoing = public_incident(
        1, datetime(2025, 1, 26, 12, tzinfo=UTC), None, severity=3, components=(POSTA,)
    )
    planned = public_incident(
        2,
        now + timedelta(days=1),
        now + timedelta(days=1, hours=2),
        kind=IncidentKind.MAINTENANCE,
        status=IncidentStatus.SCHEDULED,
        severity=None,
        components=(POSTA,),
    )
    dropped = public_incident(
        3,
        now - timedelta(hours=5),
        now - timedelta(hours=4),
        kind=IncidentKind.MAINTENANCE,
        status=IncidentStatus.CANCELLED,
        severity=None,
        components=(POSTA,),
    )
    (posta, _) = build_uptime(
        [POSTA, DNS],
        [ongoing, planned, dropped],
        now=now,
        zone=ROME,
        locale="it",
        data_since=LONG_AGO,
    )
    states = [d.state for d in posta.days[-3:]]
    assert states == ["degraded_performance"] * 3
    assert posta.troubled_days == 3
    assert posta.percent == 100.0  # degraded performance is not downtime
