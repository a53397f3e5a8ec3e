"""What a sender reports when a platform says no; the worker decides what happens next."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


class DeliveryError(Exception):
    """A send did not go through."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimited(DeliveryError):
    """429: nothing more goes to `scope` for `retry_after` seconds.

    Senders pause the scope themselves (RateLimits.pause) before raising this, in the
    same step as they read the 429, so no other send slips out in between.
    """

    def __init__(self, reason: str, *, retry_after: float, scope: str) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.scope = scope


class Paused(DeliveryError):
    """Not sent: its destination is still paused after a 429; try again at `until`."""

    def __init__(self, reason: str, *, until: datetime) -> None:
        super().__init__(reason)
        self.until = until


class Unavailable(DeliveryError):
    """5xx, time-out, refused connection: try again later with back-off."""


class ChannelGone(DeliveryError):
    """Blocked, kicked, not a member, chat not found: disable the channel."""


class ChatMoved(DeliveryError):
    """The chat has a new address (a group upgraded to a supergroup): follow it."""

    def __init__(self, reason: str, *, address: str) -> None:
        super().__init__(reason)
        self.address = address


class Rejected(DeliveryError):
    """The platform will never accept this message: the delivery is dead."""


def retry_after_seconds(value: str | None, *, default: float = 60.0) -> float:
    """Seconds from a Retry-After header (seconds or an HTTP date), kept within 1 s – 1 h."""
    seconds = default
    if value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
                seconds = (when - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                seconds = default
    if not math.isfinite(seconds):
        seconds = default
    return min(3600.0, max(1.0, seconds))
