"""Several workers at once, and a worker killed mid-fan-out: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, func, select

from bot.delivery.limits import Landing, RateSettings, Unlimited
from bot.delivery.telegram import TelegramSender
from bot.delivery.worker import DeliveryWorker, WorkerSettings
from commands.context import Context
from storage.engine import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import Delivery, DeliveryState, Platform, utcnow
from storage.outbox import queue_depth
from tests.factories import ROME, FakeClock, make_context, run
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-TOKEN"
pytestmark = pytest.mark.slow


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(
        token=TOKEN, global_per_second=None, per_chat_per_second=None, group_per_minute=None
    ) as fake:
        yield fake


def open_deliveries(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return queue_depth(session=session)[0]


def follow_and_open(ctx: Context, telegram: FakeTelegram, chats: list[int]) -> int:
    """Each chat a customer channel following everything; then one incident opened."""
    for chat in chats:
        telegram.add_chat(chat, "channel")
        run(ctx, f"channels add telegram {chat}")
    incident_id = run(ctx, "open Guasto esteso --sev 1").incident_id
    assert incident_id is not None
    return incident_id


def test_two_workers_over_1000_deliveries_send_each_once_in_order(
    engine: sa.Engine, telegram: FakeTelegram
) -> None:
    ctx = make_context(make_session_factory(engine), utcnow)
    chats = [-1_000_000 - n for n in range(100)]
    incident_id = follow_and_open(ctx, telegram, chats)
    for n in range(9):
        run(ctx, f"update {incident_id} aggiornamento {n}")

    async def main() -> None:
        stop = asyncio.Event()
        workers = []
        for name in ("a", "b"):
            sessions = make_session_factory(engine)
            limits = Unlimited(RateSettings(), clock=utcnow)
            sender = TelegramSender(TOKEN, api_url=telegram.api_url, limits=limits)
            workers.append(
                DeliveryWorker(
                    sessions,
                    {Platform.TELEGRAM: sender},
                    limits,
                    zone=ROME,
                    clock=utcnow,
                    settings=WorkerSettings(batch=30, concurrency=30, poll_seconds=0.05),
                    name=name,
                )
            )
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        deadline = time.monotonic() + 120
        while open_deliveries(ctx.sessions) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*tasks)
        for worker in workers:
            await worker.senders[Platform.TELEGRAM].close()

    asyncio.run(main())
    assert open_deliveries(ctx.sessions) == 0
    for chat in chats:
        bodies = [m.plain.split("\n")[-1] for m in telegram.messages(chat)]
        assert len(bodies) == 10, chat
        assert bodies[1:] == [f"aggiornamento {n}" for n in range(9)]


def test_a_worker_killed_mid_fan_out_loses_nothing(tmp_path: Path) -> None:
    with FakeTelegram(token=TOKEN) as telegram:
        database = tmp_path / "herald.db"
        engine = make_engine(f"sqlite:///{database}")
        upgrade(engine)
        sessions = make_session_factory(engine)
        ctx = make_context(sessions, utcnow)
        chats = [-2_000_000 - n for n in range(240)]
        follow_and_open(ctx, telegram, chats)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
        env.update(
            DATABASE_URL=f"sqlite:///{database}",
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=telegram.api_url,
            DELIVERY_LEASE_SECONDS="5",
            WORKER_POLL_SECONDS="0.2",
        )
        command = [sys.executable, "-m", "bot", "worker"]
        logs = [tmp_path / "first.log", tmp_path / "second.log"]
        first = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=logs[0].open("w"))
        # The fan-out takes ~8 s at 29 messages a second; kill it part-way.
        deadline = time.monotonic() + 30
        while sum(len(telegram.messages(c)) for c in chats) < 60:
            assert time.monotonic() < deadline, "the worker sent nothing"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        with sessions() as session:
            in_flight = session.exec(
                select(func.count())
                .select_from(Delivery)
                .where(col(Delivery.claimed_by).is_not(None))
                .where(Delivery.state != DeliveryState.SENT)
            ).one()
        sent_before_restart = sum(len(telegram.messages(c)) for c in chats)
        assert sent_before_restart < len(chats)
        second = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=logs[1].open("w"))
        try:
            deadline = time.monotonic() + 90
            while open_deliveries(sessions) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
        with sessions() as session:
            stuck = [
                (d.id, d.state, d.attempts, d.last_error, d.next_attempt_at, d.claimed_until)
                for d in session.exec(
                    select(Delivery).where(Delivery.state != DeliveryState.SENT)
                ).all()
            ]
        engine.dispose()
    tails = "\n".join(log.read_text()[-3000:] for log in logs)
    assert stuck == [], f"{stuck}\n{tails}"
    received = Counter({chat: len(telegram.messages(chat)) for chat in chats})
    assert min(received.values()) == 1
    duplicated = sum(n - 1 for n in received.values())
    assert duplicated <= in_flight


class HeldLimits(Unlimited):
    """A limiter that holds every send until `release` is set, saying when the first waits."""

    def __init__(self) -> None:
        super().__init__(RateSettings(), clock=utcnow)
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def acquire(self, platform: Platform, address: str, scope: str) -> Landing:
        self.waiting.set()
        await self.release.wait()
        return await super().acquire(platform, address, scope)


class RenewalWatch(DeliveryWorker):
    """A worker that counts the lease renewals it has finished."""

    renewals = 0

    def _renew(self, delivery_ids: list[int]) -> None:
        super()._renew(delivery_ids)
        self.renewals += 1


async def next_renewals(worker: RenewalWatch, count: int) -> None:
    """Wait for `count` more renewals (a safety net of 30 s, not a timing margin)."""
    target = worker.renewals + count
    deadline = time.monotonic() + 30
    while worker.renewals < target:
        assert time.monotonic() < deadline, "the leases were never renewed"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("first_stops_early", [False, True], ids=["running", "stopping"])
def test_claims_waiting_behind_the_rate_limiter_keep_their_lease(
    engine: sa.Engine, telegram: FakeTelegram, first_stops_early: bool
) -> None:
    clock = FakeClock()
    ctx = make_context(make_session_factory(engine), clock)
    chats = [-3_000_000 - n for n in range(30)]
    follow_and_open(ctx, telegram, chats)
    lease = timedelta(seconds=0.6)  # read on the fake clock; renewed every 0.2 s of loop time

    async def main() -> None:
        held = HeldLimits()
        first = RenewalWatch(
            make_session_factory(engine),
            {Platform.TELEGRAM: TelegramSender(TOKEN, api_url=telegram.api_url, limits=held)},
            held,
            zone=ROME,
            clock=clock,
            settings=WorkerSettings(batch=60, concurrency=60, poll_seconds=0.05, lease=lease),
            name="a",
        )
        free = Unlimited(RateSettings(), clock=clock)
        second = DeliveryWorker(
            make_session_factory(engine),
            {Platform.TELEGRAM: TelegramSender(TOKEN, api_url=telegram.api_url, limits=free)},
            free,
            zone=ROME,
            clock=clock,
            settings=WorkerSettings(batch=60, concurrency=60, lease=lease),
            name="b",
        )
        stop_first = asyncio.Event()
        running = asyncio.create_task(first.run(stop_first))
        await held.waiting.wait()  # the first worker holds its claims, its sends held
        if first_stops_early:
            stop_first.set()  # it goes on renewing while it finishes what it began
        for _ in range(4):  # 4 x 0.4 s: well past the first lease, never past a renewed one
            # Two finished renewals: at least one read the clock as it stands now.
            await next_renewals(first, 2)
            clock.advance(seconds=0.4)
            assert await second.run_once() == 0, "the second worker took over live claims"
        held.release.set()
        stop_first.set()
        await running
        assert await second.drain() == 0
        for worker in (first, second):
            await worker.senders[Platform.TELEGRAM].close()

    asyncio.run(main())
    assert open_deliveries(ctx.sessions) == 0
    assert {chat: len(telegram.messages(chat)) for chat in chats} == dict.fromkeys(chats, 1)
