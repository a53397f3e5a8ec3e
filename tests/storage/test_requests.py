"""Chat requests run once, also when two processes get the same one; cursors only advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from storage.models import Cursor, HandledRequest
from storage.requests import advance_cursor, claim_request, forget_requests, get_cursor
from tests.storage.helpers import Contender, all_at_once

T0 = datetime(2025, 1, 28, 14, 0, tzinfo=UTC)


def claim(sessions: sessionmaker[Session], key: str, *, source: str = "telegram") -> bool:
    """Claim a request in a transaction of its own."""
    with sessions() as session, session.begin():
        return claim_request(session=session, source=source, key=key, now=T0)


def test_a_request_is_claimed_once_per_source(sessions: sessionmaker[Session]) -> None:
    assert claim(sessions, "1001")
    assert not claim(sessions, "1001")
    assert claim(sessions, "1001", source="slack")
    assert claim(sessions, "1002")


def test_a_duplicate_claim_leaves_the_transaction_usable(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        assert claim_request(session=session, source="telegram", key="7", now=T0)
        assert not claim_request(session=session, source="telegram", key="7", now=T0)
        # On PostgreSQL a unique violation would have aborted the transaction here.
        advance_cursor(session=session, name="telegram", position=7, now=T0)
    with sessions() as session:
        assert get_cursor(session=session, name="telegram") == 7
        assert len(session.exec(select(HandledRequest)).all()) == 1


def test_forgotten_requests_are_those_handled_before(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        for hours, key in enumerate(["a", "b", "c"]):
            now = T0 + timedelta(hours=hours)
            claim_request(session=session, source="telegram", key=key, now=now)
    with sessions() as session, session.begin():
        assert forget_requests(session=session, before=T0 + timedelta(hours=1)) == 1
    with sessions() as session:
        kept = session.exec(select(HandledRequest.key).order_by(HandledRequest.key)).all()
    assert kept == ["b", "c"]
    assert claim(sessions, "a")


def test_a_cursor_never_moves_back(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert get_cursor(session=session, name="telegram") is None
    big = 2**40  # Telegram update ids exceed 2**31
    with sessions() as session, session.begin():
        advance_cursor(session=session, name="telegram", position=big, now=T0)
    later = T0 + timedelta(minutes=1)
    with sessions() as session, session.begin():
        advance_cursor(session=session, name="telegram", position=big - 5, now=later)
        advance_cursor(session=session, name="telegram", position=big, now=later)
        advance_cursor(session=session, name="slack", position=3, now=later)
    with sessions() as session:
        cursor = session.get(Cursor, "telegram")
        assert cursor is not None
        assert (cursor.position, cursor.updated_at) == (big, T0)
        assert get_cursor(session=session, name="slack") == 3
    with sessions() as session, session.begin():
        advance_cursor(session=session, name="telegram", position=big + 1, now=later)
    with sessions() as session:
        cursor = session.get(Cursor, "telegram")
        assert cursor is not None
        assert (cursor.position, cursor.updated_at) == (big + 1, later)


def test_processes_claiming_the_same_requests_at_once_run_each_once(
    sessions: sessionmaker[Session],
) -> None:
    for key in ("10", "11", "12"):

        def attempt(n: int, key: str = key) -> bool:
            return claim(sessions, key)

        assert sorted(all_at_once(4, attempt)) == [False, False, False, True]


def test_processes_advancing_one_cursor_at_once_keep_the_greatest(
    sessions: sessionmaker[Session],
) -> None:
    def advance(n: int) -> bool:
        with sessions() as session, session.begin():
            advance_cursor(session=session, name="telegram", position=100 + n, now=T0)
        return True

    all_at_once(6, advance)
    with sessions() as session:
        assert get_cursor(session=session, name="telegram") == 105


@pytest.mark.postgres
@pytest.mark.parametrize(("first_commits", "second_wins"), [(True, False), (False, True)])
def test_a_second_claim_waits_for_the_first_and_takes_its_outcome(
    engine: sa.Engine, sessions: sessionmaker[Session], first_commits: bool, second_wins: bool
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE: there is no race to stage")
    with sessions() as first:
        assert claim_request(session=first, source="telegram", key="42", now=T0)
        second = Contender(
            engine,
            sessions,
            lambda session: claim_request(session=session, source="telegram", key="42", now=T0),
        )
        if first_commits:
            first.commit()
        else:
            first.rollback()
    assert second.result() is second_wins
    assert not claim(sessions, "42")
