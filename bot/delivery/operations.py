"""What the worker asks a sender to do, and what a sender answers.

The worker picks the operation from the delivery and the platform's capabilities in
the registry, so no sender repeats that choice; a sender only carries it out in its
platform's terms, and answers with one of the outcomes below.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.delivery.errors import (
    ChannelGone,
    ChatMoved,
    DeliveryError,
    Paused,
    RateLimited,
    Rejected,
)
from bot.delivery.jobs import DeliveryJob
from storage.platforms import Capabilities

# ---- operations


@dataclass(frozen=True)
class PostOpening:
    """Post the incident's first message on this channel: the thread's root."""

    job: DeliveryJob


@dataclass(frozen=True)
class ReplyInThread:
    """Post an update under the thread's root; with no root (or no threads), on its own."""

    job: DeliveryJob
    thread: str | None


@dataclass(frozen=True)
class EditMessages:
    """Rewrite the messages that carry a post with its corrected text."""

    job: DeliveryJob
    ref: str
    opening: bool  # they are the thread's root, which reads as the opening does now


@dataclass(frozen=True)
class RefreshOpening:
    """Rewrite the thread's root to show the incident's current title and status."""

    job: DeliveryJob
    ref: str


@dataclass(frozen=True)
class PostCorrection:
    """Where nothing can be edited: say in a new message, in the thread, what was corrected."""

    job: DeliveryJob
    thread: tuple[str, ...]  # the root and the corrected update's own message, as known


Operation = PostOpening | ReplyInThread | EditMessages | RefreshOpening | PostCorrection


def operation_for(job: DeliveryJob, can: Capabilities) -> Operation | None:
    """The one operation a delivery asks of its platform; None when it has nothing to do."""
    if job.is_root_refresh:
        if job.is_root or not can.edits or job.root.ref is None:
            return None  # the root is this very update, or there is nothing to rewrite
        return RefreshOpening(job, job.root.ref)
    # A responders' ops chat has no thread of the incident: each nudge stands alone.
    alone = job.destination.is_ops
    if job.is_correction:
        if not can.edits:
            known = (job.root.ref, job.own_ref)
            return PostCorrection(job, tuple(dict.fromkeys(r for r in known if r)))
        opening = job.is_root and not alone
        ref = job.root.ref if opening else job.own_ref
        return None if ref is None else EditMessages(job, ref, opening=opening)
    if job.is_root and not alone:
        return PostOpening(job)
    return ReplyInThread(job, None if alone or not can.threads else job.root.ref)


# ---- outcomes


@dataclass(frozen=True)
class Sent:
    """Done; `ref` names the new messages (None: no new message to remember)."""

    ref: str | None = None
    # An edit left the post in other messages than before (a longer or shorter text):
    # `ref` is where it lives now, and the next correction edits those.
    moved: bool = False


@dataclass(frozen=True)
class RetryAfter:
    """The platform said 429: nothing more goes to `scope` for `seconds`."""

    seconds: float
    scope: str
    reason: str


@dataclass(frozen=True)
class NotYet:
    """Nothing was sent (a paused destination, a server's pace, a correction settling)."""

    until: datetime
    reason: str


class Fault(enum.Enum):
    """Why a send failed, which decides what happens to the delivery and its channel."""

    UNAVAILABLE = "unavailable"  # down, refused, an error page: try again with back-off
    TIMED_OUT = "timed_out"  # no answer in time (it may have gone): try again with back-off
    CHANNEL_GONE = "channel_gone"  # blocked, kicked, unknown mailbox: disable the channel
    MOVED = "moved"  # the chat has a new address: follow it
    REJECTED = "rejected"  # this message will never be accepted: the delivery is dead


@dataclass(frozen=True)
class Failed:
    """Not delivered, for `reason`; `address` is the chat's new one when it moved."""

    reason: str
    fault: Fault
    address: str | None = None


Outcome = Sent | RetryAfter | NotYet | Failed

# Called with the messages a post lives in so far, as each part of a long one goes out:
# kept when the attempt stops half-way, so its retry goes on after them.
Progress = Callable[[str], None]


def failure(error: DeliveryError) -> RetryAfter | NotYet | Failed:
    """The outcome a sender's error stands for."""
    if isinstance(error, RateLimited):
        return RetryAfter(error.retry_after, error.scope, error.reason)
    if isinstance(error, Paused):
        return NotYet(error.until, error.reason)
    if isinstance(error, ChatMoved):
        return Failed(error.reason, Fault.MOVED, error.address)
    if isinstance(error, ChannelGone):
        return Failed(error.reason, Fault.CHANNEL_GONE)
    if isinstance(error, Rejected):
        return Failed(error.reason, Fault.REJECTED)
    return Failed(error.reason, Fault.UNAVAILABLE)


async def outcome_of(step: Awaitable[Sent]) -> Outcome:
    """Await a sender's step, its platform errors turned into outcomes."""
    try:
        return await step
    except DeliveryError as error:
        return failure(error)
