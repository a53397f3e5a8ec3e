"""Loading claimed deliveries: a batch reads what its deliveries share once, and each job
is exactly what loading its delivery alone gives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from bot.delivery.jobs import load_job, load_jobs
from commands.context import Context
from storage.models import Audience, Channel, Delivery, DeliveryState, Platform
from tests.factories import ROME, FakeClock, make_channel, make_incident, run


@contextmanager
def counted(engine: sa.Engine) -> Iterator[list[str]]:
    """The SQL statements run on `engine` within."""
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def _delivery_ids(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        return [i for i in session.exec(select(Delivery.id).order_by(col(Delivery.id))).all() if i]


def _send_all(sessions: sessionmaker[Session]) -> None:
    """Every delivery so far sent, each with a message reference of its own."""
    with sessions() as session, session.begin():
        for delivery in session.exec(select(Delivery)).all():
            delivery.state = DeliveryState.SENT
            delivery.remote_ref = f"ref-{delivery.id}"
            session.add(delivery)


def test_a_batch_gives_each_delivery_the_job_it_would_get_alone(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    make_channel(ctx, "-1001", options="--components posta")
    make_channel(ctx, "-1002", options="--lang en")
    make_channel(ctx, "C0CUSTOMERS", platform="slack", options="--lang en")
    with sessions() as session, session.begin():
        incidents = Channel(
            platform=Platform.SLACK, address="C0INCIDENTS", locale="it", audience=Audience.INTERNAL
        )
        session.add(incidents)
    first = make_incident(ctx, "Posta <b>lenta</b>", sev=2, components="posta")
    _send_all(sessions)
    clock.advance(minutes=5)
    run(ctx, f"update {first} --status identified Trovata la causa")
    run(ctx, f"note {first} solo per noi")
    clock.advance(minutes=1)
    run(ctx, f"edit {first} --update 1 Testo corretto")
    second = make_incident(ctx, "Web giù", sev=1, components="web")
    run(ctx, f"resolve {second} Risolto")

    ids = _delivery_ids(sessions)
    together = load_jobs(sessions, ids, ROME)

    assert sorted(together) == ids
    kinds = {(j.revision > 0, j.is_root, j.destination.is_internal) for j in together.values()}
    assert len(kinds) > 3  # corrections, replies in threads, openings, the incident channel
    for delivery_id in ids:
        assert together[delivery_id] == load_job(sessions, delivery_id, ROME)


def test_a_fan_out_is_loaded_with_a_query_per_delivery_not_a_dozen(
    ctx: Context, sessions: sessionmaker[Session], engine: sa.Engine
) -> None:
    for n in range(40):
        make_channel(ctx, f"-100{n:04d}", options="--lang en" if n % 2 else "")
    make_incident(ctx, "Posta lenta", sev=2, components="posta")
    ids = _delivery_ids(sessions)
    assert len(ids) == 40

    with counted(engine) as statements:
        jobs = load_jobs(sessions, ids, ROME)

    assert len(jobs) == 40
    # The deliveries with their channels, then each one's thread; the update, its
    # incident and what they render to once. Alone, each delivery took nine.
    assert len(statements) <= 40 + 10
    assert {job.post.locale for job in jobs.values()} == {"it", "en"}


def test_a_delivery_gone_before_it_was_loaded_is_left_out(
    ctx: Context, sessions: sessionmaker[Session]
) -> None:
    make_channel(ctx, "-1001")
    make_incident(ctx, "Posta lenta", sev=2)
    ids = _delivery_ids(sessions)

    assert sorted(load_jobs(sessions, [*ids, 999_999], ROME)) == ids
    assert load_job(sessions, 999_999, ROME) is None
