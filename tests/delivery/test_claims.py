"""Claims: only the head of each channel's queue, leased, never to two workers at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from commands.context import Context
from storage.models import Delivery, DeliveryState
from storage.outbox import claim_deliveries, record_failure, record_sent
from tests.factories import FakeClock, make_channel, make_context, make_incident, run

LEASE = timedelta(seconds=60)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], clock: FakeClock) -> Context:
    context = make_context(sessions, clock)
    make_channel(context, "-1001")
    make_channel(context, "-1002")
    return context


def claim(sessions: sessionmaker[Session], clock: FakeClock, limit: int = 100) -> list[Delivery]:
    with sessions() as session, session.begin():
        return claim_deliveries(session=session, now=clock(), limit=limit, worker="w", lease=LEASE)


def test_only_the_oldest_unfinished_delivery_of_each_channel_is_claimed(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = make_incident(ctx)
    run(ctx, f"update {incident_id} secondo")
    first = claim(sessions, clock)
    assert len(first) == 2
    assert {d.channel_id for d in first} == {1, 2}
    assert claim(sessions, clock) == []  # leased, and the next ones wait behind them
    with sessions() as session, session.begin():
        assert first[0].id is not None
        record_sent(session=session, delivery_id=first[0].id, remote_ref="1", at=clock())
    second = claim(sessions, clock)
    assert [(d.channel_id, d.id) for d in second] == [(first[0].channel_id, 3)]


def test_a_failed_head_blocks_its_channel_until_it_is_due(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = make_incident(ctx)
    run(ctx, f"update {incident_id} secondo")
    head = claim(sessions, clock)[0]
    assert head.id is not None
    with sessions() as session, session.begin():
        record_failure(
            session=session,
            delivery_id=head.id,
            error="502",
            next_attempt_at=clock() + timedelta(minutes=5),
        )
    clock.advance(seconds=61)
    assert [d.channel_id for d in claim(sessions, clock)] == [2]
    clock.advance(minutes=5)
    retried = claim(sessions, clock)
    assert head.id in [d.id for d in retried]


def test_an_expired_lease_makes_the_delivery_claimable_again(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    make_incident(ctx)
    first = claim(sessions, clock)
    clock.advance(seconds=59)
    assert claim(sessions, clock) == []
    clock.advance(seconds=2)
    assert {d.id for d in claim(sessions, clock)} == {d.id for d in first}


def test_disabled_channels_are_not_claimed(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    run(ctx, "channels disable -1001")
    make_incident(ctx)
    assert [d.channel_id for d in claim(sessions, clock)] == [2]


def test_concurrent_claims_never_overlap(
    engine: sa.Engine, ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    for n in range(40):
        make_channel(ctx, f"-2{n:03d}")
    for n in range(5):
        make_incident(ctx, f"Guasto {n}")
    claimed: list[list[int]] = []

    def claimer() -> None:
        for _ in range(30):
            got = claim(sessions, clock, limit=7)
            claimed.append([d.id for d in got if d.id is not None])

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for batch in claimed for i in batch]
    assert len(ids) == len(set(ids))
    assert len(ids) == 42  # one head per channel, each claimed exactly once
    with sessions() as session:
        assert set(session.exec(select(Delivery.state)).all()) == {DeliveryState.PENDING}
