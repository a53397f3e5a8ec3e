"""`channels test` sends a test message through the real sender and reports the answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.delivery.probe import probe_for, send_test
from bot.delivery.worker import DeliveryWorker
from bot.settings import Settings
from commands.channels import ProbeFailed
from commands.context import Context
from commands.errors import Refused
from storage.models import Channel, Platform
from tests.delivery.helpers import ScriptedSender, make_worker
from tests.factories import FakeClock, make_channel, make_context, make_incident, run
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as fake:
        fake.add_chat(-1001, "channel")
        yield fake


def settings_for(telegram: FakeTelegram) -> Settings:
    return Settings(_env_file=None, telegram_bot_token=TOKEN, telegram_api_url=telegram.api_url)


def test_channels_test_reports_success_and_the_platforms_refusal(
    sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    base = make_context(sessions, clock)
    ctx = Context(
        base.sessions,
        base.zone,
        base.locale,
        base.actor,
        base.now,
        probe=probe_for(settings_for(telegram)),
    )
    make_channel(ctx, "-1001")
    make_channel(ctx, "-1002")
    reply = run(ctx, "channels test -1001")
    assert reply.text == "Test message to #1 telegram -1001: message 1 posted."
    [message] = telegram.messages(-1001)
    assert message.plain.startswith("Messaggio di prova da Herald")
    with pytest.raises(
        Refused, match=r"(?i)Test message to #2 telegram -1002 failed: .*chat not found"
    ):
        run(ctx, "channels test #2")


def test_an_unconfigured_platform_says_which_setting_is_missing() -> None:
    channel = Channel(id=1, platform=Platform.SLACK, address="C0123456", locale="en")
    with pytest.raises(ProbeFailed, match="slack is not configured here: set SLACK_BOT_TOKEN"):
        asyncio.run(send_test(Settings(_env_file=None), channel))


def test_responders_are_told_when_a_channel_is_disabled(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    from bot.delivery.errors import ChannelGone

    ctx = make_context(sessions, clock)
    make_channel(ctx, "-1001")
    told: list[str] = []

    async def alert(text: str) -> None:
        told.append(text)

    sender = ScriptedSender(clock, script=lambda job: ChannelGone("Forbidden: bot was blocked"))
    worker: DeliveryWorker = make_worker(sessions, clock, sender)
    worker.alert = alert
    make_incident(ctx)
    asyncio.run(worker.drain())
    assert told == [
        "Channel #1 telegram -1001 was disabled: Forbidden: bot was blocked. Its updates wait; "
        "fix it, then: channels enable #1"
    ]
