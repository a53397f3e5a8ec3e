"""Commands acknowledged but not yet started, held as plain data until a handler is free.

A front-end acks at once and works after. When commands arrive faster than the command
processes run them, each one waiting as a task of its own kept the platform's request,
its client and a chain of coroutines alive: about a hundred objects the garbage
collector walks on every full collection. With 2,000 waiting, such a collection paused
the event loop, and every ack behind it, for over 100 ms. Here a waiting command is one
small record, and only `running` of them are handled at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
J = TypeVar("J")

# Enough to keep every command process and thread busy while some commands wait on the
# database or on Slack; beyond this, commands wait here, cheaply.
RUNNING = 32


class Backlog(Generic[J]):
    """A first-in first-out queue of jobs with `running` handlers taking them in turn."""

    def __init__(self, handle: Callable[[J], Awaitable[None]], *, running: int = RUNNING) -> None:
        self.handle = handle
        self.running = running
        self._jobs: asyncio.Queue[J] | None = None
        self._handlers: list[asyncio.Task[None]] = []

    def put(self, job: J) -> None:
        """Queue a job; it never waits (the queue has no bound: each job was acknowledged)."""
        if self._jobs is None:
            self._jobs = asyncio.Queue()
            self._handlers = [
                asyncio.create_task(self._take(self._jobs)) for _ in range(self.running)
            ]
        self._jobs.put_nowait(job)

    @property
    def waiting(self) -> int:
        """Jobs queued and not yet taken by a handler."""
        return 0 if self._jobs is None else self._jobs.qsize()

    async def _take(self, jobs: asyncio.Queue[J]) -> None:
        while True:
            job = await jobs.get()
            try:
                await self.handle(job)
            except Exception:  # a handler answers its own failures; this is a bug
                log.exception("a queued command failed")
            finally:
                del job  # not kept alive while this handler waits for the next one
                jobs.task_done()

    async def drain(self, timeout: float) -> bool:
        """Wait until every queued job is handled (at shutdown); False if time ran out."""
        if self._jobs is None:
            return True
        try:
            await asyncio.wait_for(self._jobs.join(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop the handlers (after `drain`); jobs still queued are dropped, and counted."""
        if self.waiting:
            log.warning("%d acknowledged commands not run: stopped before their turn", self.waiting)
        for task in self._handlers:
            task.cancel()
        for task in self._handlers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._handlers = []
        self._jobs = None
