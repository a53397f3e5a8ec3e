"""What a sender reports when a platform says no; the worker decides what happens next."""

from __future__ import annotations

from datetime import datetime


class DeliveryError(Exception):
    """A send did not go through."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimited(DeliveryError):
    """429: nothing more goes to `scope` for `retry_after` seconds."""

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
