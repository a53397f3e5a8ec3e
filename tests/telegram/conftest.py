"""A Telegram world per test: the front-end polling the fake Bot API, on the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.factories import FakeClock
from tests.fakes.telegram import FakeTelegram
from tests.telegram.helpers import SECRET, TelegramWorld, new_fake, now_clock, start_world


@pytest.fixture
def clock() -> FakeClock:
    """A clock standing at the present: Telegram dates messages in real time."""
    return now_clock()


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    """The fake Telegram Bot API with the world's chats."""
    with new_fake() as fake:
        yield fake


@pytest.fixture
def world(engine: sa.Engine, clock: FakeClock, telegram: FakeTelegram) -> Iterator[TelegramWorld]:
    """The front-end polling, as `herald serve` runs it."""
    with start_world(engine, telegram, clock) as world:
        yield world


@pytest.fixture
def hooked(engine: sa.Engine, clock: FakeClock, telegram: FakeTelegram) -> Iterator[TelegramWorld]:
    """The front-end behind POST /telegram/webhook, as `herald web` runs it."""
    with start_world(engine, telegram, clock, telegram_webhook_secret=SECRET) as world:
        yield world


@pytest.fixture
def frozen(engine: sa.Engine, clock: FakeClock, telegram: FakeTelegram) -> Iterator[TelegramWorld]:
    """The front-end polling on `clock`, which stands still at the present until moved."""
    with start_world(engine, telegram, clock, frozen=True) as world:
        yield world
