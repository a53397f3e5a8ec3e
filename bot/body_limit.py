"""Request bodies are refused with 413 past a limit per path, before they are read whole, and
with 408 when they take too long to arrive."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# Slack and Telegram post a few kilobytes; 1 MiB leaves room for any real payload.
WEBHOOK_LIMIT = MIB
# Forms and anything else a browser may post are far smaller.
DEFAULT_LIMIT = 64 * 1024
LIMITS = {"/slack/events": WEBHOOK_LIMIT, "/telegram/webhook": WEBHOOK_LIMIT}
# uvicorn sets no deadline on a body: a client sending a byte a minute would hold its
# connection and buffer for ever.
BODY_SECONDS = 10.0


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a declared or streamed body past its path's limit gets 413."""

    def __init__(
        self,
        app: ASGIApp,
        limits: Mapping[str, int] = LIMITS,
        default: int = DEFAULT_LIMIT,
        seconds: float = BODY_SECONDS,
    ) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body as the app reads it."""
        # No route reads the body of a GET or HEAD: the status page's reads pass untouched.
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0
        started = complete = False
        deadline = asyncio.get_running_loop().time() + self.seconds

        async def counted() -> Message:
            nonlocal seen, complete
            if complete:  # only waiting for a disconnect now: no deadline
                return await receive()
            try:
                # A deadline on this task, not wait_for's task per receive: every POST
                # passes here, and the event loop that acks Slack pays for each task.
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
                complete = not message.get("more_body", False)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)
        except _TooSlow:
            if started:
                raise
            log.info("request to %s refused: body not sent within %gs", scope["path"], self.seconds)
            await _answer(scope, receive, send, 408, "Request body not sent in time.")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        log.info("request to %s refused: body over %d bytes", scope["path"], limit)
        await _answer(scope, receive, send, 413, f"Request body too large: at most {limit} bytes.")


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
    response = PlainTextResponse(text, status_code=status, headers={"Connection": "close"})
    await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
