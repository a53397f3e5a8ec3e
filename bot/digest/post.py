"""Post the weekly digest, its text and its chart, to DIGEST_SLACK_CHANNEL and DIGEST_TELEGRAM_CHAT.

Slack gets one file upload with the text as its comment; Telegram gets the text as
messages and the chart as a photo replying to the first. A 429 is waited out (up to
LONGEST_WAIT per destination), a network error or a 5xx retried with back-off; waiting
goes through `wait`, so tests never sleep.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from typing import TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from telegram import Bot, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.delivery.errors import (
    DeliveryError,
    RateLimited,
    Rejected,
    Unavailable,
    retry_after_seconds,
)
from bot.delivery.slack_format import mrkdwn_escape
from bot.delivery.telegram import chat_id
from bot.delivery.telegram_format import split_text
from bot.logs import REDACTED, REDACTOR
from bot.settings import Settings
from bot.slack.http import SlackHttp
from bot.telegram.replies import PIECE, pack, utf16_len
from commands.errors import Refused

log = logging.getLogger(__name__)
T = TypeVar("T")
Wait = Callable[[float], Awaitable[None]]

LONGEST_WAIT = 60.0  # seconds of waiting, per destination, before its failure is final
BACKOFF = (1.0, 2.0, 4.0)  # before each retry after a network error or a 5xx
CAPTION_LIMIT = 1000  # Telegram allows 1,024 characters; a margin for the markup
HEADLINE_LIMIT = 300
SLACK_HINTS = {
    "channel_not_found": "check DIGEST_SLACK_CHANNEL, and invite Herald if the channel is private",
    "not_in_channel": "invite Herald to the channel",
    "is_archived": "the channel is archived",
    "missing_scope": "add the files:write scope to the Slack app and reinstall it",
    "invalid_auth": "check SLACK_BOT_TOKEN",
    "not_authed": "check SLACK_BOT_TOKEN",
    "token_revoked": "check SLACK_BOT_TOKEN",
}


class DigestNotPosted(Refused):
    """The digest did not reach every destination; `retry` when trying again later cannot
    post anything twice (nothing reached the failed ones, and the cause may pass)."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class DigestPost:
    """What is posted: a title, the plain text, and the chart as PNG bytes."""

    title: str
    text: str
    png: bytes
    filename: str


def headline(digest: DigestPost) -> tuple[str, str]:
    """The line shown in bold and the text under it: the text's first line when it starts
    with the title (as `herald digest` writes it), else the title."""
    first, _, rest = digest.text.partition("\n")
    if first.startswith(digest.title) and len(first) <= HEADLINE_LIMIT:
        return first, rest
    return digest.title[:HEADLINE_LIMIT], digest.text


@dataclass(frozen=True)
class _Destination:
    name: str  # "Slack C0123456789", "Telegram @status"
    post: Callable[[], Awaitable[str]]  # posts; returns what it did
    tokens: tuple[str, ...]  # never shown


async def post_digest(
    settings: Settings,
    title: str,
    text: str,
    png: bytes,
    filename: str,
    *,
    wait: Wait = asyncio.sleep,
) -> list[str]:
    """Post the digest to every destination set; one line per destination says where it went.

    Refused (one line) when no destination is set, when one lacks its bot token (then
    nothing is posted), or, after every destination was tried, when any of them failed.
    """
    digest = DigestPost(title, text, png, filename)
    destinations = _destinations(settings, digest, wait)
    outcomes = await asyncio.gather(*(_attempt(d) for d in destinations))
    posted = [line for ok, line, _ in outcomes if ok]
    failed = [line for ok, line, _ in outcomes if not ok]
    if failed:
        also = f" (posted: {'; '.join(posted)})" if posted else ""
        retry = all(retry for ok, _, retry in outcomes if not ok)
        raise DigestNotPosted(f"digest not posted to {'; '.join(failed)}{also}", retry=retry)
    return posted


def check_destinations(settings: Settings) -> None:
    """Refuse in one line, before any work, a digest with nowhere to go or a missing token."""
    missing = []
    if settings.digest_slack_channel and settings.slack_bot_token is None:
        missing.append("SLACK_BOT_TOKEN (DIGEST_SLACK_CHANNEL is set)")
    if settings.digest_telegram_chat and settings.telegram_bot_token is None:
        missing.append("TELEGRAM_BOT_TOKEN (DIGEST_TELEGRAM_CHAT is set)")
    if missing:
        raise DigestNotPosted(f"digest not posted: set {' and '.join(missing)}", retry=False)
    if not (settings.digest_slack_channel or settings.digest_telegram_chat):
        raise DigestNotPosted(
            "digest has nowhere to go: set DIGEST_SLACK_CHANNEL and/or DIGEST_TELEGRAM_CHAT",
            retry=False,
        )


