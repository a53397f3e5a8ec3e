"""Sender leases: one worker at a time sends to a platform, another takes over when it stops."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.delivery.errors import Paused
from bot.delivery.limits import Landing, LandingWindow, RateLimits, RateSettings
from bot.delivery.sender_leases import (
    LEASE_SECONDS,
    MARGIN_SECONDS,
    QUIET_START,
    LeasedRateLimits,
)
from bot.delivery.worker import DeliveryWorker, WorkerSettings
from storage.models import Platform
from tests.delivery.helpers import ScriptedSender
from tests.factories import ROME, FakeClock, make_channel, make_context, make_incident

TOKENS = {Platform.TELEGRAM: "123456:TOKEN", Platform.SLACK: "xoxb-token"}
# Every worker sends to these: they share no limit across processes.
UNSHARED = frozenset({Platform.WEBHOOK, Platform.EMAIL})
FAST = RateSettings({Platform.TELEGRAM: 1000, Platform.SLACK: 1000})


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
            lease_clock=clock,
            local_clock=lambda: self.local,
        )

    def take(self) -> list[Platform]:
        """Renew or take the leases, then let the quiet start of a new lease pass."""
        taken = self.limits.refresh()
        self.local += QUIET_START
        return taken

    def take_all(self) -> list[Platform]:
        """Renewal rounds until nothing more is taken (a worker already sending to one
        platform leaves the next to others for a round)."""
        taken = []
        while more := self.limits.refresh():
            taken += more
        self.local += QUIET_START
        return taken


@pytest.fixture
def pair(sessions: sessionmaker[Session], clock: FakeClock) -> tuple[Worker, Worker]:
    return Worker(sessions, clock, "a"), Worker(sessions, clock, "b")


def test_one_worker_sends_to_each_platform_and_every_worker_sends_webhooks(
    pair: tuple[Worker, Worker],
) -> None:
    a, b = pair
    assert a.limits.refresh() == [Platform.TELEGRAM]
    # A lease just taken sends nothing for a moment: the last holder may have written
    # to a chat a moment ago.
    assert a.limits.platforms_to_claim() == UNSHARED
    a.local += QUIET_START
    # A worker sending to Telegram leaves Slack to an idle one for a round.
    assert b.take() == [Platform.SLACK]
    assert a.limits.platforms_to_claim() == UNSHARED | {Platform.TELEGRAM}
    assert b.limits.platforms_to_claim() == UNSHARED | {Platform.SLACK}
    assert a.take() == []  # renewed, not taken again; Slack is b's
    assert a.limits.holds(Platform.TELEGRAM)


def test_a_lone_worker_takes_every_platform_one_round_apart(pair: tuple[Worker, Worker]) -> None:
    a, _ = pair
    assert a.limits.refresh() == [Platform.TELEGRAM]
    assert a.limits.refresh() == [Platform.SLACK]  # nobody else took it meanwhile
    assert a.limits.refresh() == []


def test_another_worker_takes_over_once_the_holder_stops_renewing(
    pair: tuple[Worker, Worker], clock: FakeClock
) -> None:
    a, b = pair
    a.take_all()
    # The holder stops sending before its lease can be taken: a margin for clocks and
    # for requests already on their way.
    a.local = LEASE_SECONDS - MARGIN_SECONDS
    assert not a.limits.holds(Platform.TELEGRAM)
    clock.advance(seconds=LEASE_SECONDS - 0.5)
    assert b.take() == []  # not yet expired in the database
    clock.advance(seconds=1)
    assert b.take_all() == [Platform.TELEGRAM, Platform.SLACK]
    assert b.limits.platforms_to_claim() == frozenset(Platform)
    assert a.take() == []
    assert a.limits.platforms_to_claim() == UNSHARED


def test_a_request_waiting_when_the_lease_lapses_is_given_back_for_the_new_holder(
    pair: tuple[Worker, Worker],
) -> None:
    a, _ = pair
    a.take()

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
    a.take_all()
    asyncio.run(a.limits.pause("telegram:-1001", 30))
    asyncio.run(a.limits.release())
    assert b.take_all() == [Platform.TELEGRAM, Platform.SLACK]
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
    a.take()
    b.take()

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


def test_a_pause_written_after_a_takeover_reaches_every_worker(
    pair: tuple[Worker, Worker],
) -> None:
    a, b = pair
    a.take()
    b.take()
    # B reads a 429 (a webhook's, say, or one the old holder's last request drew).
    asyncio.run(b.limits.pause("webhook:receiver", 30))
    assert a.limits.paused_until("webhook:receiver") is None
    a.take()  # every renewal reads the pauses
    assert a.limits.paused_until("webhook:receiver") is not None


def test_a_worker_that_missed_losing_its_lease_reads_it_as_new(
    pair: tuple[Worker, Worker], clock: FakeClock
) -> None:
    a, b = pair
    a.take()
    # Cut off from the database past its lease, A never heard of B meanwhile.
    a.local += LEASE_SECONDS
    clock.advance(seconds=LEASE_SECONDS + 1)
    b.take()
    asyncio.run(b.limits.release())
    assert Platform.TELEGRAM in a.limits.refresh()
    assert not a.limits.holds(Platform.TELEGRAM)  # and it starts quietly, too


def test_a_request_queued_when_the_lease_lapses_is_given_back_without_waiting_its_turn(
    pair: tuple[Worker, Worker],
) -> None:
    a, _ = pair
    a.take()

    async def queued() -> float:
        stop = asyncio.Event()
        keeping = asyncio.create_task(a.limits.keep(stop))
        first = await a.limits.acquire(Platform.TELEGRAM, "-1001", "telegram:-1001")
        waiting = asyncio.ensure_future(
            a.limits.acquire(Platform.TELEGRAM, "-1001", "telegram:-1001")
        )
        await asyncio.sleep(0.05)
        a.local += LEASE_SECONDS  # the lease lapses while it waits (3.1 s for its chat)
        began = time.monotonic()
        with pytest.raises(Paused):
            await waiting
        first.landed()
        stop.set()
        await keeping
        return time.monotonic() - began

    assert asyncio.run(queued()) < 1.0


def test_a_turn_cancelled_as_it_comes_is_marked_unused(
    sessions: sessionmaker[Session], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A send's deadline or a shutdown cancels the request in the very loop turn its
    # turn comes: unmarked, the requests a window behind it would wait for its answer.
    limits = Worker(sessions, clock, "a").limits
    monkeypatch.setattr(limits, "holds", lambda platform: True)
    marked: list[Landing] = []
    mark = Landing.landed

    def landed(self: Landing) -> None:
        marked.append(self)
        mark(self)

    monkeypatch.setattr(Landing, "landed", landed)
    given: list[Landing] = []
    outer: list[asyncio.Task[Landing]] = []
    turn_comes = RateLimits.acquire

    async def cancelled_as_the_turn_comes(
        self: RateLimits, platform: Platform, address: str, scope: str
    ) -> Landing:
        landing = await turn_comes(self, platform, address, scope)
        given.append(landing)
        outer[0].cancel()
        return landing

    async def request() -> None:
        monkeypatch.setattr(RateLimits, "acquire", cancelled_as_the_turn_comes)
        outer.append(asyncio.ensure_future(limits.acquire(Platform.TELEGRAM, "-1001", "s")))
        with pytest.raises(asyncio.CancelledError):
            await outer[0]

    asyncio.run(request())
    assert len(given) == 1
    assert given[0] in marked
