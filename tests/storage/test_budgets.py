"""Shared rate budgets: turns one interval apart whoever books them, and 429 pauses for all."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from storage.budgets import Turn, book_turn, pause, pause_left
from storage.models import RateBudget
from tests.storage.helpers import all_at_once

T0 = 1_800_000_000.0
CHAT = ("telegram:chat:-1001", 3.1)
OTHER_CHAT = ("telegram:chat:-1002", 3.1)
TOKEN = ("telegram:token", 0.05)
SCOPE = "telegram:abc"


def book(
    sessions: sessionmaker[Session],
    budgets: list[tuple[str, float]],
    now: float,
    scope: str = SCOPE,
    skip: int = 0,
) -> Turn:
    """Book in a transaction of its own, as each worker does."""
    with sessions() as session, session.begin():
        return book_turn(session=session, budgets=budgets, scope=scope, skip=skip, now=now)


def pause_for(sessions: sessionmaker[Session], seconds: float, now: float) -> float:
    """Pause SCOPE from `now`."""
    with sessions() as session, session.begin():
        return pause(session=session, scope=SCOPE, seconds=seconds, now=now)


def next_free(sessions: sessionmaker[Session], name: str) -> float:
    """Where a budget's next turn starts."""
    with sessions() as session:
        row = session.get(RateBudget, name)
        assert row is not None
        return row.next_free


def test_turns_in_one_budget_are_one_interval_apart(sessions: sessionmaker[Session]) -> None:
    waits = [book(sessions, [TOKEN], T0).wait for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.05, 0.10, 0.15])
    # Time passing uses the turns up; an idle budget lets the next request go at once.
    assert book(sessions, [TOKEN], T0 + 0.12).wait == pytest.approx(0.08)
    assert book(sessions, [TOKEN], T0 + 10).wait == 0.0


def test_a_token_turn_is_never_before_its_chats_and_chats_share_the_token(
    sessions: sessionmaker[Session],
) -> None:
    first = book(sessions, [CHAT, TOKEN], T0)
    assert (first.wait, first.booked) == (0.0, 2)
    second_chat = book(sessions, [OTHER_CHAT, TOKEN], T0)
    assert second_chat.wait == pytest.approx(0.05)
    assert second_chat.booked == 2
    # The same chat again: its turn is 3.1 s away, so only the chat is booked now and
    # the token's turns in between stay free for other chats.
    again = book(sessions, [CHAT, TOKEN], T0)
    assert again.wait == pytest.approx(3.1)
    assert again.booked == 1
    assert next_free(sessions, TOKEN[0]) == pytest.approx(T0 + 0.10)
    third_chat = book(sessions, [("telegram:chat:-1003", 3.1), TOKEN], T0)
    assert third_chat.wait == pytest.approx(0.10)
    # When that wait is over, the token is booked.
    rest = book(sessions, [TOKEN], T0 + 3.1)
    assert (rest.wait, rest.booked) == (0.0, 1)


def test_a_short_chat_wait_books_the_token_in_the_same_step(
    sessions: sessionmaker[Session],
) -> None:
    private = ("telegram:chat:42", 0.04)
    book(sessions, [private, TOKEN], T0)
    turn = book(sessions, [private, TOKEN], T0)
    assert turn.wait == pytest.approx(0.05)
    assert turn.booked == 2


def test_nothing_is_booked_while_the_scope_is_paused(sessions: sessionmaker[Session]) -> None:
    book(sessions, [CHAT, TOKEN], T0)
    assert pause_for(sessions, 5, T0 + 1) == pytest.approx(5)
    turn = book(sessions, [OTHER_CHAT, TOKEN], T0 + 2)
    assert turn.paused == pytest.approx(4)
    assert turn.booked == 0
    assert next_free(sessions, TOKEN[0]) == pytest.approx(T0 + 0.05)
    with sessions() as session:
        assert pause_left(session=session, scope=SCOPE, now=T0 + 5.5) == pytest.approx(0.5)
        assert pause_left(session=session, scope=SCOPE, now=T0 + 6) is None
        assert pause_left(session=session, scope="telegram:other", now=T0) is None
    assert book(sessions, [OTHER_CHAT, TOKEN], T0 + 6).paused is None


def test_a_shorter_pause_does_not_cut_a_longer_one(sessions: sessionmaker[Session]) -> None:
    assert pause_for(sessions, 30, T0) == pytest.approx(30)
    assert pause_for(sessions, 2, T0 + 1) == pytest.approx(29)
    assert pause_for(sessions, 60, T0 + 1) == pytest.approx(60)


def test_the_database_clock_is_used_when_no_time_is_given(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        first = book_turn(session=session, budgets=[("slack:token", 30.0)], scope="slack:C1")
        second = book_turn(session=session, budgets=[("slack:token", 30.0)], scope="slack:C1")
        paused = pause(session=session, scope="slack:C1", seconds=60)
    assert first.wait == 0.0
    # The second turn is one interval after the first, less the moments between them.
    assert 25 < second.wait <= 30
    assert 55 < paused <= 60


def test_processes_booking_at_once_never_share_a_turn(sessions: sessionmaker[Session]) -> None:
    per_process = 10
    waits: list[float] = []

    def worker(n: int) -> bool:
        for _ in range(per_process):
            waits.append(book(sessions, [TOKEN], T0).wait)
        return True

    assert all(all_at_once(4, worker))
    expected = [k * TOKEN[1] for k in range(4 * per_process)]
    assert sorted(waits) == pytest.approx(expected)
    gaps = [b - a for a, b in itertools.pairwise(sorted(waits))]
    assert min(gaps) == pytest.approx(TOKEN[1])


def test_a_chat_turn_counts_from_when_the_request_goes_not_from_its_booking(
    sessions: sessionmaker[Session],
) -> None:
    slow_token = ("telegram:token", 1.0)
    for n in range(3):  # the token is taken for the next three seconds
        book(sessions, [(f"telegram:chat:{n}", 3.1), slow_token], T0)
    turn = book(sessions, [CHAT, slow_token], T0)
    assert turn.wait == pytest.approx(3.0)
    assert turn.booked == 2
    # The message goes at T0 + 3 s, so the chat's next turn is 3.1 s after that.
    assert next_free(sessions, CHAT[0]) == pytest.approx(T0 + 3.0 + 3.1)


def test_a_later_call_books_the_rest_and_moves_the_chat_on(
    sessions: sessionmaker[Session],
) -> None:
    book(sessions, [CHAT, TOKEN], T0)
    first = book(sessions, [CHAT, TOKEN], T0)
    assert first.booked == 1  # the chat's turn is 3.1 s away: only the chat booked
    rest = book(sessions, [CHAT, TOKEN], T0 + 3.1, skip=1)
    assert (rest.wait, rest.booked) == (0.0, 2)
    assert next_free(sessions, CHAT[0]) == pytest.approx(T0 + 3.1 + 3.1)
