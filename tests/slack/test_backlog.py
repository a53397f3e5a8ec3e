"""Slash commands acknowledged faster than they run wait as small records, not as bolt's
requests (the collector's full pass over thousands of those paused every ack behind it);
a form opens at once; whoever waits is told; a bug is answered; shutdown tells the rest."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack.handlers import NOT_RUN, QUEUED, TOO_MANY, SlashCommand
from tests.slack.helpers import SlackWorld, wait_until

RunCommand = Callable[..., Coroutine[Any, Any, None]]


def _bolt_requests_alive() -> int:
    gc.collect()
    return sum(isinstance(thing, AsyncBoltRequest) for thing in gc.get_objects())


def _hold_commands(world: SlackWorld, running: int = 1) -> tuple[threading.Event, list[str]]:
    """Commands wait for the returned event before they run; their texts, as taken."""
    assert world.front is not None
    handlers = world.front.handlers
    handlers.backlog.running = running  # before the first command starts the handlers
    release = threading.Event()
    taken: list[str] = []
    turns = handlers.backlog.handler
    run: RunCommand = turns.run

    async def held(job: SlashCommand, *, told_late: bool) -> None:
        taken.append(job.text)
        await asyncio.to_thread(release.wait, 10)
        await run(job, told_late=told_late)

    turns.run = held  # type: ignore[method-assign]
    return release, taken


def test_commands_waiting_their_turn_hold_no_bolt_request_and_all_run_in_order(
    world: SlackWorld,
) -> None:
    release, taken = _hold_commands(world)
    assert world.front is not None
    backlog = world.front.handlers.backlog
    urls = []
    for number in range(1, 6):
        response, url = world.command(f'open "Posta lenta {number}" --sev 3')
        assert response.status_code == 200
        urls.append(url)
    assert wait_until(lambda: taken == ['open "Posta lenta 1" --sev 3'])
    assert backlog.waiting == 4
    assert wait_until(lambda: _bolt_requests_alive() == 0)
    release.set()
    for number, url in enumerate(urls, start=1):
        assert f"Opened INC-{number}" in world.answer_text(url)
    assert [incident.title for incident in world.incidents()] == [
        f"Posta lenta {number}" for number in range(1, 6)
    ]


def test_a_command_that_opens_a_form_does_not_wait_behind_others(world: SlackWorld) -> None:
    release, taken = _hold_commands(world)
    world.command('open "Posta lenta" --sev 3')
    assert wait_until(lambda: len(taken) == 1)
    response, _ = world.command("open --sev 2")  # no title: the form, within its 3 s
    assert response.status_code == 200
    view = world.opened_view()
    assert view["callback_id"].startswith("herald_")
    release.set()


def test_who_waits_past_the_deadline_hears_so_once_and_then_the_outcome(
    world: SlackWorld,
) -> None:
    release, _ = _hold_commands(world)
    assert world.front is not None
    backlog = world.front.handlers.backlog
    world.command('open "Primo" --sev 3')
    _, url = world.command('open "Secondo" --sev 3')
    assert wait_until(lambda: backlog.waiting == 1)
    backlog.late_after = 0.0  # as if the deadline had passed
    assert world.http.portal is not None
    world.http.portal.call(backlog.sweep)
    assert QUEUED in world.answer_text(url)
    release.set()
    answers = world.answers(url, count=2)
    assert "Opened INC-2" in str(answers[1])
    assert "Still working" not in str(answers)


def test_a_bug_in_a_queued_command_is_answered_with_an_error_id(
    world: SlackWorld, monkeypatch: Any
) -> None:
    assert world.front is not None

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(world.front.handlers, "_run", broken)
    _, url = world.command('open "Posta lenta" --sev 3')
    assert "something went wrong (error " in world.answer_text(url)


def test_at_shutdown_whoever_still_waits_is_told_nothing_was_done(world: SlackWorld) -> None:
    release, _ = _hold_commands(world)
    assert world.front is not None
    handlers = world.front.handlers
    first = world.command('open "Web lento 1" --sev 3')[1]
    waiting = [world.command(f'open "Web lento {n}" --sev 3')[1] for n in (2, 3)]
    assert wait_until(lambda: handlers.backlog.waiting == 2)

    async def stop() -> None:
        drained = asyncio.create_task(handlers.drain(timeout=1.0))
        # The queue is given up after half the time; then the command under way ends.
        await asyncio.to_thread(wait_until, lambda: handlers.backlog.waiting == 0)
        release.set()
        await drained

    assert world.http.portal is not None
    world.http.portal.call(stop)
    assert "Opened INC-1" in world.answer_text(first)
    for url in waiting:
        assert NOT_RUN in world.answer_text(url)
    assert [incident.title for incident in world.incidents()] == ["Web lento 1"]


def test_a_person_with_too_many_commands_waiting_is_told_at_once(world: SlackWorld) -> None:
    release, taken = _hold_commands(world)
    assert world.front is not None
    world.front.handlers.backlog.per_person = 1
    world.command('open "Primo" --sev 3')
    assert wait_until(lambda: len(taken) == 1)
    world.command('open "Secondo" --sev 3')  # waits: the one allowed
    _, refused = world.command('open "Terzo" --sev 3')
    assert TOO_MANY in world.answer_text(refused)
    release.set()
    assert wait_until(lambda: len(world.incidents()) == 2)
    assert [incident.title for incident in world.incidents()] == ["Primo", "Secondo"]
