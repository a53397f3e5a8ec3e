"""The backlog of acknowledged commands: each person's in order, people in turn, a bounded
number at once; the late told once, the expired dropped and told, and at shutdown the
queue drained, whoever is left told, and nobody's command cut off while time remains."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from bot.frontend.backlog import Backlog


@dataclass(frozen=True)
class Job:
    person: str
    number: int


class Desk:
    """A handler that records what happened and holds each job until let through."""

    def __init__(self) -> None:
        self.started: list[Job] = []
        self.finished: list[Job] = []
        self.late: list[Job] = []
        self.dropped: list[Job] = []
        self.told_late: list[bool] = []
        self.running = 0
        self.most_at_once = 0
        self.open = asyncio.Event()
        # The command under way ends only once a drop was told: the queue was given up.
        self.finish_once_dropped = False

    async def run(self, job: Job, *, told_late: bool) -> None:
        self.started.append(job)
        self.told_late.append(told_late)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.open.wait()
            if job.number < 0:
                raise RuntimeError("a bug in a handler")
            self.finished.append(job)
        finally:
            self.running -= 1

    async def tell_late(self, job: Job) -> None:
        self.late.append(job)

    async def tell_dropped(self, job: Job) -> None:
        self.dropped.append(job)
        if self.finish_once_dropped:
            self.open.set()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def backlog(desk: Desk, clock: Clock, running: int) -> Backlog[Job]:
    return Backlog(
        desk,
        lambda job: job.person,
        late_after=2.5,
        expire_after=60.0,
        running=running,
        monotonic=clock,
    )


async def settle() -> None:
    """Let every ready task run until all wait on something (no real time passes)."""
    for _ in range(30):
        await asyncio.sleep(0)


def test_people_take_turns_and_each_persons_commands_run_one_after_the_other() -> None:
    async def main() -> None:
        desk, clock = Desk(), Clock()
        queue = backlog(desk, clock, running=2)
        for number in range(1, 6):
            queue.put(Job("busy", number))
        queue.put(Job("calm", 1))
        await settle()
        # One handler per person: the second handler went to the calm person at once.
        assert desk.started == [Job("busy", 1), Job("calm", 1)]
        assert queue.waiting == 4
        desk.open.set()
        await settle()
        assert [j.number for j in desk.finished if j.person == "busy"] == [1, 2, 3, 4, 5]
        assert desk.most_at_once == 2
        assert queue.waiting == 0
        await queue.close()

    asyncio.run(main())


def test_who_waits_past_the_deadline_is_told_once_and_the_expired_are_dropped() -> None:
    async def main() -> None:
        desk, clock = Desk(), Clock()
        queue = backlog(desk, clock, running=1)
        queue.put(Job("a", 1))  # taken at once, and held
        queue.put(Job("b", 1))
        await settle()
        clock.now += 1.0
        queue.put(Job("c", 1))
        clock.now += 2.0  # b waited 3 s, c 2 s
        queue.sweep()
        queue.sweep()
        await settle()
        assert desk.late == [Job("b", 1)]
        clock.now += 60.0  # b waited 63 s, c 62 s: both past expiry
        queue.sweep()
        await settle()
        assert desk.dropped == [Job("b", 1), Job("c", 1)]
        assert desk.late == [Job("b", 1)]
        assert queue.waiting == 0
        desk.open.set()
        await settle()
        assert desk.finished == [Job("a", 1)]
        await queue.close()

    asyncio.run(main())


def test_a_command_told_it_was_late_runs_knowing_so() -> None:
    async def main() -> None:
        desk, clock = Desk(), Clock()
        queue = backlog(desk, clock, running=1)
        queue.put(Job("a", 1))
        queue.put(Job("b", 1))
        await settle()
        clock.now += 3.0
        queue.sweep()
        desk.open.set()
        await settle()
        assert desk.told_late == [False, True]
        await queue.close()

    asyncio.run(main())


def test_a_failing_command_is_logged_and_the_next_ones_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        desk, clock = Desk(), Clock()
        desk.open.set()
        queue = backlog(desk, clock, running=1)
        for number in (1, -1, 2):
            queue.put(Job("a", number))
        await settle()
        assert desk.finished == [Job("a", 1), Job("a", 2)]
        await queue.close()

    with caplog.at_level(logging.ERROR, logger="bot.frontend.backlog"):
        asyncio.run(main())
    assert "a queued command failed" in caplog.text


def test_shutdown_runs_the_queue_when_there_is_time() -> None:
    async def main() -> None:
        desk, clock = Desk(), Clock()
        queue = backlog(desk, clock, running=1)
        for number in range(1, 4):
            queue.put(Job("a", number))
        await settle()
        desk.open.set()
        await queue.drain(timeout=5)
        assert [j.number for j in desk.finished] == [1, 2, 3]
        assert desk.dropped == []

    asyncio.run(main())


def test_shutdown_tells_whoever_is_left_and_lets_the_running_command_finish(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        desk, clock = Desk(), Clock()
        queue = backlog(desk, clock, running=1)
        for number in range(1, 4):
            queue.put(Job("a", number))
        await settle()
        desk.finish_once_dropped = True
        await queue.drain(timeout=1.0)
        assert desk.started == [Job("a", 1)]
        assert desk.finished == [Job("a", 1)]
        assert desk.dropped == [Job("a", 2), Job("a", 3)]
        queue.put(Job("b", 1))  # after shutdown: nobody left to tell, so it is logged
        await settle()
        assert Job("b", 1) not in desk.started

    with caplog.at_level(logging.WARNING, logger="bot.frontend.backlog"):
        asyncio.run(main())
    assert "2 acknowledged commands not run" in caplog.text
    assert "a command arrived after shutdown" in caplog.text
    assert "cut off" not in caplog.text


def test_a_command_late_and_then_dropped_at_shutdown_is_told_once_that_it_was_dropped() -> None:
    async def main() -> None:
        desk, clock = Desk(), Clock()
        queue = backlog(desk, clock, running=1)
        queue.put(Job("a", 1))
        queue.put(Job("b", 1))
        await settle()
        clock.now += 3.0
        queue.sweep()  # b's late notice is queued, not yet sent
        desk.finish_once_dropped = True
        await queue.drain(timeout=1.0)
        assert desk.dropped == [Job("b", 1)]
        assert desk.late in ([], [Job("b", 1)])  # sent before the drop, or skipped
        assert desk.finished == [Job("a", 1)]

    asyncio.run(main())


def test_a_person_past_their_share_is_refused_and_others_are_not() -> None:
    async def main() -> None:
        desk = Desk()
        queue = Backlog(desk, lambda job: job.person, late_after=2.5, expire_after=60, per_person=2)
        assert queue.put(Job("a", 1))
        assert queue.put(Job("a", 2))
        assert not queue.put(Job("a", 3))
        assert queue.put(Job("b", 1))
        await queue.close()

    asyncio.run(main())


def test_taken_past_the_deadline_before_any_sweep_counts_as_late() -> None:
    async def main() -> None:
        desk, clock = Desk(), Clock()
        queue = backlog(desk, clock, running=1)
        queue.put(Job("a", 1))
        queue.put(Job("b", 1))
        await settle()
        clock.now += 3.0
        desk.open.set()
        await settle()
        assert desk.told_late == [False, True]
        assert desk.late == []  # no sweep ran: nothing was said, nothing misleading either
        await queue.close()

    asyncio.run(main())


def test_a_command_cancelled_from_inside_leaves_its_person_able_to_queue_more(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        desk, clock = Desk(), Clock()
        desk.open.set()
        run = desk.run

        async def cancelled_once(job: Job, *, told_late: bool) -> None:
            if job.number == 1:
                raise asyncio.CancelledError
            await run(job, told_late=told_late)

        desk.run = cancelled_once  # type: ignore[method-assign]
        queue = backlog(desk, clock, running=1)
        queue.put(Job("a", 1))
        await settle()
        queue.put(Job("a", 2))
        await settle()
        assert desk.finished == [Job("a", 2)]
        await queue.close()

    with caplog.at_level(logging.ERROR, logger="bot.frontend.backlog"):
        asyncio.run(main())
    assert "cancelled from inside" in caplog.text


def test_a_drain_before_any_command_leaves_no_task_behind() -> None:
    async def main() -> None:
        queue = backlog(Desk(), Clock(), running=2)
        await queue.drain(timeout=0)
        queue.put(Job("a", 1))
        await settle()
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        assert tasks == set()

    asyncio.run(main())


def test_an_unused_backlog_drains_and_closes_at_once() -> None:
    async def main() -> None:
        queue = backlog(Desk(), Clock(), running=2)
        await queue.drain(timeout=0)
        await queue.close()

    asyncio.run(main())