def _destinations(settings: Settings, digest: DigestPost, wait: Wait) -> list[_Destination]:
    check_destinations(settings)
    destinations: list[_Destination] = []
    channel, chat = settings.digest_slack_channel, settings.digest_telegram_chat
    if channel and settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
        post = functools.partial(
            _post_to_slack, token, settings.slack_api_url, channel, digest, wait
        )
        destinations.append(_Destination(f"Slack {channel}", post, (token,)))
    if chat and settings.telegram_bot_token is not None:
        token = settings.telegram_bot_token.get_secret_value()
        post = functools.partial(
            _post_to_telegram, token, settings.telegram_api_url, chat, digest, wait
        )
        destinations.append(_Destination(f"Telegram {chat}", post, (token,)))
    return destinations


async def _attempt(destination: _Destination) -> tuple[bool, str, bool]:
    """Post to one destination: (True, where and what, _) or (False, where and why not,
    whether a later attempt is safe and may succeed)."""
    try:
        line = await destination.post()
    except DeliveryError as error:
        reason = _scrubbed(error.reason, destination.tokens)
        # INFO: the caller gets the reason in the Refused, and says it once (CLI) or logs it.
        log.info("digest not posted to %s: %s", destination.name, reason)
        return False, f"{destination.name}: {reason}", isinstance(error, Unavailable)
    except Exception as error:
        # A bug, not the platform: the traceback goes to the log (redacted), not to the user.
        log.exception("digest not posted to %s", destination.name)
        return (
            False,
            f"{destination.name}: unexpected {type(error).__name__}, see Herald's log",
            False,
        )
    log.info("digest posted to %s: %s", destination.name, line)
    return True, f"{destination.name}: {line}", False


def _scrubbed(text: str, tokens: tuple[str, ...]) -> str:
    """A reason fit to show: one line, at most 300 characters, no token in it."""
    for token in tokens:
        text = text.replace(token, REDACTED)
    return " ".join(REDACTOR.clean(text).split())[:300]


async def _patiently(
    call: Callable[[], Awaitable[T]],
    judge: Callable[[Exception], DeliveryError | None],
    wait: Wait,
    what: str,
) -> T:
    """Make one platform call, waiting out 429s and retrying network errors and 5xx with
    back-off, up to LONGEST_WAIT in all; raise the DeliveryError of a failure that stays.

    `judge` says what a platform's exception means; None lets it through as a bug.
    """
    waited, retries = 0.0, 0
    while True:
        try:
            return await call()
        except Exception as error:
            failure = judge(error)
            if failure is None:
                raise
            if isinstance(failure, RateLimited):
                delay = failure.retry_after
                if waited + delay > LONGEST_WAIT:
                    raise Unavailable(
                        f"still rate limited after waiting {waited:.0f} s "
                        f"(asked to wait {delay:.0f} s more)"
                    ) from error
            elif isinstance(failure, Unavailable) and retries < len(BACKOFF):
                delay = BACKOFF[retries]
                retries += 1
            else:
                raise failure from error
            log.info("%s: %s; trying again in %.0f s", what, failure.reason, delay)
            waited += delay
            await wait(delay)


# ---- Slack


async def _post_to_slack(
    token: str, api_url: str, channel: str, digest: DigestPost, wait: Wait
) -> str:
    """One file upload: the chart, with the text as its comment (escaped: nobody is pinged)."""
    http = SlackHttp(token, api_url)
    bold, body = headline(digest)
    comment = f"*{mrkdwn_escape(bold)}*\n{mrkdwn_escape(body)}"

    async def upload() -> object:
        client = http.client()
        client.retry_handlers = []  # _patiently retries, through `wait`; no second layer
        return await client.files_upload_v2(
            channel=channel,
            file=digest.png,
            filename=digest.filename,
            title=digest.title,
            initial_comment=comment,
        )

    try:
        await _patiently(upload, _slack_failure, wait, f"digest to Slack {channel}")
    finally:
        await http.close()
    return f"posted with chart {digest.filename}"


