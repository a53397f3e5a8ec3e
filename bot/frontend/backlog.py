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
import enum
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)
J = TypeVar("J")
J_contra = TypeVar("J_contra", contravariant=True)

# Enough to keep every command process and thread busy while some commands wait on the
# database or on the platform; beyond this, commands wait here, cheaply.
RUNNING = 32
# One person's commands waiting at once: past this, a script gone wild is refused.
PER_PERSON = 50
# How often waiting commands are looked at: to tell the late, drop the expired, log.
SWEEP_SECONDS = 0.5
LOG_EVERY_SECONDS = 60.0
# People told a few at a time, so a sweep that finds hundreds newly late does not hold
# the event loop in one burst; more at shutdown, where the time is short.
TELLERS = 4
TELLERS_AT_SHUTDOWN = 32


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


class _State(enum.Enum):
    WAITING = 1
    TAKEN = 2
    DROPPED = 3


class _Notice(enum.Enum):
    LATE = 1
    DROPPED = 2


class _Waiting(Generic[J]):
    __slots__ = ("job", "since", "state", "told")

    def __init__(self, job: J, since: float) -> None:
        self.job = job
        self.since = since
        self.state = _State.WAITING
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
        per_person: int = PER_PERSON,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.handler = handler
        self.person = person
        self.late_after = late_after
        self.expire_after = expire_after
        self.running = running
        self.per_person = per_person
        self.monotonic = monotonic
        self._queues: dict[str, deque[_Waiting[J]]] = {}
        self._turns: asyncio.Queue[str | None] | None = None  # people with work, in turn
        self._scheduled: set[str] = set()  # in _turns, or being handled
        self._notices: asyncio.Queue[tuple[_Notice, _Waiting[J]] | None] | None = None
        self._handlers: list[asyncio.Task[None]] = []
        self._others: list[asyncio.Task[None]] = []  # the sweeper and the tellers
        self._waiting = 0
        self._busy = 0
        self._idle = asyncio.Event()
        self._stopping = False
        self._logged_at: float | None = None

    @property
    def waiting(self) -> int:
        """Commands queued and not yet taken by a handler."""
        return self._waiting

    def put(self, job: J) -> bool:
        """Queue a command (it never waits: each was acknowledged already). False when
        its person has `per_person` waiting: the caller tells them at once."""
        if self._stopping:
            self._notify(_Notice.DROPPED, _Waiting(job, self.monotonic()))
            return True
        who = self.person(job)
        queue = self._queues.setdefault(who, deque())
        if len(queue) >= self.per_person:
            return False
        turns = self._start()
        queue.append(_Waiting(job, self.monotonic()))
        self._waiting += 1
        self._idle.clear()
        if who not in self._scheduled:
            self._scheduled.add(who)
            turns.put_nowait(who)
        return True

    def _start(self) -> asyncio.Queue[str | None]:
        if self._turns is None:
            self._turns = asyncio.Queue()
            self._notices = asyncio.Queue()
            self._handlers = [
                asyncio.create_task(self._take(self._turns)) for _ in range(self.running)
            ]
            self._others = [asyncio.create_task(self._sweep_now_and_then())]
            self._add_tellers(TELLERS)
        return self._turns

    def _add_tellers(self, count: int) -> None:
        assert self._notices is not None
        self._others += [asyncio.create_task(self._tell(self._notices)) for _ in range(count)]

    async def _take(self, turns: asyncio.Queue[str | None]) -> None:
        while (who := await turns.get()) is not None:
            queue = self._queues.get(who)
            if not queue:  # every one of theirs expired, or was dropped, while they waited
                self._forget(who)
                continue
            waiting = queue.popleft()
            waiting.state = _State.TAKEN
            self._waiting -= 1
            self._busy += 1
            # Taken past the deadline: the person heard, or is about to hear, from the
            # wait; the command must not then blame the database for it.
            late = waiting.told or self.monotonic() - waiting.since >= self.late_after
            try:
                await self.handler.run(waiting.job, told_late=late)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # this handler is being stopped
                log.error("a queued command was cancelled from inside")
            except Exception:  # a handler answers its own failures; this is a bug
                log.exception("a queued command failed")
            finally:
                self._busy -= 1
                del waiting
                if queue:
                    turns.put_nowait(who)  # the next of theirs, after everyone waiting now
                else:
                    self._forget(who)

    def _forget(self, who: str) -> None:
        if not self._queues.get(who):
            self._queues.pop(who, None)
        self._scheduled.discard(who)
        if not self._waiting and not self._busy:
            self._idle.set()

    async def _sweep_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                self.sweep()
            except Exception:  # the queues run without it; the next sweep tries again
                log.exception("the backlog's sweep failed")

    def sweep(self) -> None:
        """Tell whoever waits past the deadline, once; drop what waited too long to run."""
        now = self.monotonic()
        oldest = 0.0
        for queue in self._queues.values():
            while queue and now - queue[0].since >= self.expire_after:
                self._waiting -= 1
                self._notify(_Notice.DROPPED, _dropped(queue.popleft()))
            for waiting in queue:
                if now - waiting.since < self.late_after:
                    break  # the rest of this person's came later still
                if not waiting.told:
                    waiting.told = True
                    self._notify(_Notice.LATE, waiting)
            if queue:
                oldest = max(oldest, now - queue[0].since)
        if oldest >= self.late_after and (
            self._logged_at is None or now - self._logged_at >= LOG_EVERY_SECONDS
        ):
            self._logged_at = now
            log.warning(
                "%d commands waiting their turn, the oldest for %.0f s", self._waiting, oldest
            )

    def _notify(self, notice: _Notice, waiting: _Waiting[J]) -> None:
        if self._notices is None:
            log.warning("a command arrived after shutdown: not run, and its person not told")
            return
        self._notices.put_nowait((notice, waiting))

    async def _tell(self, notices: asyncio.Queue[tuple[_Notice, _Waiting[J]] | None]) -> None:
        while (item := await notices.get()) is not None:
            notice, waiting = item
            try:
                if notice is _Notice.DROPPED:
                    await self.handler.tell_dropped(waiting.job)
                elif waiting.state is _State.WAITING:  # late, and not yet taken nor dropped
                    await self.handler.tell_late(waiting.job)
            except Exception:  # this person's notice is lost, and only theirs
                log.warning("could not tell a waiting person", exc_info=True)
            finally:
                del item, waiting

    async def drain(self, timeout: float) -> None:
        """At shutdown: run what is queued for up to half of `timeout`; then tell whoever
        still waits that nothing was done, and give the commands under way the rest."""
        end = self.monotonic() + timeout
        self._stopping = self._stopping or self._turns is None
        if self._turns is None or self._notices is None:
            return
        if self._waiting or self._busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout / 2)
        self._stopping = True
        dropped = [waiting for queue in self._queues.values() for waiting in queue]
        self._queues.clear()
        self._waiting = 0
        if dropped:
            log.warning("%d acknowledged commands not run: stopped before their turn", len(dropped))
        # Notices of lateness still queued are skipped: those commands are dropped now.
        for waiting in dropped:
            self._notify(_Notice.DROPPED, _dropped(waiting))
        self._add_tellers(TELLERS_AT_SHUTDOWN)
        for _ in range(self.running):
            self._turns.put_nowait(None)
        for _ in range(TELLERS + TELLERS_AT_SHUTDOWN):
            self._notices.put_nowait(None)
        pending = [task for task in (*self._handlers, *self._others[1:]) if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=max(0.0, end - self.monotonic()))
        if self._busy:
            log.warning("%d commands cut off at shutdown, their answers lost", self._busy)
        if not self._notices.empty():
            log.warning("some people were not told their command was not run: out of time")
        await self.close()

    async def close(self) -> None:
        """Stop every task of the backlog at once."""
        tasks = [*self._handlers, *self._others]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._handlers, self._others = [], []
        self._notices = None  # a command put after this is logged: nobody could tell them


def _dropped(waiting: _Waiting[J]) -> _Waiting[J]:
    """The record of a command that will not run (a late notice for it is skipped)."""
    waiting.state = _State.DROPPED
    return waiting
