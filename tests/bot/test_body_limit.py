"""Bodies past their path's limit get 413, bodies that take too long 408, before the app."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from bot.body_limit import BodyLimit


async def _echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


def _post(limit: Starlette, messages: list[Message], length: int | None = None) -> int:
    waiting = list(messages)
    statuses: list[int] = []

    async def receive() -> Message:
        if waiting:
            return waiting.pop(0)
        await asyncio.Event().wait()  # a client that stopped sending
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/form",
        "headers": headers,
        "query_string": b"",
        "root_path": "",
    }
    asyncio.run(asyncio.wait_for(limit(scope, receive, send), 5))
    return statuses[0]


def _limit(seconds: float = 10.0) -> Starlette:
    # As bot.web mounts it: inside Starlette's error middleware, outside the router.
    limit = Middleware(BodyLimit, limits={}, default=10, seconds=seconds)
    return Starlette(routes=[Route("/form", _echo, methods=["POST"])], middleware=[limit])


def test_a_body_within_the_limit_reaches_the_app() -> None:
    assert _post(_limit(), [{"type": "http.request", "body": b"0123456789"}], 10) == 200


def test_a_declared_length_past_the_limit_is_refused_unread() -> None:
    assert _post(_limit(), [], 11) == 413


def test_streamed_bytes_past_the_limit_are_refused() -> None:
    chunk: Message = {"type": "http.request", "body": b"012345", "more_body": True}
    assert _post(_limit(), [chunk, chunk]) == 413


def test_a_body_that_stops_arriving_gets_408() -> None:
    chunk: Message = {"type": "http.request", "body": b"01", "more_body": True}
    assert _post(_limit(seconds=0.05), [chunk]) == 408


def test_reads_pass_untouched() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(receive)

    seen: list[Receive] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        pass

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    asyncio.run(BodyLimit(app)(scope, receive, send))
    assert seen == [receive]
