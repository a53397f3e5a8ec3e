"""Run a person's command off the event loop, one at a time per person, within a deadline."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.database import Database
from bot.settings import Settings
from commands.context import Actor, Context
from storage.models import Channel

if TYPE_CHECKING:
    from bot.frontend.command_processes import CommandProcesses

T = TypeVar("T")

NAME_LIMIT = 120
# A command holds the GIL for most of its run (SQLAlchemy), so every command running at
# once is one more thread the event loop, which acks the next request, must win the GIL
# from: with asyncio's default threads (6 on 2 cores) an ack waited behind them all.
# Four keep commands going while some wait on the database; more queue, cheaply. (Two
# were too few: commands queued past the 2.5 s deadline and were told "still working".)
COMMAND_THREADS = 4


@dataclass(frozen=True)
class Person:
    """Someone typing to Herald on a platform: the id the platform gives them, a name, and
    the chat they typed in (`telegram:-1001234567890`) where it matters."""

    front_end: str
    user_id: str
    name: str = ""
    place: str | None = None

    @property
    def key(self) -> str:
        """One key per person per platform, for their queue of commands."""
        return f"{self.front_end}:{self.user_id}"

    @property
    def actor_name(self) -> str:
        """The name audits and timelines show: `telegram:42 (alice)`."""
        name = self.key
        if self.name:
            name += f" ({self.name})"
        return name[:NAME_LIMIT]


class Responders(Protocol):
    """Who may change incidents on one platform, and how to say who may grant it."""

    async def includes(self, user_id: str) -> bool:
        """Whether this person may change incidents, components and channels."""
        ...

    def grant_hint(self, user_id: str) -> str:
        """What to do to become a responder, for the refusal."""
        ...


class CommandRunner:
    """Builds each person's context and runs their commands one at a time, in a thread, or
    in a command process when it has them and the work may go there."""

    def __init__(
        self,
        *,
        zone_context: Callable[[Actor, str], Context],
        responders: Responders,
        deadline: float,
        monotonic: Callable[[], float] = time.monotonic,
        threads: int = COMMAND_THREADS,
        processes: CommandProcesses | None = None,
    ) -> None:
        self.zone_context = zone_context
        self.responders = responders
        self.deadline = deadline
        self.monotonic = monotonic
        self._locks: dict[str, asyncio.Lock] = {}
        self._inflight: set[asyncio.Future[Any]] = set()
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="herald-command")
        self.processes = processes

    async def context(self, person: Person, *, changing: bool) -> Context:
        """The person's command context; responders are looked up only for changes."""
        allowed = changing and await self.responders.includes(person.user_id)
        actor = Actor(person.actor_name, person.front_end, is_responder=allowed, place=person.place)
        return self.zone_context(actor, self.responders.grant_hint(person.user_id))

    async def run(
        self,
        person: Person,
        work: Callable[[Context], T],
        *,
        changing: bool,
        started: float,
        when_slow: Callable[[], Awaitable[None]] | None = None,
        portable: bool = False,
    ) -> T:
        """Run `work` after this person's earlier commands, in a command process when it is
        `portable` (picklable, needing nothing but its context) and there are some, else in
        one of the command threads; say so if it runs late."""
        lock = self._locks.setdefault(person.key, asyncio.Lock())

        async def in_turn() -> T:
            ctx = await self.context(person, changing=changing)
            async with lock:
                if portable and self.processes is not None:
                    return await self.processes.run(work, ctx.actor, ctx.grant_hint)
                return await self.offload(functools.partial(work, ctx))

        task = asyncio.ensure_future(in_turn())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        if when_slow is not None:
            remaining = started + self.deadline - self.monotonic()
            done, _ = await asyncio.wait({task}, timeout=max(0.0, remaining))
            if not done:
                await when_slow()
        return await task

    async def offload(self, call: Callable[[], T]) -> T:
        """Run blocking database work on the command threads, off the event loop."""
        bound = functools.partial(contextvars.copy_context().run, call)
        return await asyncio.get_running_loop().run_in_executor(self._threads, bound)

    async def drain(self, timeout: float) -> None:
        """Wait for the commands under way (at shutdown: what was acknowledged gets saved)."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)


def context_factory(
    *,
    sessions: sessionmaker[Session],
    zone: ZoneInfo,
    locale: str,
    clock: Callable[[], datetime],
    probe: Callable[[Channel], str] | None,
    changed: Callable[[], None] | None = None,
    remind_before: timedelta = timedelta(hours=24),
) -> Callable[[Actor, str], Context]:
    """A factory of command contexts on one database, zone and clock."""

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
            remind_before=remind_before,
        )

    return build


def command_runner(
    settings: Settings,
    database: Database,
    responders: Responders,
    *,
    deadline: float,
    clock: Callable[[], datetime],
    monotonic: Callable[[], float] = time.monotonic,
    changed: Callable[[], None] | None = None,
    processes: CommandProcesses | None = None,
) -> CommandRunner:
    """A front-end's runner on this database, zone and clock; `changed` wakes a worker.
    With `processes`, commands run there (on their own clock, without `changed`)."""
    from bot.delivery.probe import probe_for

    return CommandRunner(
        zone_context=context_factory(
            sessions=database.sessions,
            zone=settings.zone,
            locale=settings.locale,
            clock=clock,
            probe=probe_for(settings),
            changed=changed,
            remind_before=settings.maintenance_reminder,
        ),
        responders=responders,
        deadline=deadline,
        monotonic=monotonic,
        processes=processes,
    )
