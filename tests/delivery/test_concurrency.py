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

from bot.delivery.limits import RateLimits, RateSettings, Unlimited
from bot.delivery.telegram import TelegramSender
from bot.delivery.worker import DeliveryWorker, WorkerSettings
from commands.context import Context
from storage.engine import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import Delivery, DeliveryState, Platform, utcnow
from storage.outbox import queue_depth
from tests.factories import ROME, make_context, run
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


@pytest.mark.parametrize("first_stops_early", [False, True], ids=["running", "stopping"])
def test_claims_waiting_behind_the_rate_limiter_keep_their_lease(
    engine: sa.Engine, telegram: FakeTelegram, first_stops_early: bool
) -> None:
    ctx = make_context(make_session_factory(engine), utcnow)
    chats = [-3_000_000 - n for n in range(30)]
    follow_and_open(ctx, telegram, chats)

    async def main() -> None:
        stop, stop_first = asyncio.Event(), asyncio.Event()
        workers = []
        for name in ("a", "b"):
            # 30 posts at 10 a second take 3 s, far past a 1.2 s lease: only
            # renewal keeps the second worker from claiming them again, also
            # while the first is stopping and finishing what it had begun.
            limits = RateLimits(RateSettings(telegram_per_second=10), clock=utcnow)
            sender = TelegramSender(TOKEN, api_url=telegram.api_url, limits=limits)
            workers.append(
                DeliveryWorker(
                    make_session_factory(engine),
                    {Platform.TELEGRAM: sender},
                    limits,
                    zone=ROME,
                    clock=utcnow,
                    settings=WorkerSettings(
                        batch=60, concurrency=60, poll_seconds=0.05, lease=timedelta(seconds=1.2)
                    ),
                    name=name,
                )
            )
        first = asyncio.create_task(workers[0].run(stop_first))
        while not telegram.messages(chats[0]):
            await asyncio.sleep(0.02)
        if first_stops_early:
            stop_first.set()
        second = asyncio.create_task(workers[1].run(stop))
        deadline = time.monotonic() + 30
        while open_deliveries(ctx.sessions) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        stop.set()
        stop_first.set()
        await asyncio.gather(first, second)
        for worker in workers:
            await worker.senders[Platform.TELEGRAM].close()

    asyncio.run(main())
    assert open_deliveries(ctx.sessions) == 0
    assert {chat: len(telegram.messages(chat)) for chat in chats} == dict.fromkeys(chats, 1)
