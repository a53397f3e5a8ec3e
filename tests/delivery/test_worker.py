"""The worker's rules: order per channel, retries, 429 pauses, gone and moved channels."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from bot.delivery.errors import ChannelGone, ChatMoved, RateLimited, Rejected, Unavailable
from bot.delivery.jobs import DeliveryJob
from bot.delivery.worker import WorkerSettings, backoff
from commands.context import Context
from storage.models import AuditEvent, Channel, DeliveryState
from tests.delivery.helpers import ScriptedSender, make_worker, states
from tests.factories import (
    FakeClock,
    make_channel,
    make_context,
    make_incident,
    run,
)


def drain(worker_sender: tuple[object, ScriptedSender]) -> None:
    worker, _ = worker_sender
    asyncio.run(worker.drain())  # type: ignore[attr-defined]


def test_fan_out_follows_filters_and_locales(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    make_channel(ctx, "-1001", options="--lang it")
    make_channel(ctx, "-1002", options="--lang en --components web")
    make_channel(ctx, "-1003", options="--lang en")
    sender = ScriptedSender(clock)
    incident_id = make_incident(ctx, components="posta", message="Stiamo verificando")
    asyncio.run(make_worker(sessions, clock, sender).drain())
    assert sorted(s.address for s in sender.delivered) == ["-1001", "-1003"]
    assert all(s.is_root for s in sender.delivered)
    assert all(s.incident_id == incident_id for s in sender.delivered)
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_updates_go_out_in_timeline_order_per_channel(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    for n in range(5):
        make_channel(ctx, f"-100{n}")
    incident_id = make_incident(ctx)
    for n in range(6):
        run(ctx, f"update {incident_id} aggiornamento {n}")
    run(ctx, f"resolve {incident_id}")
    sender = ScriptedSender(clock)
    worker = make_worker(sessions, clock, sender, settings=WorkerSettings(batch=3))
    asyncio.run(worker.drain())
    for n in range(5):
        numbers = [s.update_number for s in sender.delivered if s.address == f"-100{n}"]
        assert numbers == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [s.is_root for s in sender.delivered if s.address == "-1000"] == [True] + [False] * 7


def test_a_429_pauses_the_destination_until_retry_after(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    make_channel(ctx, "-1001")
    make_channel(ctx, "-1002")
    answered = {"429": False}

    def script(job: DeliveryJob) -> RateLimited | None:
        if not answered["429"]:
            answered["429"] = True
            return RateLimited(
                "Too Many Requests: retry after 30", retry_after=30, scope="scripted"
            )
        return None

    sender = ScriptedSender(clock, script=script)
    worker = make_worker(sessions, clock, sender)
    make_incident(ctx)
    start = clock.current.timestamp()
    for _ in range(20):
        asyncio.run(worker.drain())
        clock.advance(seconds=5)
    times = [at for at, _ in sender.calls]
    assert times[0] == start
    assert all(at >= start + 30 for at in times[1:])
    assert len(sender.delivered) == 2
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_a_ten_minute_outage_loses_nothing_and_keeps_order(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    for n in range(3):
        make_channel(ctx, f"-100{n}")
    outage_ends = clock.current + timedelta(minutes=10)

    def script(job: DeliveryJob) -> Unavailable | None:
        return Unavailable("502 Bad Gateway") if clock.current < outage_ends else None

    sender = ScriptedSender(clock, script=script)
    worker = make_worker(sessions, clock, sender)
    incident_id = make_incident(ctx)
    for n in range(4):
        clock.advance(seconds=20)
        run(ctx, f"update {incident_id} aggiornamento {n}")
        asyncio.run(worker.drain())
    run(ctx, f"resolve {incident_id}")
    for _ in range(200):
        asyncio.run(worker.drain())
        clock.advance(seconds=15)
    delivered = [(s.address, s.update_number) for s in sender.delivered]
    assert len(delivered) == len(set(delivered)) == 3 * 6
    for n in range(3):
        assert [num for a, num in delivered if a == f"-100{n}"] == [1, 2, 3, 4, 5, 6]
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_failures_past_the_horizon_are_dead(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    make_channel(ctx, "-1001")
    sender = ScriptedSender(clock, script=lambda job: Unavailable("connection refused"))
    settings = WorkerSettings(horizon=timedelta(hours=1), max_backoff=600)
    worker = make_worker(sessions, clock, sender, settings=settings)
    make_incident(ctx)
    for _ in range(40):
        asyncio.run(worker.drain())
        clock.advance(minutes=5)
    assert list(states(sessions).values()) == [DeliveryState.DEAD]
    attempts = len(sender.calls)
    assert 5 < attempts < 40  # backed off, not retried every pass


def test_a_gone_channel_is_disabled_and_the_others_carry_on(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    make_channel(ctx, "-1001")
    make_channel(ctx, "-1002")

    def script(job: DeliveryJob) -> ChannelGone | None:
        if job.destination.address == "-1001":
            return ChannelGone("Forbidden: bot was kicked from the channel chat")
        return None

    sender = ScriptedSender(clock, script=script)
    worker = make_worker(sessions, clock, sender)
    incident_id = make_incident(ctx)
    run(ctx, f"update {incident_id} secondo")
    asyncio.run(worker.drain())
    assert [s.address for s in sender.delivered] == ["-1002", "-1002"]
    with sessions() as session:
        channel = session.exec(select(Channel).where(Channel.address == "-1001")).one()
        assert not channel.enabled
        assert channel.disabled_reason == "Forbidden: bot was kicked from the channel chat"
        actions = session.exec(select(AuditEvent.action)).all()
    assert "channel_disabled" in actions
    assert "DISABLED: Forbidden: bot was kicked" in run(ctx, "channels list").text
    # Its updates wait; once it is fixed and enabled, they go out in order.
    sender.script = lambda job: None
    run(ctx, "channels enable -1001")
    asyncio.run(worker.drain())
    assert [s.update_number for s in sender.delivered if s.address == "-1001"] == [1, 2]


def test_a_migrated_chat_is_followed(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    make_channel(ctx, "-1001")

    def script(job: DeliveryJob) -> ChatMoved | None:
        if job.destination.address == "-1001":
            return ChatMoved("group chat was upgraded", address="-1009999")
        return None

    sender = ScriptedSender(clock, script=script)
    make_incident(ctx)
    asyncio.run(make_worker(sessions, clock, sender).drain())
    assert [s.address for s in sender.delivered] == ["-1009999"]
    assert "-1009999" in run(ctx, "channels list").text


def test_a_rejected_message_is_dead_and_the_next_goes_on(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    make_channel(ctx, "-1001")

    def script(job: DeliveryJob) -> Rejected | None:
        return Rejected("Bad Request: message is too long") if job.post.update_number == 2 else None

    sender = ScriptedSender(clock, script=script)
    incident_id = make_incident(ctx)
    run(ctx, f"update {incident_id} troppo lungo")
    run(ctx, f"resolve {incident_id}")
    asyncio.run(make_worker(sessions, clock, sender).drain())
    assert [s.update_number for s in sender.delivered] == [1, 3]
    assert states(sessions)[("-1001", 2, 0)] == DeliveryState.DEAD
    text = run(ctx, f"show {incident_id}").text
    assert "dead" in text
    assert "message is too long" in text


def test_corrections_edit_where_the_update_was_posted(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    make_channel(ctx, "-1001")
    sender = ScriptedSender(clock)
    worker = make_worker(sessions, clock, sender)
    incident_id = make_incident(ctx, message="Testo sbagliato")
    run(ctx, f"update {incident_id} Secondo")
    asyncio.run(worker.drain())
    run(ctx, f"edit {incident_id} --update 1 Testo giusto")
    run(ctx, f"edit {incident_id} Secondo, corretto")
    asyncio.run(worker.drain())
    corrections = [s for s in sender.delivered if s.revision > 0]
    assert [(s.update_number, s.is_root, s.text) for s in corrections] == [
        (1, True, "Testo giusto"),
        (2, False, "Secondo, corretto"),
    ]


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    settings = WorkerSettings(first_backoff=5, max_backoff=300)
    first = [backoff(1, settings) for _ in range(50)]
    assert all(2.5 <= d <= 5 for d in first)
    assert len(set(first)) > 1
    assert all(150 <= backoff(20, settings) <= 300 for _ in range(50))


class WakeWatch(asyncio.Event):
    """The worker's wake-up event, telling when the worker clears it to wait for the next."""

    def __init__(self) -> None:
        super().__init__()
        self.cleared = asyncio.Event()

    def clear(self) -> None:
        super().clear()
        self.cleared.set()


def test_an_in_process_change_wakes_the_worker_at_once(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    sender = ScriptedSender(clock)
    # Neither the poll nor the lease renewal (every lease / 3) would look again for an hour.
    settings = WorkerSettings(poll_seconds=3600, lease=timedelta(hours=3))
    worker = make_worker(sessions, clock, sender, settings=settings)
    worker._wake = waiting = WakeWatch()

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await waiting.cleared.wait()  # it found nothing and went to wait for a wake-up
        base = make_context(sessions, clock)
        ctx = Context(
            base.sessions,
            base.zone,
            base.locale,
            base.actor,
            base.now,
            changed=worker.wake_from_any_thread,
        )
        make_channel(ctx, "-1001")
        await asyncio.to_thread(make_incident, ctx)
        deadline = time.monotonic() + 30  # a safety net: unwoken, it would wait an hour
        while not sender.delivered and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(main())
    assert len(sender.delivered) == 1  # woken, not waiting for the hour-long poll
