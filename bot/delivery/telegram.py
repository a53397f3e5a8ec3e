"""Telegram channels: the opening as a post, updates as replies, the opening kept current."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar, assert_never

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.delivery.errors import (
    ChannelGone,
    ChatMoved,
    RateLimited,
    Rejected,
    Unavailable,
)
from bot.delivery.jobs import DeliveryJob, Destination
from bot.delivery.limits import RateLimits
from bot.delivery.operations import (
    EditMessages,
    Operation,
    Outcome,
    PostCorrection,
    PostOpening,
    Progress,
    RefreshOpening,
    ReplyInThread,
    Sent,
    outcome_of,
)
from bot.delivery.telegram_format import post_html, root_html, visible
from bot.settings import Settings
from bot.telegram.buttons import incident_keyboard, update_keyboard
from bot.telegram.thread import incident_reply_html, incident_root_html, nudge_html
from storage.models import Platform, UpdateKind

log = logging.getLogger(__name__)
T = TypeVar("T")

GONE = ("chat not found", "bot was kicked", "bot is not a member", "have no rights", "blocked")
HARMLESS_EDIT = ("message is not modified", "message to edit not found", "message can't be edited")
# Shown in a message left over when a shorter correction needs fewer messages
# and Telegram no longer lets the bot delete it (after 48 hours).
LEFT_OVER = "—"


def chat_id(address: str) -> int | str:
    """Numeric chat ids as int, @channelnames as they are."""
    try:
        return int(address)
    except ValueError:
        return address


def _ids(ref: str | None) -> list[int]:
    return [int(part) for part in ref.split(",")] if ref else []


def _ref(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def _first_id(ref: str | None) -> int | None:
    ids = _ids(ref)
    return ids[0] if ids else None


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _short(error: Exception) -> str:
    """The error without the page a proxy answered with (PTB appends it whole)."""
    return str(error).split(". Parsing the server response", 1)[0][:200]


def build_sender(settings: Settings, limits: RateLimits) -> TelegramSender:
    """The Telegram sender on TELEGRAM_BOT_TOKEN (the registry builds it from here)."""
    assert settings.telegram_bot_token is not None
    return TelegramSender(
        settings.telegram_bot_token.get_secret_value(),
        api_url=settings.telegram_api_url,
        limits=limits,
        public_url=settings.public_url,
    )


class TelegramSender:
    """Sends through python-telegram-bot's Bot, pointed at TELEGRAM_API_URL."""

    def __init__(
        self, token: str, *, api_url: str, limits: RateLimits, public_url: str = ""
    ) -> None:
        self._requests = (
            HTTPXRequest(connection_pool_size=128, read_timeout=15, write_timeout=15),
            HTTPXRequest(),  # getUpdates', which the sender never calls
        )
        self.bot = Bot(
            token,
            base_url=api_url,
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )
        self.limits = limits
        self.public_url = public_url
        # 429s from Telegram apply to the whole bot token, so the token is the scope.
        self._scope = "telegram:" + hashlib.sha256(token.encode()).hexdigest()[:12]

    def scope(self, destination: Destination) -> str:
        """Every Telegram destination shares the bot token's limits."""
        return self._scope

    async def _call(self, address: str, call: Callable[[], Awaitable[T]]) -> T:
        async with self.limits.turn(Platform.TELEGRAM, address, self._scope):
            return await self._answered(call)

    async def _answered(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except RetryAfter as error:
            seconds = _seconds(error.retry_after)
            await self.limits.pause(self._scope, seconds)
            raise RateLimited(str(error), retry_after=seconds, scope=self._scope) from error
        except ChatMigrated as error:
            raise ChatMoved(str(error), address=str(error.new_chat_id)) from error
        except Forbidden as error:
            raise ChannelGone(f"Forbidden: {error.message}") from error
        except BadRequest as error:
            if any(word in error.message.lower() for word in GONE):
                raise ChannelGone(f"Bad Request: {error.message}") from error
            raise
        except (TimedOut, NetworkError) as error:
            raise Unavailable(f"{type(error).__name__}: {_short(error)}") from error
        except TelegramError as error:
            # Anything else, such as a page that is not JSON with status 200 (a captive
            # portal, a wrong TELEGRAM_API_URL): retried with back-off, up to the horizon.
            raise Unavailable(f"{type(error).__name__}: {_short(error)}") from error

    async def _post(
        self,
        address: str,
        text: str,
        reply_to: int | None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> Message:
        target = chat_id(address)
        reply = (
            ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
            if reply_to
            else None
        )
        options: dict[str, Any] = {
            "chat_id": target,
            "reply_parameters": reply,
            "link_preview_options": LinkPreviewOptions(is_disabled=True),
            "reply_markup": markup,
        }
        try:
            return await self._call(
                address,
                lambda: self.bot.send_message(text=text, parse_mode=ParseMode.HTML, **options),
            )
        except BadRequest as error:
            if "can't parse entities" not in error.message.lower():
                raise Rejected(f"Bad Request: {error.message}") from error
            log.warning("telegram refused our HTML (%s); sending plain text", error.message)
            try:
                return await self._call(
                    address, lambda: self.bot.send_message(text=visible(text), **options)
                )
            except BadRequest as plain_error:
                raise Rejected(f"Bad Request: {plain_error.message}") from plain_error

    async def _edit(
        self,
        address: str,
        message_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        try:
            await self._call(
                address,
                lambda: self.bot.edit_message_text(
                    text=text,
                    chat_id=chat_id(address),
                    message_id=message_id,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    reply_markup=markup,
                ),
            )
        except BadRequest as error:
            if not any(word in error.message.lower() for word in HARMLESS_EDIT):
                raise Rejected(f"Bad Request: {error.message}") from error

    async def _delete(self, address: str, message_id: int) -> None:
        try:
            await self._call(
                address,
                lambda: self.bot.delete_message(chat_id=chat_id(address), message_id=message_id),
            )
        except BadRequest as error:
            if "not found" in error.message.lower():
                return
            log.info("could not delete message %s (%s); blanking it", message_id, error.message)
            await self._edit(address, message_id, LEFT_OVER)

    async def _rewrite(
        self,
        job: DeliveryJob,
        ref: str,
        texts: list[str],
        markup: InlineKeyboardMarkup | None,
        progress: Progress,
    ) -> Sent:
        """Make the messages in `ref` read `texts`: edit, then post or remove the difference."""
        address = job.destination.address
        ids = _ids(ref)
        if not ids:
            return Sent()
        for index, (message_id, text) in enumerate(zip(ids, texts, strict=False)):
            await self._edit(address, message_id, text, markup if index == 0 else None)
        for text in texts[len(ids) :]:
            message = await self._post(address, text, ids[0])
            ids.append(message.message_id)
            progress(_ref(ids))
        for message_id in ids[len(texts) :]:
            await self._delete(address, message_id)
        if len(texts) == len(_ids(ref)):
            return Sent()
        return Sent(_ref(ids[: len(texts)]), moved=True)

    async def _post_all(
        self,
        job: DeliveryJob,
        texts: list[str],
        markup: InlineKeyboardMarkup | None,
        reply_to: int | None,
        progress: Progress,
    ) -> Sent:
        """Post the parts of a post in order, going on after any already posted."""
        sent = _ids(job.progress)
        for text in texts[len(sent) :]:
            message = await self._post(
                job.destination.address,
                text,
                reply_to or (sent[0] if sent else None),
                markup if not sent else None,
            )
            sent.append(message.message_id)
            progress(_ref(sent))
        return Sent(_ref(sent))

    def _root(self, job: DeliveryJob) -> tuple[list[str], InlineKeyboardMarkup | None]:
        facts = job.facts
        if job.destination.is_internal and facts is not None:
            keyboard = incident_keyboard(job.incident_id, is_open=not facts.status.is_closed)
            return incident_root_html(job, self.public_url), keyboard
        return root_html(job.root), None

    def _reply(self, job: DeliveryJob) -> tuple[list[str], InlineKeyboardMarkup | None]:
        facts = job.facts
        if job.destination.is_ops:
            return self._nudge(job)
        if job.destination.is_internal and facts is not None:
            if job.update_kind == UpdateKind.NUDGE:
                return self._nudge(job)
            return incident_reply_html(job), None
        return post_html(job.post), None

    def _nudge(self, job: DeliveryJob) -> tuple[list[str], InlineKeyboardMarkup | None]:
        facts = job.facts
        is_open = facts is not None and not facts.status.is_closed
        return nudge_html(job), update_keyboard(job.incident_id) if is_open else None

    async def perform(self, operation: Operation, progress: Progress) -> Outcome:
        """Post the opening or a reply, or edit messages already posted."""
        return await outcome_of(self._carry_out(operation, progress))

    async def _carry_out(self, operation: Operation, progress: Progress) -> Sent:
        job = operation.job
        match operation:
            case PostOpening():
                return await self._post_all(job, *self._root(job), None, progress)
            case ReplyInThread(thread=thread):
                return await self._post_all(job, *self._reply(job), _first_id(thread), progress)
            case RefreshOpening(ref=ref) | EditMessages(ref=ref, opening=True):
                return await self._rewrite(job, ref, *self._root(job), progress)
            case EditMessages(ref=ref):
                return await self._rewrite(job, ref, *self._reply(job), progress)
            case PostCorrection():
                raise Rejected("Telegram messages are corrected by editing them")
            case _:
                assert_never(operation)

    async def probe(self, destination: Destination, text: str) -> str:
        """Send a test message."""
        message = await self._post(destination.address, text, None)
        return f"message {message.message_id} posted"

    async def close(self) -> None:
        """Close the HTTP connections."""
        # Bot.shutdown() closes nothing for a bot never initialize()d (a getMe the sender
        # does not need), so the requests it was given are closed here.
        for request in self._requests:
            try:
                await request.shutdown()
            except TelegramError:
                log.debug("closing a Telegram connection pool failed", exc_info=True)
