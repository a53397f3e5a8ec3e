"""A Slack request is answered at its listener's ack; what follows goes on, and its failures
reach the person through the app's error handler."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack.acking import AckedAtOnce
from tests.slack.helpers import SECRET, TOKEN, signed_headers


class Listeners:
    """Listeners whose work after the ack waits until the test lets it go."""

    def __init__(self, *, telling_takes: float = 0.0) -> None:
        self.go_on = asyncio.Event()
        self.done: list[str] = []
        self.told: list[tuple[str, str]] = []
        self.telling_takes = telling_takes

    async def after_ack(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await self.go_on.wait()
        self.done.append(str(body["text"]))

    async def fails_after_ack(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await self.go_on.wait()
        raise RuntimeError("after the ack")

    async def fails_before_ack(self, ack: AsyncAck) -> None:
        raise RuntimeError("before the ack")

    async def fails_late_before_ack(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await self.go_on.wait()
        raise RuntimeError("before the ack")

    async def never_acks(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await self.go_on.wait()
        self.done.append("late")

    async def on_error(self, error: Exception, body: dict[str, Any]) -> None:
        await asyncio.sleep(self.telling_takes)  # as chat.postEphemeral would take its time
        self.told.append((str(error), str(body.get("text"))))


def _app(listeners: Listeners, command: str, listener: Any) -> tuple[AsyncApp, AckedAtOnce]:
    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=TOKEN)

    app = AsyncApp(signing_secret=SECRET, authorize=authorize, process_before_response=True)
    acked = AckedAtOnce(listeners.on_error)
    app.command(command)(acked(listener))
    app.error(listeners.on_error)
    return app, acked


def _request(command: str, text: str) -> AsyncBoltRequest:
    fields = {"command": command, "text": text, "team_id": "T0HERALD", "user_id": "U0ALICE"}
    body = urlencode(fields)
    headers: dict[str, str | Sequence[str]] = dict(signed_headers(body.encode()))
    return AsyncBoltRequest(body=body, headers=headers)


def test_the_request_is_answered_at_the_ack_while_the_work_after_it_goes_on() -> None:
    async def scene() -> None:
        listeners = Listeners()
        app, acked = _app(listeners, "/incident", listeners.after_ack)
        started = time.perf_counter()
        response = await asyncio.wait_for(app.async_dispatch(_request("/incident", "one")), 2)
        assert response.status == 200
        # bolt's own way looked for the ack every 10 ms; this one answers when it comes.
        assert time.perf_counter() - started < 1.0
        assert listeners.done == []
        listeners.go_on.set()
        await acked.wait(2)
        assert listeners.done == ["one"]
        assert listeners.told == []

    asyncio.run(scene())


def test_a_failure_after_the_ack_reaches_the_error_handler_and_the_answer_stands() -> None:
    async def scene() -> None:
        listeners = Listeners()
        app, acked = _app(listeners, "/incident", listeners.fails_after_ack)
        response = await app.async_dispatch(_request("/incident", "two"))
        assert response.status == 200
        listeners.go_on.set()
        await acked.wait(2)
        for _ in range(10):  # the error handler runs in a task of its own
            await asyncio.sleep(0)
        assert listeners.told == [("after the ack", "two")]

    asyncio.run(scene())


def test_a_failure_before_the_ack_is_bolts_to_answer() -> None:
    async def scene() -> None:
        listeners = Listeners()
        app, _ = _app(listeners, "/incident", listeners.fails_before_ack)
        response = await app.async_dispatch(_request("/incident", "three"))
        assert response.status == 500
        assert listeners.told == [("before the ack", "three")]

    asyncio.run(scene())


def test_shutdown_waits_for_the_work_after_the_acks_only_as_long_as_it_is_given() -> None:
    async def scene() -> None:
        listeners = Listeners()
        app, acked = _app(listeners, "/incident", listeners.after_ack)
        await app.async_dispatch(_request("/incident", "four"))
        await acked.wait(0.01)
        assert listeners.done == []
        loop = asyncio.get_running_loop()
        loop.call_soon(listeners.go_on.set)
        await acked.wait(2)
        assert listeners.done == ["four"]

    asyncio.run(scene())


async def _ack(**_: Any) -> None:
    return None


def test_shutdown_also_waits_for_the_person_to_be_told_of_a_failure_after_the_ack() -> None:
    async def scene() -> None:
        listeners = Listeners(telling_takes=0.01)
        acked = AckedAtOnce(listeners.on_error)
        await acked(listeners.fails_after_ack)(ack=_ack, body={"text": "x"})
        listeners.go_on.set()
        await acked.wait(2)
        assert listeners.told == [("after the ack", "x")]

    asyncio.run(scene())


def test_a_request_cut_off_before_the_ack_leaves_its_listener_kept_and_its_failure_told() -> None:
    async def scene() -> None:
        listeners = Listeners()
        acked = AckedAtOnce(listeners.on_error)
        listener = acked(listeners.fails_late_before_ack)
        dispatch = asyncio.ensure_future(listener(ack=_ack, body={"text": "x"}))
        await asyncio.sleep(0)
        dispatch.cancel()
        await asyncio.gather(dispatch, return_exceptions=True)
        listeners.go_on.set()
        await acked.wait(2)
        assert listeners.told == [("before the ack", "x")]

    asyncio.run(scene())


def test_a_listener_that_never_acks_is_answered_without_its_ack_and_kept() -> None:
    async def scene() -> None:
        listeners = Listeners()
        acked = AckedAtOnce(listeners.on_error, ack_seconds=0.01)
        await asyncio.wait_for(acked(listeners.never_acks)(ack=_ack, body={}), 2)
        listeners.go_on.set()
        await acked.wait(2)
        assert listeners.done == ["late"]

    asyncio.run(scene())
