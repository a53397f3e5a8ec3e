"""429 pauses kept for the next sender: the longest wins, and finished ones are forgotten."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from storage.pauses import forget_pauses, pause, pauses_running

T0 = 1_800_000_000.0
SCOPE = "telegram:abc"


def pause_for(sessions: sessionmaker[Session], seconds: float, now: float | None) -> float:
    """Pause SCOPE from `now`, in a transaction of its own."""
    with sessions() as session, session.begin():
        return pause(session=session, scope=SCOPE, seconds=seconds, now=now)


def test_a_shorter_pause_does_not_cut_a_longer_one(sessions: sessionmaker[Session]) -> None:
    assert pause_for(sessions, 30, T0) == pytest.approx(30)
    assert pause_for(sessions, 2, T0 + 1) == pytest.approx(29)
    assert pause_for(sessions, 60, T0 + 1) == pytest.approx(60)


def test_running_pauses_are_listed_and_finished_ones_forgotten(
    sessions: sessionmaker[Session],
) -> None:
    pause_for(sessions, 5, T0)
    with sessions() as session, session.begin():
        pause(session=session, scope="slack:C1", seconds=60, now=T0)
    with sessions() as session, session.begin():
        assert pauses_running(session=session, now=T0 + 1) == {
            SCOPE: pytest.approx(4),
            "slack:C1": pytest.approx(59),
        }
        assert forget_pauses(session=session, now=T0 + 5) == 1
        assert pauses_running(session=session, now=T0 + 5) == {"slack:C1": pytest.approx(55)}


def test_the_database_clock_is_used_when_no_time_is_given(
    sessions: sessionmaker[Session],
) -> None:
    assert 55 < pause_for(sessions, 60, None) <= 60
    with sessions() as session:
        [left] = pauses_running(session=session).values()
    assert 55 < left <= 60
