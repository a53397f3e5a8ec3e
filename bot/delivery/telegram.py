"""Telegram channels: the opening as a post, updates as replies, the opening kept current."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, LinkPreviewOptions, Message, ReplyParameters
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

from bot.delivery.errors import ChannelGone, ChatMoved, RateLimited, Rejected, Unavailable
from bot.delivery.jobs import DeliveryJob, Destination
from bot.delivery.limits import RateLimits
from bot.delivery.telegram_format import post_html, root_html, visible
from storage.models import Platform

log = logging.getLogger(__name__)
T = TypeVar("T")

GONE = ("chat not found", "bot was kicked", "bot is not a member", "have no rights", "blocked")
HARMLESS_EDIT = ("message is not modified", "message to edit not found", "message can't be edited")


def chat_id(address: str) -> int | str:
    """Numeric chat ids as int, @channelnames as they are."""
    try:
        return int(address)
    except ValueError:
        return address


def _first_id(ref: str | None) -> int | None:
    return int(ref.split(",")[0]) if ref else None


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """Sends through python-telegram-bot's Bot, pointed at TELEGRAM_API_URL."""

    def __init__(self, token: str, *, api_url: str, limits: RateLimits) -> None:
        request = HTTPXRequest(connection_pool_size=128, read_timeout=15, write_timeout=15)
        self.bot = Bot(token, base_url=api_url, request=request)
        self.limits = limits
        # 429s from Telegram apply to the whole bot token, so the token is the scope.
        self._scope = "telegram:" + hashlib.sha256(token.encode()).hexdigest()[:12]

    def scope(self, destination: Destination) -> str:
        """Every Telegram destination shares the bot token's limits."""
        return self._scope

    async def _call(self, address: str, call: Callable[[], Awaitable[T]]) -> T:
        await self.limits.acquire(Platform.TELEGRAM, address, self._scope)
        try:
            return await call()
        except RetryAfter as error:
            seconds = _seconds(error.retry_after)
            self.limits.pause(self._scope, seconds)
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
            raise Unavailable(f"{type(error).__name__}: {error}") from error

    async def _post(self, address: str, text: str, reply_to: int | None) -> Message:
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

    async def _edit(self, address: str, message_id: int, text: str) -> None:
        try:
            await self._call(
                address,
                lambda: self.bot.edit_message_text(
                    text=text,
                    chat_id=chat_id(address),
                    message_id=message_id,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                ),
            )
        except BadRequest as error:
            if not any(word in error.message.lower() for word in HARMLESS_EDIT):
                raise Rejected(f"Bad Request: {error.message}") from error

    async def send(self, job: DeliveryJob) -> str | None:
        """Post the update (as the thread's root or a reply), or edit it for a correction."""
        address = job.destination.address
        if job.is_root_refresh:
            root_id = _first_id(job.root.ref)
            if root_id is not None and not job.is_root:
                await self._edit(address, root_id, root_html(job.root)[0])
            return None
        if job.is_correction:
            message_id = _first_id(job.root.ref if job.is_root else job.own_ref)
            if message_id is not None:
                texts = root_html(job.root) if job.is_root else post_html(job.post)
                await self._edit(address, message_id, texts[0])
            return None
        texts = root_html(job.root) if job.is_root else post_html(job.post)
        reply_to = None if job.is_root else _first_id(job.root.ref)
        sent: list[int] = []
        for text in texts:
            message = await self._post(address, text, reply_to or (sent[0] if sent else None))
            sent.append(message.message_id)
        return ",".join(str(i) for i in sent)

    async def probe(self, destination: Destination, text: str) -> str:
        """Send a test message."""
        message = await self._post(destination.address, text, None)
        return f"message {message.message_id} posted"

    async def close(self) -> None:
        """Close the HTTP connections."""
        try:
            await self.bot.shutdown()
        except TelegramError:
            log.debug("telegram bot shutdown failed", exc_info=True)
