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
from storage.outbox import (
    claim_deliveries,
    record_failure,
    record_sent,
    release_delivery,
    renew_leases,
)
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


def claim_as(sessions: sessionmaker[Session], clock: FakeClock, worker: str) -> list[int]:
    with sessions() as session, session.begin():
        claimed = claim_deliveries(
            session=session, now=clock(), limit=100, worker=worker, lease=LEASE
        )
        return [d.id for d in claimed if d.id is not None]


def state_of(sessions: sessionmaker[Session], delivery_id: int) -> tuple[str, str | None]:
    with sessions() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery.state, delivery.claimed_by


def test_a_sent_delivery_is_never_put_back_by_a_late_failure_or_release(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    make_incident(ctx)
    head = claim_as(sessions, clock, "a")[0]
    with sessions() as session, session.begin():
        record_sent(session=session, delivery_id=head, remote_ref="7", at=clock())
    with sessions() as session, session.begin():
        # A duplicate send of the same row that then met a 429 reports late.
        record_failure(
            session=session, delivery_id=head, error="429", next_attempt_at=clock(), worker="a"
        )
        release_delivery(session=session, delivery_id=head, next_attempt_at=clock())
        record_sent(session=session, delivery_id=head, remote_ref="8", at=clock())
    with sessions() as session:
        delivery = session.get(Delivery, head)
        assert delivery is not None
        assert (delivery.state, delivery.remote_ref, delivery.attempts) == (
            DeliveryState.SENT,
            "7",
            1,
        )


def taken_over(ctx: Context, sessions: sessionmaker[Session], clock: FakeClock) -> int:
    """A delivery claimed by worker a, whose lease lapsed, then claimed by worker b."""
    make_incident(ctx)
    head = claim_as(sessions, clock, "a")[0]
    clock.advance(seconds=61)
    assert head in claim_as(sessions, clock, "b")
    return head


def test_a_worker_whose_lease_was_taken_over_leaves_the_record_to_the_new_owner(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    head = taken_over(ctx, sessions, clock)
    with sessions() as session, session.begin():
        record_failure(
            session=session, delivery_id=head, error="502", next_attempt_at=clock(), worker="a"
        )
    assert state_of(sessions, head) == (DeliveryState.PENDING, "b")
    with sessions() as session, session.begin():
        record_failure(
            session=session, delivery_id=head, error="502", next_attempt_at=clock(), worker="b"
        )
    assert state_of(sessions, head) == (DeliveryState.FAILED, None)


def test_renewing_extends_only_this_workers_open_claims(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    make_incident(ctx)
    mine = claim_as(sessions, clock, "a")
    assert len(mine) == 2
    with sessions() as session, session.begin():
        record_sent(session=session, delivery_id=mine[1], remote_ref="1", at=clock())
    clock.advance(seconds=50)
    with sessions() as session, session.begin():
        renewed = renew_leases(
            session=session, delivery_ids=mine, worker="a", until=clock() + LEASE
        )
        assert (
            renew_leases(session=session, delivery_ids=mine, worker="b", until=clock() + LEASE) == 0
        )
    assert renewed == 1
    clock.advance(seconds=20)  # past the first lease, inside the renewed one
    assert claim_as(sessions, clock, "b") == []
    clock.advance(seconds=41)
    assert claim_as(sessions, clock, "b") == [mine[0]]


def test_a_late_report_after_the_new_owner_gave_the_claim_back_changes_nothing(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    head = taken_over(ctx, sessions, clock)
    later = clock() + timedelta(minutes=10)
    with sessions() as session, session.begin():
        release_delivery(session=session, delivery_id=head, next_attempt_at=later, worker="b")
    with sessions() as session, session.begin():
        record_failure(
            session=session, delivery_id=head, error="502", next_attempt_at=clock(), worker="a"
        )
    with sessions() as session:
        delivery = session.get(Delivery, head)
        assert delivery is not None
        assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (
            DeliveryState.PENDING,
            0,
            later,
        )
