"""The platform registry: one description per platform that Herald delivers to.

How an address is written and checked, what the platform can do, its rate limits, the
settings that switch it on and where its sender is built. The parser, the rate limits,
`channels test` and `channels list`, the worker and storage all read it, so a platform is
one sender module plus one entry here. Plain data: no SDK, no I/O.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit


class Platform(enum.StrEnum):
    """Where a channel lives; the value is what `channels add` takes and the database holds."""

    TELEGRAM = "telegram"
    SLACK = "slack"
    WEBHOOK = "webhook"
    EMAIL = "email"


@dataclass(frozen=True)
class AddressRule:
    """How a channel's address is written: checked by `channels add`, told when it is not."""

    pattern: re.Pattern[str]
    what: str  # "a Telegram chat"
    how: str  # "give its numeric id (like -1001234567890) or its @channelname"
    placeholder: str  # what `channels add`'s usage calls it: CHAT, CHANNEL, URL
    # Where an address may carry a credential (a webhook's path and query often do),
    # chat rooms, logs and alerts show its host only.
    credential_inside: bool = False
    # A person's address (an e-mail): shown with its first letter and domain only, and
    # its domain written in lower case (one mailbox, one channel).
    personal: bool = False

    def written(self, address: str) -> str:
        """The address as stored: an e-mail's domain in lower case."""
        if not self.personal:
            return address
        local, _, domain = address.rpartition("@")
        return f"{local}@{domain.lower()}"

    def refusal(self, address: str) -> str | None:
        """None for a well-written address; else the one line that says what to type."""
        if self.pattern.fullmatch(address):
            return None
        return f"{address!r} is not {self.what}: {self.how}."

    def shown(self, address: str) -> str:
        """The address as a chat room, a log line or an alert may show it."""
        if self.personal:
            local, _, domain = address.rpartition("@")
            return f"{local[:1]}…@{domain}"
        if not self.credential_inside:
            return address
        parts = urlsplit(address)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


@dataclass(frozen=True)
class Capabilities:
    """What a platform can do with a message Herald sent."""

    threads: bool  # replies hang under the incident's first message
    edits: bool  # a sent message can be changed: corrections, and the first message's status
    deletes: bool
    rich_text: bool
    longest: int | None  # characters in one message; None: no limit


@dataclass(frozen=True)
class Rates:
    """Herald's pace on one platform, under the limits the platform publishes."""

    per_second: float  # requests per second on one bot token (per process where not shared)
    # What the platform counts in any one-second window as requests arrive; None: no count.
    most_per_second: int | None = None
    # Seconds between two requests to one chat, by its address; None: no such limit.
    destination_interval: Callable[[str], float | None] = lambda address: None
    # One bot token shared by every worker process: one worker at a time sends (a lease).
    shared: bool = False


@dataclass(frozen=True)
class PlatformSpec:
    """Everything Herald knows about one platform."""

    platform: Platform
    name: str  # "Telegram", for people
    address: AddressRule
    can: Capabilities
    rates: Rates
    # Settings that must all be set for its sender to exist; none: always on.
    switched_on_by: tuple[str, ...]
    # "module:function" building its sender from (settings, limits), imported when needed.
    sender: str
    # Takes `channels add … --secret` (a signing secret made for it when left out).
    signed: bool = False
    # A chat where responders type commands, which gets the nudges of incidents opened there.
    ops_chats: bool = False

    @property
    def how_to_switch_on(self) -> str:
        """`set TELEGRAM_BOT_TOKEN`, or empty for a platform that is always on."""
        if not self.switched_on_by:
            return ""
        return "set " + " and ".join(name.upper() for name in self.switched_on_by)


def telegram_is_group(address: str) -> bool:
    """Channels and groups (negative ids, @names) get 20 messages a minute, chats 1 a second."""
    return address.startswith(("-", "@"))


def _telegram_interval(address: str) -> float:
    return 3.1 if telegram_is_group(address) else 1.1


PLATFORMS: dict[Platform, PlatformSpec] = {
    Platform.TELEGRAM: PlatformSpec(
        platform=Platform.TELEGRAM,
        name="Telegram",
        address=AddressRule(
            re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}"),
            "a Telegram chat",
            "give its numeric id (like -1001234567890) or its @channelname",
            "CHAT",
        ),
        can=Capabilities(threads=True, edits=True, deletes=True, rich_text=True, longest=4096),
        rates=Rates(
            per_second=29.0,
            most_per_second=30,
            destination_interval=_telegram_interval,
            shared=True,
        ),
        switched_on_by=("telegram_bot_token",),
        sender="bot.delivery.telegram:build_sender",
        ops_chats=True,
    ),
    Platform.SLACK: PlatformSpec(
        platform=Platform.SLACK,
        name="Slack",
        address=AddressRule(
            re.compile(r"[CGD][A-Z0-9]{6,}|#[a-z0-9][a-z0-9_-]{0,79}"),
            "a Slack channel",
            "give its id (like C0123456789) or #name",
            "CHANNEL",
        ),
        can=Capabilities(threads=True, edits=True, deletes=True, rich_text=True, longest=40000),
        rates=Rates(
            per_second=4.8,
            most_per_second=5,
            destination_interval=lambda address: 1.1,
            shared=True,
        ),
        switched_on_by=("slack_bot_token",),
        sender="bot.delivery.slack:build_sender",
    ),
    Platform.WEBHOOK: PlatformSpec(
        platform=Platform.WEBHOOK,
        name="webhook",
        address=AddressRule(
            re.compile(r"https?://[^\s/]+(?:/\S*)?", re.IGNORECASE | re.ASCII),
            "a URL",
            "give one like https://example.com/hook",
            "URL",
            credential_inside=True,
        ),
        can=Capabilities(threads=False, edits=False, deletes=False, rich_text=False, longest=None),
        rates=Rates(per_second=20.0),
        switched_on_by=(),
        sender="bot.delivery.webhook:build_sender",
        signed=True,
    ),
    Platform.EMAIL: PlatformSpec(
        platform=Platform.EMAIL,
        name="e-mail",
        address=AddressRule(
            re.compile(
                r"(?=[^@]{1,64}@)(?=.{1,254}$)"
                r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
            ),
            "an e-mail address",
            "give one like noc@example.com",
            "ADDRESS",
            personal=True,
        ),
        # Mail cannot be edited: a correction is a reply in the thread, marked as such.
        can=Capabilities(threads=True, edits=False, deletes=False, rich_text=True, longest=None),
        # Per worker process: SMTP servers count connections and recipients, not a token.
        rates=Rates(per_second=5.0),
        switched_on_by=("smtp_url", "mail_from"),
        sender="bot.delivery.email:build_sender",
    ),
}


def add_usage() -> str:
    """`channels add`'s forms, one per platform: `telegram CHAT | add slack CHANNEL | …`."""
    return " | add ".join(
        f"{platform.value} {one.address.placeholder}" + (" [--secret S]" if one.signed else "")
        for platform, one in PLATFORMS.items()
    )


def spec(platform: Platform | str) -> PlatformSpec:
    """The registry's description of a platform."""
    return PLATFORMS[Platform(platform)]
