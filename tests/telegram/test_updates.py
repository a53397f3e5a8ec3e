"""Each update runs once, also across a restart, and a command that waited out an outage never."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select
from telegram import Update

from bot.telegram.intake import UpdateIntake
from storage.engine import make_session_factory
from storage.models import HandledRequest
from storage.requests import claim_request
from tests.factories import ROME, FakeClock
from tests.fakes.telegram import FakeTelegram
from tests.telegram.helpers import OPS, TelegramWorld, start_world


def unconfirm(fake: FakeTelegram, update: dict[str, Any]) -> None:
    """Telegram still holds the update, as when a poller stops before confirming it.

    The fake has no way to say so; put the update back at the head of its queue.
    """
    with fake._lock:
        pending = fake._feed.queue.pending
        if all(u["update_id"] != update["update_id"] for u in pending):
            pending.insert(0, update)


def test_the_same_update_pushed_twice_runs_once(hooked: TelegramWorld) -> None:
    update = hooked.fake.add_user_message(OPS, "/incident open Posta giù", first_name="Alice")
    for _ in range(2):
        response = hooked.webhook(update)
        assert response.status_code == 200
    hooked.last_update = update["update_id"]
    hooked.settle()
    assert len(hooked.fake.replies_to(OPS, update["message"]["message_id"])) == 1
    assert len(hooked.incidents()) == 1


def test_a_restarted_poller_does_not_run_an_update_again(
    engine: sa.Engine, telegram: FakeTelegram, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.telegram")
    with start_world(engine, telegram, clock) as before:
        update = telegram.add_user_message(OPS, "/incident open Posta giù")
        before.last_update = update["update_id"]
        before.settle()
        asked = update["message"]["message_id"]
        assert len(telegram.replies_to(OPS, asked)) == 1
    unconfirm(telegram, update)
    with start_world(engine, telegram, clock) as after:
        after.last_update = update["update_id"]
        reply = after.command(OPS, "/incident list")
        assert "Posta giù" in reply.plain
        assert after.unconfirmed() == []
        assert len(telegram.replies_to(OPS, asked)) == 1
        assert len(after.incidents()) == 1
    # resumed after the update (Telegram never sent it again), not saved by its claim alone
    assert f"reads the updates (after update {update['update_id']})" in caplog.text
    assert "already handled" not in caplog.text


def test_a_command_sent_while_herald_was_down_runs_after_the_restart(
    engine: sa.Engine, telegram: FakeTelegram, clock: FakeClock
) -> None:
    with start_world(engine, telegram, clock) as before:
        before.command(OPS, "/incident open Posta giù")
    while_down = telegram.add_user_message(OPS, "/incident resolve 1")
    with start_world(engine, telegram, clock) as after:
        [reply] = after.replies(OPS, while_down["message"]["message_id"])
        assert reply.plain.startswith("Resolved INC-1")
        assert after.incidents()[0].closed_at is not None


def test_a_command_older_than_the_limit_is_not_run(frozen: TelegramWorld) -> None:
    sent = frozen.clock() - timedelta(minutes=10, seconds=30)
    reply = frozen.command(OPS, "/incident open Posta giù", date=int(sent.timestamp()))
    local, today = sent.astimezone(ROME), frozen.clock().astimezone(ROME).date()
    # The day is named when the command was sent before today (just after midnight).
    at = local.strftime("%H:%M" if local.date() == today else "%d/%m %H:%M")
    assert reply.plain == (
        f"Not run: sent at {at}, Herald was unreachable — send it again if it still applies."
    )
    assert frozen.incidents() == []
    assert frozen.audit() == []


def test_a_command_just_within_the_limit_runs(frozen: TelegramWorld) -> None:
    sent = frozen.clock() - timedelta(minutes=9, seconds=30)
    reply = frozen.command(OPS, "/incident open Posta giù", date=int(sent.timestamp()))
    assert reply.plain.startswith("Opened INC-1")


def test_the_limit_is_telegram_max_command_age(
    engine: sa.Engine, telegram: FakeTelegram, clock: FakeClock
) -> None:
    with start_world(
        engine, telegram, clock, frozen=True, telegram_max_command_age=timedelta(minutes=2)
    ) as world:
        sent = int((clock() - timedelta(minutes=3)).timestamp())
        for command in ("/incident open Posta giù", "/status", "/summary", "/help"):
            assert world.command(OPS, command, date=sent).plain.startswith("Not run: sent at ")
        assert world.incidents() == []


def test_a_stale_reply_to_the_update_prompt_is_not_posted(frozen: TelegramWorld) -> None:
    answer = frozen.command(OPS, "/incident open Posta giù")
    query = frozen.press(OPS, answer, "Update")
    frozen.settle()
    assert frozen.answer_to(query).text is None
    [prompt] = frozen.fake.replies_to(OPS, answer.message_id)
    frozen.clock.advance(minutes=11)
    reply = frozen.command(OPS, "Riavviato mx2", reply_to=prompt.message_id, date=int(prompt.date))
    assert reply.plain.startswith("Not run: sent at ")
    assert len(frozen.timeline(1)) == 1


def test_a_command_a_dead_process_claimed_is_not_run_but_its_author_told(
    engine: sa.Engine, telegram: FakeTelegram, clock: FakeClock
) -> None:
    # A process claimed the update, then died before running it (kill -9, power loss).
    update = telegram.add_user_message(OPS, "/incident open Posta giù")
    asked = update["message"]["message_id"]
    with make_session_factory(engine)() as session, session.begin():
        claim_request(
            session=session,
            source="telegram",
            key=str(update["update_id"]),
            now=clock() - timedelta(minutes=6),
            reply_chat=OPS,
            reply_to=asked,
        )
    with start_world(engine, telegram, clock, frozen=True) as world:
        [told] = world.replies(OPS, asked)
        assert "Herald stopped while running this" in told.plain
        assert "check with /incident list before sending it again" in told.plain
        assert world.incidents() == []
    # Told once: a second start finds the claim finished.
    with start_world(engine, telegram, clock, frozen=True) as again:
        again.command(OPS, "/help")
        assert len(telegram.replies_to(OPS, asked)) == 1


def test_a_command_under_way_is_not_taken_for_a_dead_one(
    engine: sa.Engine, telegram: FakeTelegram, clock: FakeClock
) -> None:
    update = telegram.add_user_message(OPS, "/incident open Posta giù")
    with make_session_factory(engine)() as session, session.begin():
        claim_request(
            session=session,
            source="telegram",
            key=str(update["update_id"]),
            now=clock() - timedelta(minutes=1),
            reply_chat=OPS,
            reply_to=update["message"]["message_id"],
        )
    with start_world(engine, telegram, clock, frozen=True) as world:
        world.command(OPS, "/help")
        assert telegram.replies_to(OPS, update["message"]["message_id"]) == []
        assert world.front.intake.take_orphans() == []
        clock.advance(minutes=5)
        [orphan] = world.front.intake.take_orphans()
        assert (orphan.reply_chat, orphan.reply_to) == (OPS, update["message"]["message_id"])


def test_a_finished_update_is_never_taken_for_a_dead_one(world: TelegramWorld) -> None:
    world.command(OPS, "/incident open Posta giù")
    with world.database.sessions() as session:
        claims = session.exec(select(HandledRequest)).all()
    assert claims
    assert all(c.finished_at is not None for c in claims)


def test_a_slow_command_in_a_live_process_is_not_taken_for_a_dead_one(
    engine: sa.Engine, clock: FakeClock
) -> None:
    # An intake of its own: a running front-end's sweep would race this test for the claim.
    sessions = make_session_factory(engine)
    intake = UpdateIntake(Stuck(), sessions, clock=clock, cursor="test")  # type: ignore[arg-type]
    with sessions() as session, session.begin():
        claim_request(session=session, source="telegram", key="555", now=clock())
    intake._alive.add(555)  # this process is still running update 555
    clock.advance(minutes=6)
    assert intake.take_orphans() == []
    intake._alive.discard(555)  # then it dies without finishing
    clock.advance(minutes=6)
    assert [o.key for o in intake.take_orphans()] == ["555"]


class Stuck:
    """An application whose handling of an update never ends (until cancelled)."""

    async def process_update(self, update: object) -> None:
        await asyncio.Event().wait()


def test_a_command_abandoned_at_shutdown_stays_unfinished_for_the_sweep(
    engine: sa.Engine, clock: FakeClock
) -> None:
    sessions = make_session_factory(engine)
    intake = UpdateIntake(Stuck(), sessions, clock=clock, cursor="test")  # type: ignore[arg-type]
    update = Update(update_id=77)

    async def main() -> None:
        assert await intake.claim(update)
        intake.run(update)
        await asyncio.sleep(0)
        await intake.drain(0.05)
        for task in list(intake._running):
            task.cancel()
        await asyncio.gather(*intake._running, return_exceptions=True)

    asyncio.run(main())
    with sessions() as session:
        claim = session.exec(select(HandledRequest).where(HandledRequest.key == "77")).one()
    assert claim.finished_at is None
    assert intake._alive == set()
    clock.advance(minutes=6)
    assert [o.key for o in intake.take_orphans()] == ["77"]
