"""The interface every platform's sender implements, so a new platform is one new module."""

from __future__ import annotations

from typing import Protocol

from bot.delivery.jobs import Destination
from bot.delivery.operations import Operation, Outcome, Progress


class Sender(Protocol):
    """Carries out the worker's operations on one platform."""

    def scope(self, destination: Destination) -> str:
        """The key a 429 from this destination pauses (a token, a channel, a host)."""
        ...

    async def perform(self, operation: Operation, progress: Progress) -> Outcome:
        """Do what the operation says; report each part of a long post through `progress`."""
        ...

    async def probe(self, destination: Destination, text: str) -> str:
        """Send a plain test message; return what the platform said (raises DeliveryError)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
