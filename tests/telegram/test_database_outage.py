"""A command sent while the database does not answer is refused at once, and nothing is saved."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from bot.frontend.answers import NOT_READ, NOT_SAVED
from tests.factories import FakeClock
from tests.fakes.telegram import FakeTelegram
from tests.status.outage import database_to_lose
from tests.telegram.helpers import OPS, SECRET, start_world


@pytest.mark.parametrize("pushed", [False, True], ids=["polling", "webhook"])
def test_a_command_during_an_outage_is_refused_within_seconds_and_saves_nothing(
    engine: sa.Engine, telegram: FakeTelegram, clock: FakeClock, pushed: bool
) -> None:
    options: dict[str, Any] = {"telegram_webhook_secret": SECRET} if pushed else {}
    with (
        database_to_lose(engine) as outage,
        start_world(outage.engine, telegram, clock, **options) as world,
    ):
        world.command(OPS, "/incident components add posta Posta")
        outage.begin()
        asked = time.monotonic()
        opening = world.say(OPS, "/incident open Posta giù --sev 1 --components posta")
        listing = world.say(OPS, "/incident list")
        [opened] = world.replies(OPS, opening)
        [listed] = world.replies(OPS, listing)
        took = time.monotonic() - asked
        outage.end()
        assert opened.plain.startswith(NOT_SAVED), opened.plain
        assert listed.plain.startswith(NOT_READ), listed.plain
        assert took < 5.0, took
        assert world.incidents() == []
        # Back: the same command works, and only once.
        again = world.command(OPS, "/incident open Posta giù --sev 1 --components posta")
        assert again.plain.startswith("Opened INC-1"), again.plain
        assert len(world.incidents()) == 1
