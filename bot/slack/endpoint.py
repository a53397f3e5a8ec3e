"""`POST /slack/events`: the body is read within a limit and its signature checked before bolt
sees any of it, so nothing from an unsigned request is ever used, answered or logged."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.internals import parse_body
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

log = logging.getLogger(__name__)

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
REFUSED = {"error": "invalid request"}
# Slack's rule: a request signed more than five minutes ago may be a replay.
FRESH_SECONDS = 300


def _readable(body: bytes, content_type: str | None) -> bool:
    """A signed body bolt can read: UTF-8 whose JSON or `payload`, read by bolt's own rules,
    is an object."""
    try:
        return isinstance(parse_body(body.decode("utf-8"), content_type), dict)
    except (ValueError, RecursionError):
        return False


def _is_ssl_check(body: bytes) -> bool:
    # Slack's certificate check carries no signature and wants nothing but a 200.
    return len(body) < 200 and parse_qs(body.decode("latin-1")).get("ssl_check") == ["1"]


class SlackEndpoint:
    """Reads, verifies and only then dispatches a request to the bolt app."""

    def __init__(
        self, app: AsyncApp, signing_secret: str, *, now: Callable[[], float] = time.time
    ) -> None:
        self.app = app
        self._key = signing_secret.encode()
        self._now = now

    def verified(self, body: bytes, timestamp: str | None, signature: str | None) -> bool:
        """True when the request carries a fresh, well-formed, correct v0 signature."""
        if timestamp is None or signature is None:
            return False
        # Checked before any use: int() of "abc" or compare_digest of non-ASCII would raise.
        if not (_TIMESTAMP.fullmatch(timestamp) and _SIGNATURE.fullmatch(signature)):
            return False
        if abs(self._now() - int(timestamp)) > FRESH_SECONDS:
            return False
        # Over the raw bytes: a body that is not UTF-8 is still checked, then refused as 400.
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self._key, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    async def handle(self, request: Request) -> Response:
        """Answer 401 without a valid signature and 400 for a signed body nobody can read;
        otherwise let bolt acknowledge and run it (bot.body_limit caps the size first)."""
        body = await request.body()
        headers = request.headers
        if not self.verified(
            body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
        ):
            if _is_ssl_check(body):
                return PlainTextResponse("")
            # Nothing of an unsigned request is logged: not its body, not who it names.
            log.info("Slack request refused: missing or invalid signature")
            return JSONResponse(REFUSED, status_code=401)
        if not _readable(body, headers.get("content-type")):
            log.warning("signed Slack request with a body Herald cannot read: refused")
            return JSONResponse({"error": "malformed body"}, status_code=400)
        bolt_response = await self.app.async_dispatch(to_async_bolt_request(request, body))
        return to_starlette_response(bolt_response)
