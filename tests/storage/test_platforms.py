"""The platform registry: every platform described once, and every reader finds it there."""

from __future__ import annotations

import importlib
import inspect
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.delivery.limits import RateSettings
from bot.delivery.setup import build_senders, rate_settings, switched_on
from bot.settings import Settings
from commands import verbs as v
from commands.errors import UsageError
from commands.parser import Clock, parse
from storage.platforms import PLATFORMS, Platform, spec

CLOCK = Clock(ZoneInfo("Europe/Rome"), datetime(2026, 12, 7, 9, 0, tzinfo=UTC))


def add(text: str) -> v.AddChannel:
    """`channels add …` parsed."""
    command = parse(f"channels add {text}", clock=CLOCK)
    assert isinstance(command, v.AddChannel)
    return command


def test_every_platform_has_one_description_whose_sender_and_settings_exist() -> None:
    assert set(PLATFORMS) == set(Platform)
    fields = set(Settings.model_fields)
    for platform, one in PLATFORMS.items():
        assert one.platform is platform
        assert set(one.switched_on_by) <= fields, platform
        module, _, function = one.sender.partition(":")
        build = getattr(importlib.import_module(module), function)
        assert list(inspect.signature(build).parameters) == ["settings", "limits"]


@pytest.mark.parametrize(
    ("platform", "good", "bad", "told"),
    [
        ("telegram", "-1001234567890", "general", "is not a Telegram chat"),
        ("slack", "C0123456789", "c0123", "is not a Slack channel"),
        ("webhook", "https://hooks.example/x", "ftp://hooks.example", "is not a URL"),
    ],
)
def test_channels_add_checks_each_address_by_its_platforms_rule(
    platform: str, good: str, bad: str, told: str
) -> None:
    assert add(f"{platform} {good}").address == good
    with pytest.raises(UsageError, match=told):
        add(f"{platform} {bad}")


def test_only_signed_platforms_take_a_secret() -> None:
    assert add("webhook https://h.example/x --secret s3").secret == "s3"
    with pytest.raises(UsageError, match="--secret is only for webhook channels"):
        add("telegram -100123 --secret s3")


def test_an_address_that_may_carry_a_credential_is_shown_by_its_host_only() -> None:
    shown = spec(Platform.WEBHOOK).address.shown("https://user:pw@hooks.example/T0/B0/tok?k=v")
    assert shown == "https://hooks.example/…"
    assert spec(Platform.TELEGRAM).address.shown("-100123") == "-100123"


def test_senders_are_built_for_the_platforms_switched_on() -> None:
    bare = Settings(_env_file=None)
    assert [p for p, one in PLATFORMS.items() if switched_on(bare, one)] == [Platform.WEBHOOK]
    assert spec(Platform.TELEGRAM).how_to_switch_on == "set TELEGRAM_BOT_TOKEN"
    assert spec(Platform.WEBHOOK).how_to_switch_on == ""
    every = Settings(
        _env_file=None,
        telegram_bot_token="1:x",
        slack_bot_token="xoxb-1",
        smtp_url="smtp://mail.example",
        mail_from="status@example.com",
    )
    from bot.delivery.limits import RateLimits
    from storage.models import utcnow

    senders = build_senders(every, RateLimits(rate_settings(every), clock=utcnow))
    assert set(senders) == set(Platform)


def test_paces_come_from_the_registry_unless_set() -> None:
    default = RateSettings()
    assert default.platform_interval(Platform.TELEGRAM) == pytest.approx(1 / 29)
    assert default.destination_interval(Platform.TELEGRAM, "-100123") == pytest.approx(3.1)
    assert default.destination_interval(Platform.TELEGRAM, "42") == pytest.approx(1.1)
    assert default.destination_interval(Platform.WEBHOOK, "https://h.example") is None
    assert RateSettings.most_per_second(Platform.SLACK) == 5
    slower = rate_settings(Settings(_env_file=None, slack_messages_per_second=2.0))
    assert slower.platform_interval(Platform.SLACK) == pytest.approx(0.5)
    slower = rate_settings(Settings(_env_file=None, telegram_messages_per_second=10.0))
    assert slower.platform_interval(Platform.TELEGRAM) == pytest.approx(0.1)
    assert slower.platform_interval(Platform.WEBHOOK) == pytest.approx(1 / 20)
