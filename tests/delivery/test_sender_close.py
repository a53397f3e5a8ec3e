"""A sender closes the HTTP connections it opened when it is closed."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.delivery.limits import RateLimits, RateSettings
from bot.delivery.telegram import TelegramSender
from storage.models import utcnow


def test_the_telegram_sender_closes_its_connection_pools(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[httpx.AsyncClient] = []
    real_init = httpx.AsyncClient.__init__

    def counting_init(self: httpx.AsyncClient, *args: object, **kwargs: object) -> None:
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]
        opened.append(self)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting_init)

    async def scenario() -> None:
        sender = TelegramSender(
            "123456:TEST-TOKEN",
            api_url="http://127.0.0.1:9/bot",
            limits=RateLimits(RateSettings(), clock=utcnow),
        )
        assert opened
        assert not any(client.is_closed for client in opened)
        await sender.close()

    asyncio.run(scenario())
    assert all(client.is_closed for client in opened)
