"""Sender leases: one worker at a time sends to a platform, another takes over when it stops."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.delivery.errors import Paused
from bot.delivery.limits import LandingWindow, RateSettings
from bot.delivery.sender_leases import LEASE_SECONDS, MARGIN_SECONDS, LeasedRateLimits
from bot.delivery.worker import DeliveryWorker, WorkerSettings
from storage.models import Platform
from tests.delivery.helpers import ScriptedSender
from tests.factories import ROME, FakeClock, make_channel, make_context, make_incident

TOKENS = {Platform.TELEGRAM: "123456:TOKEN", Platform.SLACK: "xoxb-token"}
FAST = RateSettings(telegram_per_second=1000, slack_per_second=1000)


class Worker:
    """One worker process as the leases see it: its limiter, on a local clock of its own."""

    def __init__(self, sessions: sessionmaker[Session], clock: FakeClock, name: str) -> None:
        self.local = 0.0
        self.limits = LeasedRateLimits(
            FAST,
            clock=clock,
            sessions=sessions,
            tokens=TOKENS,
            holder=name,
            local_clock=lambda: self.local,
        )


@pytest.fixture
def pair(sessions: sessionmaker[Session], clock: FakeClock) -> tuple[Worker, Worker]:
    return Worker(sessions, clock, "a"), Worker(sessions, clock, "b")


def test_one_worker_sends_to_each_platform_and_every_worker_sends_webhooks(
    pair: tuple[Worker, Worker],
) -> None:
    a, b = pair
    assert a.limits.refresh() == [Platform.TELEGRAM, Platform.SLACK]
    assert b.limits.refresh() == []
    assert a.limits.platforms_to_claim() == frozenset(Platform)
    assert b.limits.platforms_to_claim() == frozenset({Platform.WEBHOOK})
    assert a.limits.refresh() == []  # renewed, not taken again
    assert a.limits.holds(Platform.TELEGRAM)


def test_another_worker_takes_over_once_the_holder_stops_renewing(
    pair: tuple[Worker, Worker], clock: FakeClock
) -> None:
    a, b = pair
    a.limits.refresh()
    # The holder stops sending before its lease can be taken: a margin for clocks and
    # for requests already on their way.
    a.local = LEASE_SECONDS - MARGIN_SECONDS
    assert not a.limits.holds(Platform.TELEGRAM)
    clock.advance(seconds=LEASE_SECONDS - 0.5)
    assert b.limits.refresh() == []  # not yet expired in the database
    clock.advance(seconds=1)
    assert b.limits.refresh() == [Platform.TELEGRAM, Platform.SLACK]
    assert b.limits.platforms_to_claim() == frozenset(Platform)
    assert a.limits.refresh() == []
    assert a.limits.platforms_to_claim() == frozenset({Platform.WEBHOOK})


def test_a_request_waiting_when_the_lease_lapses_is_given_back_for_the_new_holder(
    pair: tuple[Worker, Worker],
) -> None:
    a, _ = pair
    a.limits.refresh()

    async def requests() -> None:
        await a.limits.acquire(Platform.TELEGRAM, "-1001", "telegram:-1001")
        a.local = LEASE_SECONDS
        with pytest.raises(Paused):
            await a.limits.acquire(Platform.TELEGRAM, "-1002", "telegram:-1002")
        # Webhooks share no limit: any worker sends them, lease or not.
        await a.limits.acquire(Platform.WEBHOOK, "https://example.org/hook", "webhook:x")

    asyncio.run(requests())


def test_a_429_read_by_the_holder_stops_the_next_holder_too(
    pair: tuple[Worker, Worker], clock: FakeClock
) -> None:
    a, b = pair
    a.limits.refresh()
    asyncio.run(a.limits.pause("telegram:-1001", 30))
    asyncio.run(a.limits.release())
    assert b.limits.refresh() == [Platform.TELEGRAM, Platform.SLACK]
    until = b.limits.paused_until("telegram:-1001")
    assert until is not None
    assert 25 <= (until - clock()).total_seconds() <= 30
    assert b.limits.paused_until("telegram:-1002") is None


def test_a_worker_claims_only_the_platforms_it_sends_to(
    sessions: sessionmaker[Session], clock: FakeClock, pair: tuple[Worker, Worker]
) -> None:
    ctx = make_context(sessions, clock)
    make_channel(ctx, "-1001")
    make_channel(ctx, "https://example.org/hook", platform="webhook")
    make_incident(ctx)
    a, b = pair
    a.limits.refresh()
    b.limits.refresh()

    def worker(of: Worker, name: str) -> tuple[DeliveryWorker, ScriptedSender, ScriptedSender]:
        telegram, webhook = ScriptedSender(clock), ScriptedSender(clock)
        telegram.limits = webhook.limits = of.limits
        senders = {Platform.TELEGRAM: telegram, Platform.WEBHOOK: webhook}
        settings = WorkerSettings()
        made = DeliveryWorker(
            sessions, senders, of.limits, zone=ROME, clock=clock, settings=settings, name=name
        )
        return made, telegram, webhook

    standby, standby_telegram, standby_webhook = worker(b, "b")
    asyncio.run(standby.drain())
    assert standby_telegram.sent() == []
    assert [s.address for s in standby_webhook.sent()] == ["https://example.org/hook"]
    sender, telegram, _ = worker(a, "a")
    asyncio.run(sender.drain())
    assert [s.address for s in telegram.sent()] == ["-1001"]


def test_a_request_that_left_late_holds_back_the_one_a_window_behind_it() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async def requests() -> None:
        window = LandingWindow(3, 1.0, clock=lambda: now[0], sleep=sleep)
        late = await window.enter()  # held up on its way: answered only at 0.4
        on_time = [await window.enter() for _ in range(2)]
        for landing in on_time:
            landing.landed()
        fourth = asyncio.ensure_future(window.enter())
        await asyncio.sleep(0)
        assert not fourth.done()  # it waits for the late one's answer
        now[0] = 0.4
        late.landed()
        (await fourth).landed()
        # A second after the late one's answer, not after it left: the platform may
        # have counted it at 0.4, with the two on-time ones and this one.
        assert slept == [pytest.approx(1.0)]
        assert now[0] == pytest.approx(1.4)
        fifth = await window.enter()  # the on-time ones answered at 0: no wait
        fifth.landed()
        assert slept == [pytest.approx(1.0)]

    asyncio.run(requests())
