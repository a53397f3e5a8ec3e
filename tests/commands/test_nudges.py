"""Quiet incidents: one nudge per quiet period, reset by a public update, never by a note."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from commands.context import Context
from commands.nudges import nudge_quiet_incidents, nudge_text
from storage.models import Channel, Delivery, Update, UpdateKind
from tests.factories import FakeClock, make_channel, make_incident, run

QUIET = {1: 15, 2: 30, 3: 60}


def nudges(sessions: sessionmaker[Session], incident_id: int) -> list[Update]:
    with sessions() as session:
        return list(
            session.exec(
                select(Update)
                .where(Update.incident_id == incident_id)
                .where(Update.kind == UpdateKind.NUDGE)
                .order_by(col(Update.number))
            ).all()
        )


def test_the_nudge_names_the_silence_and_the_command_to_type() -> None:
    assert nudge_text(7, 34) == (
        "Customers last heard from us 34 minutes ago — `/incident update INC-7 …`"
    )
    assert nudge_text(7, 1).startswith("Customers last heard from us 1 minute ago")


def test_a_quiet_sev2_gets_exactly_one_nudge_after_30_minutes(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = make_incident(ctx, sev=2)
    sent = []
    for _ in range(90):  # an hour and a half, a tick a minute
        clock.advance(minutes=1)
        if nudge_quiet_incidents(ctx, QUIET):
            sent.append(clock.current)
    assert len(sent) == 1
    [nudge] = nudges(sessions, incident_id)
    assert not nudge.public
    assert nudge.author == "Herald"
    assert nudge.text == nudge_text(incident_id, 30)


def test_a_public_update_starts_a_new_quiet_period(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = make_incident(ctx, sev=2)
    clock.advance(minutes=30)
    assert nudge_quiet_incidents(ctx, QUIET) == [incident_id]
    clock.advance(minutes=5)
    run(ctx, f"update {incident_id} Stiamo ancora lavorando")
    clock.advance(minutes=29)
    assert nudge_quiet_incidents(ctx, QUIET) == []
    clock.advance(minutes=1)
    assert nudge_quiet_incidents(ctx, QUIET) == [incident_id]
    assert [n.text for n in nudges(sessions, incident_id)] == [
        nudge_text(incident_id, 30),
        nudge_text(incident_id, 30),
    ]


def test_an_internal_note_does_not_count_as_telling_customers(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = make_incident(ctx, sev=2)
    clock.advance(minutes=20)
    run(ctx, f"note {incident_id} Riavviato il nodo 3")
    clock.advance(minutes=10)
    assert nudge_quiet_incidents(ctx, QUIET) == [incident_id]
    clock.advance(minutes=5)
    run(ctx, f"note {incident_id} Ancora nulla")
    clock.advance(minutes=60)
    assert nudge_quiet_incidents(ctx, QUIET) == []


def test_each_severity_has_its_own_quiet_time_and_sev4_none(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    sev1 = make_incident(ctx, "Tutto giù", sev=1)
    sev3 = make_incident(ctx, "Lentezza webmail", sev=3)
    sev4 = make_incident(ctx, "Refuso sul sito", sev=4)
    clock.advance(minutes=15)
    assert nudge_quiet_incidents(ctx, QUIET) == [sev1]
    clock.advance(minutes=45)
    assert nudge_quiet_incidents(ctx, QUIET) == [sev3]
    clock.advance(days=2)
    assert nudge_quiet_incidents(ctx, QUIET) == []
    assert nudges(sessions, sev4) == []


def test_resolved_incidents_and_maintenance_are_not_nudged(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = make_incident(ctx, sev=1)
    run(ctx, f"resolve {incident_id}")
    run(
        ctx,
        'maintenance schedule Lavori --start "28/01/2025 15:00" --end "28/01/2025 23:00" '
        "--remind 0",
    )
    clock.advance(hours=3)
    assert nudge_quiet_incidents(ctx, QUIET) == []


def test_a_severity_left_out_of_the_setting_is_never_nudged(ctx: Context, clock: FakeClock) -> None:
    make_incident(ctx, sev=3)
    clock.advance(hours=5)
    assert nudge_quiet_incidents(ctx, {1: 15}) == []
    assert nudge_quiet_incidents(ctx, {}) == []


def test_the_nudge_goes_to_the_incident_channels_only(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    from storage.channels import ensure_internal_channel
    from storage.models import Platform

    make_channel(ctx, "-1001")
    with sessions() as session, session.begin():
        ensure_internal_channel(
            session=session, platform=Platform.SLACK, address="C0INCIDENTS", locale="en"
        )
    incident_id = make_incident(ctx, sev=2)
    clock.advance(minutes=31)
    nudge_quiet_incidents(ctx, QUIET)
    [nudge] = nudges(sessions, incident_id)
    with sessions() as session:
        reached = session.exec(
            select(Channel.address)
            .join(Delivery, col(Delivery.channel_id) == col(Channel.id))
            .where(Delivery.update_id == nudge.id)
        ).all()
    assert reached == ["C0INCIDENTS"]


def test_two_schedulers_racing_send_one_nudge(
    engine: sa.Engine, ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers at BEGIN: there is no race to stage")
    incident_id = make_incident(ctx, sev=2)
    clock.advance(minutes=31)
    barrier = threading.Barrier(4)
    results: list[list[int]] = []

    def race() -> None:
        barrier.wait()
        results.append(nudge_quiet_incidents(ctx, QUIET))

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [], [], [incident_id]]
    assert len(nudges(sessions, incident_id)) == 1


def test_show_names_a_nudge_as_such(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = make_incident(ctx, sev=2)
    run(ctx, f"note {incident_id} Riavviato il nodo 3")
    clock.advance(minutes=30)
    nudge_quiet_incidents(ctx, QUIET)
    lines = run(ctx, f"show {incident_id}").text.splitlines()
    assert any(line.startswith("#2 ") and " internal " in line for line in lines)
    assert any(line.startswith("#3 ") and " nudge " in line for line in lines)


def test_a_backfilled_opening_is_quiet_from_when_it_was_posted(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    # Opened now with --at two hours back: customers heard of it now, not two hours ago.
    reply = run(ctx, 'open "Posta lenta" --sev 2 --at "28/01/2025 12:50"')
    assert reply.incident_id is not None
    clock.advance(minutes=1)
    assert nudge_quiet_incidents(ctx, QUIET) == []
    clock.advance(minutes=29)
    assert nudge_quiet_incidents(ctx, QUIET) == [reply.incident_id]
    [nudge] = nudges(sessions, reply.incident_id)
    assert nudge.text == nudge_text(reply.incident_id, 30)
