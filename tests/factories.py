"""Small builders of test data with sensible defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from commands.context import Actor, Context, Reply
from commands.dispatch import run_text

ROME = ZoneInfo("Europe/Rome")
RESPONDER = Actor("alice", "cli")
VIEWER = Actor("bob", "slack", is_responder=False)


@dataclass
class FakeClock:
    """A controllable clock: `clock()` reads it, `advance()` moves it."""

    current: datetime = field(default_factory=lambda: datetime(2025, 1, 28, 13, 50, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        """Move the clock forward and return the new time."""
        self.current += timedelta(**kwargs)
        return self.current


def make_context(
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime] | None = None,
    *,
    actor: Actor = RESPONDER,
    locale: str = "it",
) -> Context:
    """A command context on the test database with a fake clock (or the one given)."""
    return Context(
        sessions=sessions, zone=ROME, locale=locale, actor=actor, now=clock or FakeClock()
    )


def run(ctx: Context, text: str) -> Reply:
    """Run one chat command as typed."""
    return run_text(text, ctx)


def make_component(ctx: Context, key: str = "posta", name: str | None = None) -> None:
    """Add a component."""
    run(ctx, f"components add {key} {name or key.capitalize()}")


def make_incident(
    ctx: Context,
    title: str = "Problemi consegna posta",
    *,
    sev: int = 2,
    components: str | None = None,
    message: str = "",
) -> int:
    """Open an incident and return its id."""
    text = f'open "{title}" --sev {sev}'
    if components:
        text += f" --components {components}"
    if message:
        text += f' --message "{message}"'
    reply = run(ctx, text)
    assert reply.incident_id is not None
    return reply.incident_id


def make_channel(
    ctx: Context,
    address: str = "-1001234567890",
    *,
    platform: str = "telegram",
    options: str = "",
) -> None:
    """Add a channel."""
    run(ctx, f"channels add {platform} {address} {options}".strip())
