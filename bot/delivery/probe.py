"""`channels test`: send one test message through the same senders the worker uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.delivery.errors import DeliveryError
from bot.delivery.jobs import Destination
from bot.delivery.limits import RateLimits
from bot.delivery.setup import build_senders, rate_settings
from bot.settings import Settings
from commands.channels import ProbeFailed
from storage.models import Channel, utcnow
from storage.platforms import spec

TEST_TEXT = {
    "it": "Messaggio di prova da Herald: questo canale riceverà gli aggiornamenti sullo stato "
    "dei servizi.",
    "en": "Test message from Herald: this channel will receive service status updates.",
}


async def send_test(settings: Settings, channel: Channel) -> str:
    """Send the test message; raise ProbeFailed with the platform's answer."""
    limits = RateLimits(rate_settings(settings), clock=utcnow)
    senders = build_senders(settings, limits)
    try:
        sender = senders.get(channel.platform)
        if sender is None:
            raise ProbeFailed(
                f"{channel.platform.value} is not configured here: "
                f"{spec(channel.platform).how_to_switch_on}"
            )
        assert channel.id is not None
        destination = Destination(
            channel.id, channel.platform, channel.address, channel.locale, channel.secret
        )
        try:
            return await sender.probe(destination, TEST_TEXT.get(channel.locale, TEST_TEXT["en"]))
        except DeliveryError as error:
            raise ProbeFailed(error.reason) from None
    finally:
        for one in senders.values():
            await one.close()


def probe_for(settings: Settings) -> Callable[[Channel], str]:
    """A blocking probe for the CLI."""
    return lambda channel: asyncio.run(send_test(settings, channel))
