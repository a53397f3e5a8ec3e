"""Commands acknowledged but not yet started, held as plain data until a handler is free.

A front-end acks at once and works after. When commands arrive faster than the command
processes run them, each one waiting as a task of its own kept the platform's request,
its client and a chain of coroutines alive: about a hundred objects the garbage
collector walks on every full collection. With 2,000 waiting, such a collection paused
the event loop, and every ack behind it, for over 100 ms. Here a waiting command is one
small record, and only `running` are handled at once.

Each person has a queue of their own, and a person's commands run one after the other,
in the order they came; handlers take people in turn, so one person's hundred commands
never hold every handler while someone else's one waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)
J = TypeVar("J")
J_contra = TypeVar("J_contra", contravariant=True)

# Enough to keep every command process and thread busy while some commands wait on the
# database or on the platform; beyond this, commands wait here, cheaply.
RUNNING = 32
# How often waiting commands are looked at: to tell the late, drop the expired, log.
SWEEP_SECONDS = 0.5
LOG_EVERY_SECONDS = 60.0
# A sweep may find hundreds newly late: told a few at a time, so the answers trickle out
# between acks instead of holding the event loop in one burst.
TELLING_AT_ONCE = 4


class Handler(Protocol[J_contra]):
    """What a front-end does with the commands of its backlog."""

    async def run(self, job: J_contra, *, told_late: bool) -> None:
        """Run the command and answer the person; never raises for a refusal."""
        ...

    async def tell_late(self, job: J_contra) -> None:
        """Tell the person their command waits its turn (past the answer deadline)."""
        ...

    async def tell_dropped(self, job: J_contra) -> None:
        """Tell the person their command was never run: nothing was done."""
        ...


class _Waiting(Generic[J]):
    __slots__ = ("job", "since", "told")

    def __init__(self, job: J, since: float) -> None:
        self.job = job
        self.since = since
        self.told = False


class Backlog(Generic[J]):
    """Per-person first-in first-out queues, `running` handlers taking people in turn."""

    def __init__(
        self,
        handler: Handler[J],
        person: Callable[[J], str],
        *,
        late_after: float,
        expire_after: float,
        running: int = RUNNING,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.handler = handler
        self.person = person
        self.late_after = late_after
        self.expire_after = expire_after
        self.running = running
        self.monotonic = monotonic
        self._queues: dict[str, deque[_Waiting[J]]] = {}
        self._turns: asyncio.Queue[str | None] | None = None  # people with work, in turn
        self._scheduled: set[str] = set()  # in _turns, or being handled
        self._tasks: list[asyncio.Task[None]] = []
        self._telling: set[asyncio.Task[None]] = set()
        self._waiting = 0
        self._busy = 0
        self._idle = asyncio.Event()
        self._stopping = False
        self._logged_at: float | None = None
        self._tellers: asyncio.Semaphore | None = None

    @property
    def waiting(self) -> int:
        """Commands queued and not yet taken by a handler."""
        return self._waiting

    def put(self, job: J) -> None:
        """Queue a command; it never waits (each one was acknowledged already)."""
        if self._stopping:
            self._tell(self.handler.tell_dropped(job))
            return
        turns = self._start()
        who = self.person(job)
        self._queues.setdefault(who, deque()).append(_Waiting(job, self.monotonic()))
        self._waiting += 1
        self._idle.clear()
        if who not in self._scheduled:
            self._scheduled.add(who)
            turns.put_nowait(who)

    def _start(self) -> asyncio.Queue[str | None]:
        if self._turns is None:
            self._turns = asyncio.Queue()
            self._tasks = [
                asyncio.create_task(self._take(self._turns)) for _ in range(self.running)
            ]
            self._tasks.append(asyncio.create_task(self._sweep_now_and_then()))
        return self._turns

    async def _take(self, turns: asyncio.Queue[str | None]) -> None:
        while (who := await turns.get()) is not None:
            queue = self._queues.get(who)
            if not queue:  # every one of theirs expired while they waited
                self._queues.pop(who, None)
                self._scheduled.discard(who)
                if not self._waiting and not self._busy:
                    self._idle.set()
                continue
            waiting = queue.popleft()
            self._waiting -= 1
            self._busy += 1
            try:
                await self.handler.run(waiting.job, told_late=waiting.told)
            except Exception:  # a handler answers its own failures; this is a bug
                log.exception("a queued command failed")
            finally:
                self._busy -= 1
                del waiting
            if queue:
                turns.put_nowait(who)  # the next of theirs, after everyone already waiting
            else:
                self._queues.pop(who, None)
                self._scheduled.discard(who)
                if not self._waiting and not self._busy:
                    self._idle.set()

    async def _sweep_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            self.sweep()

    def sweep(self) -> None:
        """Tell whoever waits past the deadline, once; drop what waited too long to run."""
        now = self.monotonic()
        oldest = 0.0
        for queue in self._queues.values():
            while queue and now - queue[0].since >= self.expire_after:
                self._waiting -= 1
                self._tell(self.handler.tell_dropped(queue.popleft().job))
            for waiting in queue:
                if now - waiting.since < self.late_after:
                    break  # the rest of this person's came later still
                if not waiting.told:
                    waiting.told = True
                    self._tell(self.handler.tell_late(waiting.job))
            if queue:
                oldest = max(oldest, now - queue[0].since)
        if oldest >= self.late_after and (
            self._logged_at is None or now - self._logged_at >= LOG_EVERY_SECONDS
        ):
            self._logged_at = now
            log.warning(
                "%d commands waiting their turn, the oldest for %.0f s", self._waiting, oldest
            )

    def _tell(self, telling: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(self._in_turn(telling))
        self._telling.add(task)
        task.add_done_callback(self._telling.discard)

    async def _in_turn(self, telling: Coroutine[Any, Any, None]) -> None:
        if self._tellers is None:
            self._tellers = asyncio.Semaphore(TELLING_AT_ONCE)
        async with self._tellers:
            try:
                await telling
            except Exception:  # the person's answer is lost, and only theirs
                log.warning("could not tell a waiting person", exc_info=True)

    async def drain(self, timeout: float) -> None:
        """At shutdown: run what is queued for up to half of `timeout`; then tell whoever
        still waits that nothing was done, and give the commands under way the rest."""
        end = self.monotonic() + timeout
        if self._turns is None:
            return
        if self._waiting or self._busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout / 2)
        self._stopping = True
        dropped = [waiting.job for queue in self._queues.values() for waiting in queue]
        self._queues.clear()
        self._waiting = 0
        if dropped:
            log.warning("%d acknowledged commands not run: stopped before their turn", len(dropped))
        for job in dropped:
            self._tell(self.handler.tell_dropped(job))
        for _ in range(self.running):
            self._turns.put_nowait(None)
        pending = {task for task in self._tasks[: self.running] if not task.done()}
        pending |= self._telling
        if pending:
            await asyncio.wait(pending, timeout=max(0.0, end - self.monotonic()))
        if self._busy:
            log.warning("%d commands cut off at shutdown, their answers lost", self._busy)
        await self.close()

    async def close(self) -> None:
        """Stop every task of the backlog at once."""
        tasks = [*self._tasks, *self._telling]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
