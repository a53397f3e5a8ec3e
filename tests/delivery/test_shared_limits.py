"""Rate budgets shared through the database: two workers keep one limit and obey one 429."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from bot.delivery.errors import Paused
from bot.delivery.limits import SEND_DEADLINE, RateSettings, extend_deadline
from bot.delivery.shared_limits import CHECK_AHEAD, ClockOffset, SharedRateLimits
from storage.budgets import Turn
from storage.models import Platform, RateBudget
from tests.factories import FakeClock

SCOPE = "telegram:token-hash"
GROUP = "-1001234"


class DatabaseTime:
    """The database's clock, as both workers read it, moved only by their waits."""

    def __init__(self) -> None:
        self.now = 1_000_000.0  # small, so float rounding stays far below the asserted waits
        self.waits: list[float] = []
        self.during_wait: Callable[[], object] | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.during_wait is not None:
            await self.during_wait()  # type: ignore[misc]
        self.now += seconds


def worker_limits(
    sessions: sessionmaker[Session],
    time: DatabaseTime,
    clock: FakeClock,
    rates: RateSettings | None = None,
) -> SharedRateLimits:
    """The limits of one worker process."""
    return SharedRateLimits(
        rates or RateSettings(),
        clock=clock,
        sessions=sessions,
        sleep=time.sleep,
        shared_clock=time,
        local_clock=time,
    )


