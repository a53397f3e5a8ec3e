"""Who is running a command, from where, and what it runs against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from commands.parser import Clock
from storage.models import Channel, utcnow


@dataclass(frozen=True)
class Actor:
    """The person (or Herald itself) behind a command."""

    name: str
    front_end: str
    is_responder: bool = True
    # The chat the command was typed in, as `platform:address` (`telegram:-1001234567890`),
    # where a front-end's chats matter: an incident opened there is nudged there too.
    place: str | None = None


SCHEDULER = Actor("Herald", "scheduler")


@dataclass(frozen=True)
class Context:
    """Everything a handler needs; front-ends build one per command."""

    sessions: sessionmaker[Session]
    zone: ZoneInfo
    locale: str
    actor: Actor
    now: Callable[[], datetime] = field(default=utcnow)
    grant_hint: str = "ask an administrator to add you to the responders"
    # Sends a test message to a channel and says how it went; front-ends that can
    # reach the platforms provide it (commands/ itself never talks to them).
    probe: Callable[[Channel], str] | None = None
    # Called after a change is committed, so an in-process worker sends it at once
    # instead of at its next poll; must be safe to call from any thread.
    changed: Callable[[], None] | None = None
    # How long before a maintenance window customers are reminded, unless told otherwise.
    remind_before: timedelta = timedelta(hours=24)

    def clock(self) -> Clock:
        """The zone and moment that typed dates are read against."""
        return Clock(self.zone, self.now())


@dataclass(frozen=True)
class Reply:
    """What Herald answers the person; `changed` marks replies worth announcing."""

    text: str
    incident_id: int | None = None
    changed: bool = False