def _slack_failure(error: Exception) -> DeliveryError | None:
    """What an exception from slack_sdk means for the digest."""
    if isinstance(error, SlackApiError):
        response = error.response
        status = response.status_code
        code = str(response.get("error") or f"HTTP {status}")
        if status == 429:
            seconds = retry_after_seconds(response.headers.get("Retry-After"), default=30)
            return RateLimited(code, retry_after=seconds, scope="slack")
        if status >= 500:
            return Unavailable(f"{code} (HTTP {status})")
        hint = SLACK_HINTS.get(code)
        return Rejected(f"{code} ({hint})" if hint else code)
    if isinstance(error, SlackRequestError):
        if str(error).startswith("Failed to upload a file"):  # the POST of the bytes
            status = str(error).split("status: ", 1)[-1].split(",", 1)[0]
            return Unavailable(f"the file upload answered HTTP {status}")
        return Rejected(str(error))
    if isinstance(error, aiohttp.ClientError | TimeoutError):
        return Unavailable(f"unreachable ({type(error).__name__})")
    return None


# ---- Telegram


async def _post_to_telegram(
    token: str, api_url: str, chat: str, digest: DigestPost, wait: Wait
) -> str:
    """The text as HTML messages (every piece escaped), then the chart replying to the first."""
    # A chart upload on a slow link takes a while; a time-out is final (see _telegram_failure).
    request = HTTPXRequest(read_timeout=60, write_timeout=60)
    bot = Bot(token, base_url=api_url, request=request)
    target = chat_id(chat)
    what = f"digest to Telegram {chat}"
    texts = _telegram_texts(digest)
    sent: list[Message] = []
    try:
        for text in texts:
            send = functools.partial(
                bot.send_message,
                target,
                text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
            try:
                sent.append(await _patiently(send, _telegram_failure, wait, what))
            except DeliveryError as error:
                if not sent:
                    raise
                raise Rejected(
                    f"{len(sent)} of {len(texts)} messages posted, then {error.reason}"
                ) from error
        photo = functools.partial(
            bot.send_photo,
            target,
            digest.png,
            filename=digest.filename,
            caption=_caption(digest.title),
            parse_mode=ParseMode.HTML,
            reply_parameters=ReplyParameters(sent[0].message_id, allow_sending_without_reply=True),
        )
        try:
            await _patiently(photo, _telegram_failure, wait, what)
        except DeliveryError as error:
            raise Rejected(f"text posted, chart not: {error.reason}") from error
    finally:
        try:
            await bot.shutdown()
        except TelegramError:
            log.debug("closing the Telegram client failed", exc_info=True)
    count = f"{len(texts)} message{'s' if len(texts) > 1 else ''}"
    return f"posted in {count} with chart {digest.filename}"


def _telegram_texts(digest: DigestPost) -> list[str]:
    """The headline in bold and the text, escaped, in as few messages as fit under 4,096."""
    bold, body = headline(digest)
    pieces = [escape(piece, quote=False) for piece in split_text(body, PIECE) if piece]
    return pack([f"<b>{escape(bold, quote=False)}</b>", *pieces])


def _caption(title: str) -> str:
    """The title in bold, cut to fit a photo caption."""
    if utf16_len(title) > CAPTION_LIMIT:
        while utf16_len(title) > CAPTION_LIMIT - 1:
            title = title[:-1]
        title += "…"
    return f"<b>{escape(title, quote=False)}</b>"


def _telegram_failure(error: Exception) -> DeliveryError | None:
    """What an exception from python-telegram-bot means for the digest."""
    if isinstance(error, RetryAfter):
        wait = error.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return RateLimited(error.message, retry_after=seconds, scope="telegram")
    if isinstance(error, ChatMigrated):
        return Rejected(
            f"the group is now a supergroup; set DIGEST_TELEGRAM_CHAT={error.new_chat_id}"
        )
    if isinstance(error, InvalidToken):
        return Rejected("the bot token was refused; check TELEGRAM_BOT_TOKEN")
    if isinstance(error, Forbidden):
        return Rejected(f"{error.message} (add the bot to the chat, as an admin in a channel)")
    if isinstance(error, BadRequest):
        return Rejected(error.message)
    if isinstance(error, TimedOut):
        # The message may have been posted before the answer was lost: not sent again.
        return Rejected("Telegram did not answer in time; it may have been posted")
    if isinstance(error, NetworkError):  # BadRequest was matched above
        return Unavailable(f"unreachable ({str(error)[:200]})")
    if isinstance(error, TelegramError):  # a page that is not JSON: a proxy, an outage
        return Unavailable(str(error)[:200])
    return None
