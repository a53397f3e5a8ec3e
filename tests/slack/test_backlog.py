"""Slash commands acknowledged faster than they run wait as small records, not as bolt's
requests: the collector's full pass over a backlog of them paused every ack behind it."""

from __future__ import annotations

import asyncio
import gc
import threading

from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack.handlers import SlashCommand
from tests.slack.helpers import SlackWorld, wait_until


def _bolt_requests_alive() -> int:
    gc.collect()
    return sum(isinstance(thing, AsyncBoltRequest) for thing in gc.get_objects())


def test_commands_waiting_their_turn_hold_no_bolt_request_and_all_run_in_order(
    world: SlackWorld,
) -> None:
    assert world.front is not None
    backlog = world.front.handlers.backlog
    backlog.running = 1
    release = threading.Event()
    taken: list[str] = []
    run_command = backlog.handle

    async def held(job: SlashCommand) -> None:
        taken.append(job.text)
        await asyncio.to_thread(release.wait, 10)
        await run_command(job)

    backlog.handle = held
    urls = []
    for number in range(1, 6):
        response, url = world.command(f'open "Posta lenta {number}" --sev 3')
        assert response.status_code == 200
        urls.append(url)
    assert wait_until(lambda: taken == ['open "Posta lenta 1" --sev 3'])
    assert backlog.waiting == 4
    assert _bolt_requests_alive() == 0
    release.set()
    for number, url in enumerate(urls, start=1):
        assert f"Opened INC-{number}" in world.answer_text(url)
    assert [incident.title for incident in world.incidents()] == [
        f"Posta lenta {number}" for number in range(1, 6)
    ]


def test_commands_acknowledged_before_shutdown_still_run(world: SlackWorld) -> None:
    assert world.front is not None
    backlog = world.front.handlers.backlog
    backlog.running = 1
    release = threading.Event()
    run_command = backlog.handle

    async def held(job: SlashCommand) -> None:
        await asyncio.to_thread(release.wait, 10)
        await run_command(job)

    backlog.handle = held
    urls = [world.command(f'open "Web lento {n}" --sev 3')[1] for n in (1, 2, 3)]
    assert wait_until(lambda: backlog.waiting == 2)
    release.set()
    assert world.http.portal is not None
    world.http.portal.call(world.front.close)
    assert len(world.incidents()) == 3
    assert "Opened INC-3" in world.answer_text(urls[2])
