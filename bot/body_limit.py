"""Request bodies are refused with 413 past a limit per path, before they are read whole."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# Chat platforms post a few kilobytes; 1 MiB leaves room for any real payload.
WEBHOOK_LIMIT = MIB
# Forms and anything else a browser may post are far smaller.
DEFAULT_LIMIT = 64 * 1024
LIMITS = {"/slack/events": WEBHOOK_LIMIT, "/telegram/webhook": WEBHOOK_LIMIT}


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a declared or streamed body past its path's limit gets 413."""

    def __init__(
        self, app: ASGIApp, limits: Mapping[str, int] = LIMITS, default: int = DEFAULT_LIMIT
    ) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body as the app reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
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

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        log.info("request to %s refused: body over %d bytes", scope["path"], limit)
        response = PlainTextResponse(
            f"Request body too large: at most {limit} bytes.",
            status_code=413,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
