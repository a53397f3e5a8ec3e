"""Maintenance reminders: a set time before the window, once, moved with it, none if cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from commands import verbs as v
from commands.context import Context
from commands.errors import Refused, UsageError
from commands.maintenance import advance_due_maintenance, remind_due_maintenance
from commands.parser import parse
from commands.wording import render_update
from storage.models import Incident, IncidentStatus, Update, UpdateKind
from tests.factories import ROME, FakeClock, make_channel, run

# The clock starts at 2025-01-28 13:50 UTC (14:50 in Rome); the window opens at 22:00 Rome.
WINDOW = '--start "28/01/2025 22:00" --end "29/01/2025 02:00"'
START = datetime(2025, 1, 28, 21, 0, tzinfo=UTC)


def schedule(ctx: Context, extra: str = "", window: str = WINDOW) -> int:
    reply = run(ctx, f"maintenance schedule Aggiornamento server di posta {window} {extra}")
    assert reply.incident_id is not None
    return reply.incident_id


def kinds(sessions: sessionmaker[Session], incident_id: int) -> list[UpdateKind]:
    with sessions() as session:
        found = session.exec(
            select(Update.kind)
            .where(Update.incident_id == incident_id)
            .order_by(col(Update.number))
        ).all()
    return [UpdateKind(k) for k in found]


def updates_at(sessions: sessionmaker[Session], incident_id: int) -> dict[UpdateKind, datetime]:
    with sessions() as session:
        found = session.exec(select(Update).where(Update.incident_id == incident_id)).all()
    return {UpdateKind(u.kind): u.at for u in found}


def test_remind_takes_durations_and_zero_turns_it_off() -> None:
    clock = FakeClock()
    from commands.parser import Clock

    read = Clock(ROME, clock())
    for typed, expected in (
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("0", timedelta(0)),
    ):
        command = parse(f"maintenance schedule X {WINDOW} --remind {typed}", clock=read)
        assert isinstance(command, v.ScheduleMaintenance)
        assert command.remind == expected
    command = parse(f"maintenance schedule X {WINDOW}", clock=read)
    assert isinstance(command, v.ScheduleMaintenance)
    assert command.remind is None
    with pytest.raises(UsageError, match="not a duration; use a duration such as 30m, 2h or 1d"):
        parse(f"maintenance schedule X {WINDOW} --remind tomorrow", clock=read)
    with pytest.raises(UsageError, match="at most 90d"):
        parse(f"maintenance schedule X {WINDOW} --remind 100d", clock=read)
    with pytest.raises(UsageError, match="'99999d' is too long; use at most 9999 of a unit"):
        parse(f"maintenance schedule X {WINDOW} --remind 99999d", clock=read)


def test_a_reminder_goes_out_at_the_exact_minute_once(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = schedule(ctx, "--remind 2h")
    clock.current = START - timedelta(hours=2, seconds=1)
    assert remind_due_maintenance(ctx) == []
    clock.advance(seconds=1)
    assert remind_due_maintenance(ctx) == [incident_id]
    assert remind_due_maintenance(ctx) == []
    clock.advance(minutes=30)
    assert remind_due_maintenance(ctx) == []
    assert kinds(sessions, incident_id) == [
        UpdateKind.MAINTENANCE_SCHEDULED,
        UpdateKind.MAINTENANCE_REMINDER,
    ]
    assert updates_at(sessions, incident_id)[UpdateKind.MAINTENANCE_REMINDER] == START - timedelta(
        hours=2
    )


def test_the_default_reminder_comes_from_the_context(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    # The context's default is 24 h; the window is 7 h away, so the announcement is the
    # reminder and nothing more is sent.
    reply = run(ctx, f"maintenance schedule Lavori {WINDOW}")
    assert "No reminder: it starts in less than 1 d" in reply.text
    far = schedule(ctx, window='--start "30/01/2025 22:00" --end "31/01/2025 02:00"')
    clock.current = datetime(2025, 1, 29, 21, 0, tzinfo=UTC)
    assert remind_due_maintenance(ctx) == [far]


def test_the_reply_says_when_customers_are_reminded(ctx: Context) -> None:
    assert (
        "Customers are reminded 2 h before it."
        in run(ctx, f"maintenance schedule Lavori {WINDOW} --remind 2h").text
    )
    assert (
        "No reminder before it."
        in run(ctx, f"maintenance schedule Lavori {WINDOW} --remind 0").text
    )


def test_remind_zero_sends_none(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = schedule(ctx, "--remind 0")
    clock.current = START - timedelta(minutes=1)
    assert remind_due_maintenance(ctx) == []
    assert UpdateKind.MAINTENANCE_REMINDER not in kinds(sessions, incident_id)


def test_a_cancelled_maintenance_sends_no_reminder(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = schedule(ctx, "--remind 2h")
    run(ctx, f"maintenance cancel {incident_id}")
    clock.current = START - timedelta(hours=1)
    assert remind_due_maintenance(ctx) == []
    assert UpdateKind.MAINTENANCE_REMINDER not in kinds(sessions, incident_id)


def test_a_maintenance_started_by_hand_sends_no_reminder(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = schedule(ctx, "--remind 2h")
    run(ctx, f"maintenance start {incident_id}")
    clock.current = START - timedelta(hours=1)
    assert remind_due_maintenance(ctx) == []


def test_moving_the_window_moves_the_reminder(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = schedule(ctx, "--remind 2h")
    reply = run(
        ctx,
        f'maintenance extend {incident_id} --start "29/01/2025 22:00" --end "30/01/2025 02:00"',
    )
    assert "now runs from" in reply.text
    assert "Customers are reminded 2 h before it." in reply.text
    clock.current = START - timedelta(hours=1)
    assert remind_due_maintenance(ctx) == []
    assert advance_due_maintenance(ctx) == []  # the old start means nothing any more
    clock.current = START + timedelta(days=1) - timedelta(hours=2)
    assert remind_due_maintenance(ctx) == [incident_id]
    assert kinds(sessions, incident_id) == [
        UpdateKind.MAINTENANCE_SCHEDULED,
        UpdateKind.MAINTENANCE_RESCHEDULED,
        UpdateKind.MAINTENANCE_REMINDER,
    ]


def test_a_window_moved_after_its_reminder_is_reminded_again(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = schedule(ctx, "--remind 2h")
    clock.current = START - timedelta(hours=2)
    assert remind_due_maintenance(ctx) == [incident_id]
    run(
        ctx, f'maintenance extend {incident_id} --start "30/01/2025 22:00" --end "31/01/2025 02:00"'
    )
    clock.current = START + timedelta(days=2) - timedelta(hours=2)
    assert remind_due_maintenance(ctx) == [incident_id]
    assert kinds(sessions, incident_id).count(UpdateKind.MAINTENANCE_REMINDER) == 2


def test_extending_only_the_end_keeps_the_reminder(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = schedule(ctx, "--remind 2h")
    reply = run(ctx, f'maintenance extend {incident_id} --end "29/01/2025 04:00"')
    assert "now ends" in reply.text
    clock.current = START - timedelta(hours=2)
    assert remind_due_maintenance(ctx) == [incident_id]
    assert kinds(sessions, incident_id)[1] == UpdateKind.MAINTENANCE_EXTENDED


def test_a_started_window_cannot_move_its_start(ctx: Context, clock: FakeClock) -> None:
    incident_id = schedule(ctx)
    clock.current = START + timedelta(minutes=1)
    advance_due_maintenance(ctx)
    with pytest.raises(Refused, match="already started; only its end can move"):
        run(
            ctx,
            f'maintenance extend {incident_id} --start "30/01/2025 22:00" --end "31/01/2025 02:00"',
        )


def test_a_new_start_in_the_past_is_refused(ctx: Context) -> None:
    incident_id = schedule(ctx)
    with pytest.raises(Refused, match=r"new start is already past.*maintenance start INC-"):
        run(
            ctx,
            f'maintenance extend {incident_id} --start "27/01/2025 22:00" --end "29/01/2025 02:00"',
        )
    with pytest.raises(UsageError, match="end after it starts"):
        run(
            ctx,
            f'maintenance extend {incident_id} --start "30/01/2025 22:00" --end "29/01/2025 02:00"',
        )


def test_a_reminder_missed_while_down_goes_out_late_but_before_the_window(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    late = schedule(ctx, "--remind 2h")
    clock.current = START - timedelta(minutes=10)
    assert remind_due_maintenance(ctx) == [late]
    assert remind_due_maintenance(ctx) == []


def test_a_reminder_missed_until_the_window_began_is_not_sent(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = schedule(ctx, "--remind 2h")
    clock.current = START + timedelta(minutes=5)
    assert remind_due_maintenance(ctx) == []
    advance_due_maintenance(ctx)
    assert UpdateKind.MAINTENANCE_REMINDER not in kinds(sessions, incident_id)


def test_reminder_start_and_end_at_the_exact_minute_across_the_spring_change(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    # Rome skips 02:00-03:00 on 29 March 2026: 01:30 CET is 00:30 UTC, 03:30 CEST 01:30 UTC.
    clock.current = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    incident_id = schedule(
        ctx, "--remind 1d", window='--start "29/03/2026 01:30" --end "29/03/2026 03:30"'
    )
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    end = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    moments = []
    clock.current = start - timedelta(days=1, minutes=1)
    while clock.current <= end + timedelta(minutes=1):
        if remind_due_maintenance(ctx) or advance_due_maintenance(ctx):
            moments.append(clock.current)
        clock.advance(seconds=30)
    assert moments == [start - timedelta(days=1), start, end]
    assert updates_at(sessions, incident_id) == {
        UpdateKind.MAINTENANCE_SCHEDULED: datetime(2026, 3, 27, 12, 0, tzinfo=UTC),
        UpdateKind.MAINTENANCE_REMINDER: start - timedelta(days=1),
        UpdateKind.MAINTENANCE_STARTED: start,
        UpdateKind.MAINTENANCE_COMPLETED: end,
    }
    with sessions() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        assert incident.status == IncidentStatus.COMPLETED
        reminder = session.exec(
            select(Update).where(Update.kind == UpdateKind.MAINTENANCE_REMINDER)
        ).one()
        post = render_update(incident, reminder, locale="it", zone=ROME)
        english = render_update(incident, reminder, locale="en", zone=ROME)
    assert post.headline == "Promemoria: aggiornamento server di posta"
    assert post.body == (
        "Ricordiamo che in data 29/03/2026 dalle ore 01:30 CET alle ore 03:30 CEST verranno "
        "effettuate operazioni di manutenzione programmata."
    )
    assert english.body == (
        "A reminder: on 29 Mar 2026 from 01:30 CET to 03:30 CEST we will carry out "
        "scheduled maintenance."
    )


def test_the_reminder_reaches_every_following_channel(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    from storage.models import Delivery

    make_channel(ctx, "-1001")
    make_channel(ctx, "-1002")
    incident_id = schedule(ctx, "--remind 2h")
    clock.current = START - timedelta(hours=2)
    remind_due_maintenance(ctx)
    with sessions() as session:
        reminder = session.exec(
            select(Update)
            .where(Update.incident_id == incident_id)
            .where(Update.kind == UpdateKind.MAINTENANCE_REMINDER)
        ).one()
        queued = session.exec(
            select(sa.func.count()).select_from(Delivery).where(Delivery.update_id == reminder.id)
        ).one()
    assert reminder.public
    assert queued == 2


def test_two_schedulers_racing_send_one_reminder(
    engine: sa.Engine, ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers at BEGIN: there is no race to stage")
    import threading

    incident_id = schedule(ctx, "--remind 2h")
    clock.current = START - timedelta(hours=2)
    barrier = threading.Barrier(4)
    results: list[list[int]] = []

    def race() -> None:
        barrier.wait()
        results.append(remind_due_maintenance(ctx))

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [], [], [incident_id]]
    assert kinds(sessions, incident_id).count(UpdateKind.MAINTENANCE_REMINDER) == 1
