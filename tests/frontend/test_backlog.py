"""The backlog of acknowledged commands: first in, first out, a bounded number at once,
drained at shutdown, and what could not run is counted."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.frontend.backlog import Backlog


class Gate:
    """A handler that records what it took and holds each job until let through."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.finished: list[int] = []
        self.running = 0
        self.most_at_once = 0
        self.open = asyncio.Event()

    async def handle(self, job: int) -> None:
        self.started.append(job)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.open.wait()
            if job < 0:
                raise RuntimeError("a bug in a handler")
            self.finished.append(job)
        finally:
            self.running -= 1


async def settle() -> None:
    """Let every ready task run until all wait on something (no real time passes)."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_jobs_start_in_order_and_no_more_than_running_at_once() -> None:
    async def main() -> None:
        gate = Gate()
        backlog = Backlog(gate.handle, running=2)
        for job in range(5):
            backlog.put(job)
        await settle()
        assert gate.started == [0, 1]
        assert backlog.waiting == 3
        gate.open.set()
        assert await backlog.drain(timeout=5)
        assert gate.started == [0, 1, 2, 3, 4]
        assert sorted(gate.finished) == [0, 1, 2, 3, 4]
        assert gate.most_at_once == 2
        assert backlog.waiting == 0
        await backlog.close()

    asyncio.run(main())


def test_a_failing_job_is_logged_and_the_next_ones_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        gate = Gate()
        gate.open.set()
        backlog = Backlog(gate.handle, running=1)
        for job in (1, -1, 2):
            backlog.put(job)
        assert await backlog.drain(timeout=5)
        assert gate.finished == [1, 2]
        await backlog.close()

    with caplog.at_level(logging.ERROR, logger="bot.frontend.backlog"):
        asyncio.run(main())
    assert "a queued command failed" in caplog.text


def test_drain_gives_up_at_its_timeout_and_close_counts_what_never_ran(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        gate = Gate()  # never opened: the first job holds the only handler
        backlog = Backlog(gate.handle, running=1)
        for job in range(3):
            backlog.put(job)
        await settle()
        assert not await backlog.drain(timeout=0.01)
        await backlog.close()
        assert gate.started == [0]
        assert gate.running == 0  # the held job was cancelled with its handler

    with caplog.at_level(logging.WARNING, logger="bot.frontend.backlog"):
        asyncio.run(main())
    assert "2 acknowledged commands not run" in caplog.text


def test_an_unused_backlog_drains_and_closes_at_once() -> None:
    async def main() -> None:
        backlog = Backlog(Gate().handle)
        assert await backlog.drain(timeout=0)
        await backlog.close()

    asyncio.run(main())
