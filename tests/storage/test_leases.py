"""Leases: one holder at a time, renewed by its holder, free once expired or released."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from storage.leases import acquire_lease, lease_holder, release_lease
from storage.models import Lease
from tests.storage.helpers import Contender, all_at_once

T0 = datetime(2025, 1, 28, 14, 0, tzinfo=UTC)
POLLER = "telegram-poller"


def acquire(
    sessions: sessionmaker[Session], holder: str, now: datetime, *, seconds: float = 30
) -> bool:
    """Try for the poller lease in a transaction of its own."""
    with sessions() as session, session.begin():
        return acquire_lease(session=session, name=POLLER, holder=holder, now=now, seconds=seconds)


def holder_at(sessions: sessionmaker[Session], now: datetime) -> str | None:
    """Who holds the poller lease at `now`."""
    with sessions() as session:
        return lease_holder(session=session, name=POLLER, now=now)


def release(sessions: sessionmaker[Session], holder: str) -> None:
    """Release the poller lease as `holder`."""
    with sessions() as session, session.begin():
        release_lease(session=session, name=POLLER, holder=holder)


def at(seconds: float) -> datetime:
    """T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def test_a_free_lease_is_taken_and_kept_from_others_until_it_expires(
    sessions: sessionmaker[Session],
) -> None:
    assert holder_at(sessions, T0) is None
    assert acquire(sessions, "a", T0)
    assert holder_at(sessions, at(29)) == "a"
    assert not acquire(sessions, "b", at(29))
    # Expired at expires_at itself: a holder that renews on time never reaches it.
    assert holder_at(sessions, at(30)) is None
    assert acquire(sessions, "b", at(30))
    assert holder_at(sessions, at(31)) == "b"
    assert not acquire(sessions, "a", at(31))


def test_the_holder_renews_its_lease(sessions: sessionmaker[Session]) -> None:
    assert acquire(sessions, "a", T0)
    assert acquire(sessions, "a", at(20))
    assert not acquire(sessions, "b", at(45))
    assert holder_at(sessions, at(49)) == "a"
    assert holder_at(sessions, at(50)) is None
    with sessions() as session:
        lease = session.get(Lease, POLLER)
        assert lease is not None
        assert (lease.holder, lease.expires_at) == ("a", at(50))


def test_a_released_lease_is_free_at_once_but_only_its_holder_releases(
    sessions: sessionmaker[Session],
) -> None:
    assert acquire(sessions, "a", T0)
    release(sessions, "b")
    assert holder_at(sessions, at(1)) == "a"
    release(sessions, "a")
    assert holder_at(sessions, at(1)) is None
    assert acquire(sessions, "b", at(1))
    release(sessions, "a")  # a late stop of the old holder leaves the new one alone
    assert holder_at(sessions, at(2)) == "b"


def test_leases_are_independent_by_name(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        assert acquire_lease(session=session, name="one", holder="a", now=T0, seconds=30)
        assert acquire_lease(session=session, name="two", holder="b", now=T0, seconds=30)
    with sessions() as session:
        assert lease_holder(session=session, name="one", now=T0) == "a"
        assert lease_holder(session=session, name="two", now=T0) == "b"


@pytest.mark.parametrize("held_by_another", [False, True], ids=["free", "expired"])
def test_processes_racing_for_a_lease_leave_it_to_one(
    sessions: sessionmaker[Session], held_by_another: bool
) -> None:
    if held_by_another:
        assert acquire(sessions, "old", at(-60))
    outcomes = all_at_once(4, lambda n: acquire(sessions, f"p{n}", T0))
    assert sorted(outcomes) == [False, False, False, True]
    assert holder_at(sessions, T0) in {f"p{n}" for n in range(4)}


@pytest.mark.postgres
@pytest.mark.parametrize("held_by_another", [False, True], ids=["free", "expired"])
@pytest.mark.parametrize(("first_commits", "second_wins"), [(True, False), (False, True)])
def test_a_second_acquirer_waits_for_the_first_and_takes_its_outcome(
    engine: sa.Engine,
    sessions: sessionmaker[Session],
    held_by_another: bool,
    first_commits: bool,
    second_wins: bool,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE: there is no race to stage")
    if held_by_another:
        assert acquire(sessions, "old", at(-60))
    with sessions() as first:
        assert acquire_lease(session=first, name=POLLER, holder="a", now=T0, seconds=30)
        second = Contender(
            engine,
            sessions,
            lambda session: acquire_lease(
                session=session, name=POLLER, holder="b", now=T0, seconds=30
            ),
        )
        if first_commits:
            first.commit()
        else:
            first.rollback()
    assert second.result() is second_wins
    assert holder_at(sessions, T0) == ("b" if second_wins else "a")


def test_the_database_clock_judges_a_lease_whatever_the_processes_clocks_say(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("the database's clock is PostgreSQL's: SQLite runs one worker")

    def take(holder: str) -> bool:
        with sessions() as session, session.begin():
            return acquire_lease(session=session, name=POLLER, holder=holder, now=None, seconds=30)

    assert take("a")
    # A process whose clock runs an hour ahead would take a lease written with the
    # holder's clock at once; judged by the database's, it waits like any other.
    assert not take("b")
    with sessions() as session:
        lease = session.get(Lease, POLLER)
    assert lease is not None
    expires = lease.expires_at
    assert 25 < (expires - datetime.now(UTC)).total_seconds() <= 31
