"""The database goes away mid-fan-out: outcomes wait in the worker, nothing is sent twice."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.delivery.jobs import DeliveryJob
from bot.delivery.worker import DeliveryWorker, WorkerSettings
from commands.context import Context
from storage.engine import make_engine, make_session_factory
from storage.models import DeliveryState
from tests.delivery.helpers import ScriptedSender, make_worker, states
from tests.factories import FakeClock, make_channel, make_context, make_incident, run
from tests.fakes.tcp_proxy import CuttableProxy

# Only how long a broken test hangs; a passing one never waits this long.
SAFETY_S = 30
QUICK = WorkerSettings(database_retry=0.01, database_retry_most=0.02)
GONE = "the database does not answer"
BACK = "the database answers again"


class CuttableSessions:
    """The worker's sessions, failing as an unreachable database does while cut."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.cut = False
        self.refused = 0

    def __call__(self, **options: Any) -> Session:
        if self.cut:
            self.refused += 1
            raise sa.exc.OperationalError(
                "connect", None, ConnectionRefusedError("the database went away")
            )
        return self.sessions(**options)


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the worker until `condition` holds."""
    deadline = time.monotonic() + SAFETY_S
    while not condition():
        assert time.monotonic() < deadline, "the worker never got there"
        await asyncio.sleep(0.005)


def said(caplog: pytest.LogCaptureFixture, words: str) -> int:
    """How many log lines contain `words`."""
    return sum(words in record.getMessage() for record in caplog.records)


def channels(ctx: Context, count: int) -> list[str]:
    """`count` Telegram channels following every incident."""
    addresses = [f"-100{n:04d}" for n in range(count)]
    for address in addresses:
        make_channel(ctx, address)
    return addresses


def cut_on_send(number: int, cut: Callable[[], None]) -> Callable[[DeliveryJob], None]:
    """A script that lets every send through but takes the database away at the n-th."""
    seen = 0

    def script(job: DeliveryJob) -> None:
        nonlocal seen
        seen += 1
        if seen == number:
            cut()

    return script


def test_outcomes_sent_while_the_database_is_away_are_recorded_once_it_answers(
    ctx: Context,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    addresses = channels(ctx, 6)
    make_incident(ctx)
    gate = CuttableSessions(sessions)
    sender = ScriptedSender(clock)
    sender.script = cut_on_send(2, lambda: setattr(gate, "cut", True))
    worker = make_worker(cast(sessionmaker[Session], gate), clock, sender, settings=QUICK)

    async def scenario() -> None:
        draining = asyncio.create_task(worker.drain())
        await until(lambda: worker.outage.down and gate.refused >= 5)
        assert not draining.done()  # the outcome waits in the worker, not given up
        gate.cut = False
        await draining

    asyncio.run(scenario())
    assert Counter(s.address for s in sender.delivered) == dict.fromkeys(addresses, 1)
    assert set(states(sessions).values()) == {DeliveryState.SENT}
    assert (said(caplog, GONE), said(caplog, BACK)) == (1, 1)
    assert "unexpected failure" not in caplog.text


def test_a_worker_polling_an_absent_database_says_so_once_and_resumes(
    sessions: sessionmaker[Session], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    gate = CuttableSessions(sessions)
    gate.cut = True
    sender = ScriptedSender(clock)
    settings = WorkerSettings(poll_seconds=0.01, database_retry=0.01, database_retry_most=0.02)
    worker = make_worker(cast(sessionmaker[Session], gate), clock, sender, settings=settings)
    ctx = make_context(sessions, clock)
    addresses = channels(ctx, 3)

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        await until(lambda: gate.refused >= 5)
        await asyncio.to_thread(make_incident, ctx)
        gate.cut = False
        await until(lambda: len(sender.delivered) == len(addresses))
        stop.set()
        await running

    asyncio.run(scenario())
    assert sorted(s.address for s in sender.delivered) == addresses
    assert (said(caplog, GONE), said(caplog, BACK)) == (1, 1)
    assert "could not claim" not in caplog.text
    assert "Traceback" not in caplog.text


def test_a_real_connection_cut_mid_fan_out_sends_nothing_twice(
    engine: sa.Engine, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("cutting a TCP connection needs a database server")
    caplog.set_level(logging.INFO)
    sessions = make_session_factory(engine)
    ctx = make_context(sessions, clock)
    addresses = channels(ctx, 30)
    incident_id = make_incident(ctx)
    assert engine.url.host is not None
    with CuttableProxy(engine.url.host, engine.url.port or 5432) as proxy:
        through_proxy = make_engine(
            engine.url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        )
        sender = ScriptedSender(clock)
        sender.script = cut_on_send(10, proxy.cut)
        worker: DeliveryWorker = make_worker(
            make_session_factory(through_proxy), clock, sender, settings=QUICK
        )

        async def scenario() -> float:
            draining = asyncio.create_task(worker.drain())
            # Long enough that the step after the cutting send, recording it, has failed
            # (every step waiting on the database tries again every 10-20 ms).
            await until(lambda: worker.outage.failures >= 30)
            proxy.restore()
            back = time.monotonic()
            await draining
            run(ctx, f"update {incident_id} Il servizio è in fase di ripristino")
            await worker.drain()
            return time.monotonic() - back

        try:
            took = asyncio.run(scenario())
        finally:
            through_proxy.dispose()
    openings = Counter(s.address for s in sender.delivered if s.update_number == 1)
    updates = Counter(s.address for s in sender.delivered if s.update_number == 2)
    assert openings == dict.fromkeys(addresses, 1)
    assert updates == dict.fromkeys(addresses, 1)
    assert set(states(sessions).values()) == {DeliveryState.SENT}
    # The next update reached every channel well within the 10 s the issue asks for.
    assert took < 10
    assert said(caplog, GONE) == 1
