"""Run a command for a Slack user off the event loop, within Slack's deadline, once."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.slack.caller import Caller
from bot.slack.responders import Responders
from commands.context import Actor, Context
from storage.models import Channel

T = TypeVar("T")

# Slack shows an error after 3 s; whatever happens, the person hears from Herald before that.
DEADLINE_SECONDS = 2.5
REMEMBER_SECONDS = 15 * 60
REMEMBER_MOST = 10_000


class CommandRunner:
    """Builds each Slack user's context and runs their commands one at a time, in a thread."""

    def __init__(
        self,
        *,
        zone_context: Callable[[Actor, str], Context],
        responders: Responders,
        deadline: float = DEADLINE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.zone_context = zone_context
        self.responders = responders
        self.deadline = deadline
        self.monotonic = monotonic
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._inflight: set[asyncio.Future[Any]] = set()

    def first_time(self, key: str | None) -> bool:
        """False when this request (by its trigger_id) was already received: a redelivery."""
        if not key:
            return True
        now = self.monotonic()
        while self._seen and (
            len(self._seen) > REMEMBER_MOST
            or next(iter(self._seen.values())) < now - REMEMBER_SECONDS
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    async def context(self, caller: Caller, *, changing: bool) -> Context:
        """The command context of a Slack user; group membership is looked up only for changes."""
        allowed = changing and await self.responders.includes(caller.user_id)
        actor = Actor(caller.actor_name, "slack", is_responder=allowed)
        return self.zone_context(actor, self.responders.grant_hint(caller.user_id))

    async def run(
        self,
        caller: Caller,
        work: Callable[[Context], T],
        *,
        changing: bool,
        started: float,
        when_slow: Callable[[], Awaitable[None]],
    ) -> T:
        """Run `work` in a thread, after this user's earlier commands; say so if it runs late."""
        lock = self._locks.setdefault(caller.user_id, asyncio.Lock())

        async def in_turn() -> T:
            ctx = await self.context(caller, changing=changing)
            async with lock:
                return await asyncio.to_thread(work, ctx)

        task = asyncio.ensure_future(in_turn())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        remaining = started + self.deadline - self.monotonic()
        done, _ = await asyncio.wait({task}, timeout=max(0.0, remaining))
        if not done:
            await when_slow()
        return await task

    async def drain(self, timeout: float) -> None:
        """Wait for the commands under way (at shutdown: what was acknowledged gets saved)."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)


def slack_context(
    *,
    sessions: sessionmaker[Session],
    zone: ZoneInfo,
    locale: str,
    clock: Callable[[], datetime],
    probe: Callable[[Channel], str] | None,
    changed: Callable[[], None] | None = None,
) -> Callable[[Actor, str], Context]:
    """A factory of Slack command contexts on one database, zone and clock."""

    def build(actor: Actor, grant_hint: str) -> Context:
        return Context(
            sessions=sessions,
            zone=zone,
            locale=locale,
            actor=actor,
            now=clock,
            grant_hint=grant_hint,
            probe=probe,
            changed=changed,
        )

    return build
