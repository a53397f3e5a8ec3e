"""`POST /slack/events`: the signature headers are checked before the body is read, the
signature before bolt sees any of it, so nothing from an unsigned request is ever used,
answered or logged."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.internals import parse_body
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

log = logging.getLogger(__name__)

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
REFUSED = {"error": "invalid request"}
# Slack's rule: a request signed more than five minutes ago may be a replay.
FRESH_SECONDS = 300


# Fields bolt and Herald read as objects (or lists of objects) before any listener runs.
_OBJECTS = ("event", "view", "container", "message", "user", "channel", "team")
_LISTS = ("actions", "authorizations")


def _well_shaped(parsed: dict[str, Any]) -> bool:
    # A slash command's form has none of these: its fields are user_id, channel_id, …
    if any(not isinstance(parsed.get(key), dict | None) for key in _OBJECTS):
        return False
    return all(
        isinstance(parsed.get(key) or [], list)
        and all(isinstance(item, dict) for item in parsed.get(key) or [])
        for key in _LISTS
    )


def _readable(body: bytes, content_type: str | None) -> bool:
    """A signed body bolt can read: UTF-8 whose JSON or `payload`, read by bolt's own rules,
    is an object with objects where objects are expected."""
    try:
        parsed = parse_body(body.decode("utf-8"), content_type)
    except (ValueError, RecursionError):
        return False
    return isinstance(parsed, dict) and _well_shaped(parsed)


# Slack's certificate check carries no signature and wants nothing but a 200; its body is
# `ssl_check=1&token=…`, so only a body this small is read to look for it.
SSL_CHECK_BYTES = 200


def _is_ssl_check(body: bytes) -> bool:
    return parse_qs(body.decode("latin-1")).get("ssl_check") == ["1"]


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isascii() and value.isdigit() else None


class SlackEndpoint:
    """Reads, verifies and only then dispatches a request to the bolt app."""

    def __init__(
        self, app: AsyncApp, signing_secret: str, *, now: Callable[[], float] = time.time
    ) -> None:
        self.app = app
        self._key = signing_secret.encode()
        self._now = now

    def fresh(self, timestamp: str | None, signature: str | None) -> bool:
        """True when the signature headers are well formed and signed in the last 5 minutes."""
        if timestamp is None or signature is None:
            return False
        # Checked before any use: int() of "abc" or compare_digest of non-ASCII would raise.
        if not (_TIMESTAMP.fullmatch(timestamp) and _SIGNATURE.fullmatch(signature)):
            return False
        return abs(self._now() - int(timestamp)) <= FRESH_SECONDS

    def verified(self, body: bytes, timestamp: str | None, signature: str | None) -> bool:
        """True when the request carries a fresh, well-formed, correct v0 signature."""
        if not self.fresh(timestamp, signature):
            return False
        assert timestamp is not None
        assert signature is not None
        # Over the raw bytes: a body that is not UTF-8 is still checked, then refused as 400.
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self._key, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    async def handle(self, request: Request) -> Response:
        """Answer 401 without a valid signature and 400 for a signed body nobody can read;
        otherwise let bolt acknowledge and run it (bot.body_limit caps size and time)."""
        timestamp = request.headers.get("x-slack-request-timestamp")
        signature = request.headers.get("x-slack-signature")
        if not self.fresh(timestamp, signature):
            # Not even read, so an unsigned client cannot hold a megabyte per connection.
            declared = _declared_length(request)
            if declared is not None and declared < SSL_CHECK_BYTES:
                body = await self._body(request)
                if body is not None and _is_ssl_check(body):
                    return PlainTextResponse("")
            return _refused()
        body = await self._body(request)
        if body is None:
            return Response(status_code=400)
        if not self.verified(body, timestamp, signature):
            return _refused()
        if not _readable(body, request.headers.get("content-type")):
            log.warning("signed Slack request with a body Herald cannot read: refused")
            return JSONResponse({"error": "malformed body"}, status_code=400)
        try:
            bolt_response = await self.app.async_dispatch(to_async_bolt_request(request, body))
        except Exception as error:
            # bolt reads some fields before any listener runs; a signed request with those of
            # the wrong shape is malformed, not Herald's failure.
            log.warning("signed Slack request bolt could not read: %s", type(error).__name__)
            return JSONResponse({"error": "malformed body"}, status_code=400)
        return to_starlette_response(bolt_response)

    async def _body(self, request: Request) -> bytes | None:
        try:
            return await request.body()
        except ClientDisconnect:
            log.debug("Slack request: the client went away before sending its body")
            return None


def _refused() -> Response:
    # Nothing of an unsigned request is logged: not its body, not who it names.
    log.info("Slack request refused: missing or invalid signature")
    return JSONResponse(REFUSED, status_code=401)
