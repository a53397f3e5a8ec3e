"""The interface every platform's sender implements, so a new platform is one new module."""

from __future__ import annotations

from typing import Protocol

from bot.delivery.jobs import DeliveryJob, Destination


class MessagesChanged(str):
    """What an edit returns when the post now lives in other messages than before.

    A corrected text that needs more (or fewer) messages than the original is
    posted (or trimmed) in place; the worker stores the new reference, so the
    next correction edits every message that carries the post.
    """


class Sender(Protocol):
    """Delivers jobs to one platform; raises bot.delivery.errors on failure."""

    def scope(self, destination: Destination) -> str:
        """The key a 429 from this destination pauses (a token, a channel, a host)."""
        ...

    async def send(self, job: DeliveryJob) -> str | None:
        """Post or edit what the job says; return the remote reference of a new message."""
        ...

    async def probe(self, destination: Destination, text: str) -> str:
        """Send a plain test message; return what the platform said."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
