"""The poller through a database outage: what ran unclaimed is confirmed at once, and a
poller reading without its lease steps down when Telegram says another one reads."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session
from telegram import Update
from telegram.error import Conflict

from bot.telegram.intake import UpdateIntake
from bot.telegram.polling import Poller
from tests.factories import FakeClock


class Away:
    """Sessions of a database that does not answer."""

    def __call__(self) -> Session:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))


class Handlers:
    """Stands in for the PTB application: records what it was given to handle."""

    def __init__(self) -> None:
        self.handled: list[int] = []

    async def process_update(self, update: Update) -> None:
        self.handled.append(update.update_id)


class Bot:
    """getUpdates as Telegram answers it: updates from `offset` on, earlier ones confirmed."""

    def __init__(self, *updates: int, conflict: bool = False) -> None:
        self.pending = [Update(update_id=n) for n in updates]
        self.offsets: list[int | None] = []
        self.conflict = conflict

    async def get_updates(self, offset: int | None = None, **_: Any) -> tuple[Update, ...]:
        self.offsets.append(offset)
        if self.conflict:
            raise Conflict("terminated by other getUpdates request")
        return tuple(u for u in self.pending if offset is None or u.update_id >= offset)


def poller(bot: Bot, clock: FakeClock) -> tuple[Poller, Handlers]:
    handlers = Handlers()
    away: Any = Away()
    intake = UpdateIntake(handlers, away, clock=clock, cursor="telegram")  # type: ignore[arg-type]
    made = Poller(bot, intake, away, lease="poller", allowed_updates=[], clock=clock)  # type: ignore[arg-type]
    made.leading = made.leaseless = True
    return made, handlers


def test_an_update_run_unclaimed_is_confirmed_before_anything_else(clock: FakeClock) -> None:
    bot = Bot(101)
    reading, handlers = poller(bot, clock)

    async def once() -> int | None:
        offset = await reading._poll_once(asyncio.Event(), None)
        while not handlers.handled:
            await asyncio.sleep(0)
        return offset

    assert asyncio.run(once()) == 102
    assert handlers.handled == [101]
    # Confirmed at once, not at the next poll: stopped now, it would never come back.
    assert bot.offsets == [None, 102]


def test_a_poller_reading_without_its_lease_steps_down_at_a_conflict(clock: FakeClock) -> None:
    bot = Bot(conflict=True)
    reading, _ = poller(bot, clock)
    asyncio.run(reading._poll_once(asyncio.Event(), 7))
    assert not reading.leading
    assert not reading.leaseless