def test_two_workers_space_their_messages_to_one_group(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    time = DatabaseTime()
    one, two = worker_limits(sessions, time, clock), worker_limits(sessions, time, clock)

    async def scenario() -> None:
        await one.acquire(Platform.TELEGRAM, GROUP, SCOPE)
        await two.acquire(Platform.TELEGRAM, GROUP, SCOPE)
        await two.acquire(Platform.TELEGRAM, "-1009999", SCOPE)

    asyncio.run(scenario())
    # The second message to the group waits the group's 3.1 s, whichever worker sends it;
    # a message to another chat then waits only the token's turn.
    assert sum(time.waits) == pytest.approx(3.1 + 1 / 29, abs=1 / 29)


def test_a_429_read_by_one_worker_stops_the_other(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    time = DatabaseTime()
    one, two = worker_limits(sessions, time, clock), worker_limits(sessions, time, clock)

    async def scenario() -> Paused:
        until = await one.pause(SCOPE, 30)
        assert (until - clock()).total_seconds() == pytest.approx(30)
        with pytest.raises(Paused) as stopped:
            await two.acquire(Platform.TELEGRAM, GROUP, SCOPE)
        return stopped.value

    stopped = asyncio.run(scenario())
    assert (stopped.until - clock()).total_seconds() == pytest.approx(30)
    # The other worker now knows, and skips deliveries to the token without asking.
    assert two.paused_until(SCOPE) == stopped.until
    assert time.waits == []


def test_a_429_read_while_a_request_waits_its_turn_stops_it(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    time = DatabaseTime()
    one, two = worker_limits(sessions, time, clock), worker_limits(sessions, time, clock)

    async def other_worker_reads_a_429() -> None:
        await one.pause(SCOPE, 60)

    async def scenario() -> None:
        await one.acquire(Platform.TELEGRAM, GROUP, SCOPE)
        time.during_wait = other_worker_reads_a_429
        with pytest.raises(Paused):
            await two.acquire(Platform.TELEGRAM, GROUP, SCOPE)

    asyncio.run(scenario())
    # The group's turn came; booking the token's then found the pause.
    assert time.waits == [pytest.approx(3.1)]


def test_a_request_asks_for_429s_shortly_before_its_turn(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    time = DatabaseTime()
    slow = RateSettings(telegram_per_second=2)
    one = worker_limits(sessions, time, clock, slow)
    two = worker_limits(sessions, time, clock, slow)

    async def other_worker_reads_a_429() -> None:
        await one.pause(SCOPE, 60)

    async def scenario() -> None:
        await one.acquire(Platform.TELEGRAM, GROUP, SCOPE)
        time.during_wait = other_worker_reads_a_429
        with pytest.raises(Paused):
            await two.acquire(Platform.TELEGRAM, "-1009999", SCOPE)

    asyncio.run(scenario())
    # Its turn was 0.5 s away (2 a second): it asked CHECK_AHEAD before it, and stopped.
    assert time.waits == [pytest.approx(0.5 - CHECK_AHEAD)]


def test_a_request_not_paused_goes_at_its_turn(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    time = DatabaseTime()
    slow = RateSettings(telegram_per_second=2)
    one = worker_limits(sessions, time, clock, slow)
    two = worker_limits(sessions, time, clock, slow)

    async def scenario() -> None:
        await one.acquire(Platform.TELEGRAM, GROUP, SCOPE)
        await two.acquire(Platform.TELEGRAM, "-1009999", SCOPE)

    asyncio.run(scenario())
    # It asked CHECK_AHEAD before its turn, then waited for the turn itself.
    assert time.waits == [pytest.approx(0.5 - CHECK_AHEAD), pytest.approx(CHECK_AHEAD)]


def test_slack_channels_share_the_workspace_budget(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    time = DatabaseTime()
    one, two = worker_limits(sessions, time, clock), worker_limits(sessions, time, clock)

    async def scenario() -> None:
        await one.acquire(Platform.SLACK, "C1", "slack:C1")
        await two.acquire(Platform.SLACK, "C2", "slack:C2")

    asyncio.run(scenario())
    assert time.waits == [pytest.approx(1 / 4.8)]


def test_webhooks_keep_each_workers_own_pace(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    time = DatabaseTime()
    limits = worker_limits(sessions, time, clock)
    asyncio.run(limits.acquire(Platform.WEBHOOK, "https://example.org/hook", "webhook:x"))
    with sessions() as session:
        assert session.exec(select(RateBudget)).all() == []


def test_waiting_for_a_turn_does_not_count_against_the_send_time_out(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    time = DatabaseTime()
    limits = worker_limits(sessions, time, clock)

    async def scenario() -> float:
        await limits.acquire(Platform.TELEGRAM, GROUP, SCOPE)
        async with asyncio.timeout(60) as deadline:
            SEND_DEADLINE.set(deadline)
            set_at = deadline.when()
            assert set_at is not None
            await limits.acquire(Platform.TELEGRAM, GROUP, SCOPE)
            moved_to = deadline.when()
            assert moved_to is not None
            return moved_to - set_at

    assert asyncio.run(scenario()) == pytest.approx(3.1)


def test_the_offset_comes_from_the_tightest_reading_of_the_last_minute() -> None:
    offset = ClockOffset()
    assert offset.due(1000.0)
    # This process's clock runs 100 s behind the database's; a reading taking 0.2 s.
    offset.learn(database=1100.1, asked=1000.0, answered=1000.2)
    assert offset.value == pytest.approx(100.0)
    assert not offset.due(1004.0)
    assert offset.due(1005.2)
    # A tighter reading pins the offset down better...
    offset.learn(database=1105.0, asked=1005.0, answered=1005.002)
    assert offset.value == pytest.approx(99.999)
    # ...a looser one, from a busy moment, does not move it...
    offset.learn(database=1110.5, asked=1010.0, answered=1010.8)
    assert offset.value == pytest.approx(99.999)
    # ...until the tight one is more than a minute old: clocks drift.
    offset.learn(database=1170.5, asked=1070.0, answered=1070.8)
    assert offset.value == pytest.approx(100.1)


def test_a_slow_booking_does_not_make_the_request_late(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    time = DatabaseTime()
    limits = worker_limits(sessions, time, clock)
    booking = limits._book_now

    def slow_booking(budgets: list[tuple[str, float]], skip: int, scope: str) -> Turn:
        turn = booking(budgets, skip, scope)
        if time.waits or limits.offset.value != 0:
            raise AssertionError("the first booking should have set the offset at 0")
        if bookings:
            time.now += 0.02  # 20 ms between the database's reading and the answer
        bookings.append(turn)
        return turn

    bookings: list[Turn] = []

    limits._book_now = slow_booking  # type: ignore[method-assign]

    async def scenario() -> None:
        await limits.acquire(Platform.TELEGRAM, GROUP, SCOPE)
        await limits.acquire(Platform.TELEGRAM, "-1009999", SCOPE)

    asyncio.run(scenario())
    # The first, quick booking told the clocks apart (the same here). The second message's
    # turn was 1/29 s after the first's; 20 ms of it went by in its slow booking's round
    # trip, so it waited only the rest.
    assert time.waits == [pytest.approx(1 / 29 - 0.02)]


def test_a_request_woken_late_for_its_turn_takes_the_next_one(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    time = DatabaseTime()
    limits = worker_limits(sessions, time, clock)
    late = [0.05]  # the first wait overruns by 50 ms, as on a busy machine

    async def sleep_late(seconds: float) -> None:
        await time.sleep(seconds)
        time.now += late.pop() if late else 0.0

    limits._sleep = sleep_late

    async def scenario() -> None:
        await limits.acquire(Platform.TELEGRAM, GROUP, SCOPE)
        await limits.acquire(Platform.TELEGRAM, "-1009999", SCOPE)

    asyncio.run(scenario())
    token = 1 / 29
    # Its turn was at 1/29 s; woken 50 ms after it, it gave that turn up and took the
    # one free then (due at once): the budget moved on from the moment it went.
    assert time.waits == [pytest.approx(token)]
    with sessions() as session:
        budget = session.get(RateBudget, "telegram:token")
        assert budget is not None
        assert budget.next_free == pytest.approx(1_000_000.0 + token + 0.05 + token)


def test_a_request_due_at_once_is_not_held_back_by_a_slow_booking(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    time = DatabaseTime()
    limits = worker_limits(sessions, time, clock)
    booking = limits._book_now

    def slow_booking(budgets: list[tuple[str, float]], skip: int, scope: str) -> Turn:
        turn = booking(budgets, skip, scope)
        time.now += 0.05
        return turn

    limits._book_now = slow_booking  # type: ignore[method-assign]
    asyncio.run(limits.acquire(Platform.TELEGRAM, GROUP, SCOPE))
    with sessions() as session:
        token = session.get(RateBudget, "telegram:token")
        assert token is not None
        # One turn booked: the request went at once, not after taking turns again.
        assert token.next_free == pytest.approx(1_000_000.0 + 1 / 29)
    assert time.waits == []


def test_a_deadline_is_only_moved_for_a_send_under_way() -> None:
    extend_deadline(5)  # no send under way: nothing to move, nothing raised

    async def after_a_send() -> None:
        async with asyncio.timeout(10) as deadline:
            token = SEND_DEADLINE.set(deadline)
        # A deadline left behind (over now) is not touched, and says nothing.
        extend_deadline(5)
        SEND_DEADLINE.reset(token)

    asyncio.run(after_a_send())

    async def scenario() -> float:
        async with asyncio.timeout(10) as deadline:
            SEND_DEADLINE.set(deadline)
            before = deadline.when()
            extend_deadline(0)
            extend_deadline(2.5)
            after = deadline.when()
            assert before is not None
            assert after is not None
            return after - before

    assert asyncio.run(scenario()) == pytest.approx(2.5)
