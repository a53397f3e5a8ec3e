"""Customers follow services in a private chat with the bot: /start, buttons, /subscribe,
/unsubscribe, /lang. Thin: it reads the chat and the person's language, calls
commands.subscriptions, and shows what comes back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.ext import ContextTypes

from bot.frontend.answers import Refusal, look
from bot.telegram.access import Place
from bot.telegram.handlers import (
    TelegramHandlers,
    answer_query,
    command_text,
    help_pieces,
    your_id,
)
from bot.telegram.replies import refusal_html
from commands.context import Context
from commands.subscriber_words import WORDS
from commands.subscriptions import (
    Subscription,
    describe,
    set_language,
    subscribe,
    toggle,
    unsubscribe,
    welcome,
)
from commands.wording import pick_locale
from storage.models import Platform

FOLLOW = "follow"  # button data: follow:KEY


class Change(Protocol):
    """subscribe or unsubscribe."""

    def __call__(
        self,
        ctx: Context,
        *,
        platform: Platform,
        address: str,
        locale: str,
        keys: Sequence[str] = (),
    ) -> Subscription: ...


KEY_LONGEST = 40


def follow_data(key: str) -> str:
    """The data of the button that follows or stops following a service."""
    return f"{FOLLOW}:{key}"


def subscription_html(subscription: Subscription) -> tuple[list[str], InlineKeyboardMarkup]:
    """What the person follows, under what just happened, with a button per service."""
    lines = [subscription.said, describe(subscription)]
    text = "\n".join(escape(line, quote=False) for line in lines if line)
    rows = [
        [
            InlineKeyboardButton(
                f"{'✅' if choice.followed else '▫️'} {choice.name}",
                callback_data=follow_data(choice.key),
            )
        ]
        for choice in subscription.choices
    ]
    return [text], InlineKeyboardMarkup(rows)


def _locale(user: User) -> str:
    return pick_locale(user.language_code)


class SubscriberHandlers:
    """The private-chat listeners for customers, answering through the front-end's own."""

    def __init__(self, front: TelegramHandlers) -> None:
        self.front = front

    def _in_private(self, update: Update) -> bool:
        message = update.message
        return message is not None and self.front.places.place_of(message.chat) == Place.PRIVATE

    async def _private(self, update: Update) -> Message | None:
        """The message, when it comes from a private chat and is to be acted on."""
        if not self._in_private(update):
            return None
        return await self.front.admitted(update)

    async def _change(self, message: Message, work: Callable[[Context], Subscription]) -> None:
        assert message.from_user is not None
        person = self.front.person_in(message.from_user, message)
        result = await look(
            self.front.runner, person, work, started=self.front.monotonic(), changing=True
        )
        if isinstance(result, Refusal):
            await self.front.say(message, refusal_html(result))
            return
        pieces, markup = subscription_html(result)
        await self.front.say(message, pieces, markup)

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/start` in a private chat: the status now, and the services to follow."""
        if not self._in_private(update):
            # An ops chat: /start is /help there, as it always was.
            await self.front.on_help(update, context)
            return
        message = await self._private(update)
        if message is None or message.from_user is None:
            return
        address, locale = str(message.chat_id), _locale(message.from_user)
        await self.front.on_status(update, context)
        await self._change(
            message,
            lambda ctx: welcome(ctx, platform=Platform.TELEGRAM, address=address, locale=locale),
        )

    async def on_subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/subscribe [services]`: follow them (every service when none is named)."""
        await self._with_services(update, subscribe)

    async def on_unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/unsubscribe [services]`: stop following them, or everything when none is named."""
        await self._with_services(update, unsubscribe)

    async def _with_services(self, update: Update, change: Change) -> None:
        message = await self._private(update)
        if message is None or message.from_user is None:
            return
        address, locale = str(message.chat_id), _locale(message.from_user)
        keys = command_text(message).replace(",", " ").split()
        await self._change(
            message,
            lambda ctx: change(
                ctx, platform=Platform.TELEGRAM, address=address, locale=locale, keys=keys
            ),
        )

    async def on_lang(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/lang it|en`: the language of the updates this chat gets."""
        message = await self._private(update)
        if message is None or message.from_user is None:
            return
        address, asked = str(message.chat_id), command_text(message)
        await self._change(
            message,
            lambda ctx: set_language(ctx, platform=Platform.TELEGRAM, address=address, asked=asked),
        )

    async def on_follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A service's button under the subscription: follow it, or stop."""
        query = update.callback_query
        if query is None:
            return
        message = query.message if isinstance(query.message, Message) else None
        key = (query.data or "").partition(":")[2]
        if (
            message is None
            or self.front.places.place_of(message.chat) != Place.PRIVATE
            or not key
            or len(key) > KEY_LONGEST
        ):
            await answer_query(query, "")
            return
        address, locale = str(message.chat_id), _locale(query.from_user)
        person = self.front.person_in(query.from_user, message)
        result = await look(
            self.front.runner,
            person,
            lambda ctx: toggle(
                ctx, platform=Platform.TELEGRAM, address=address, locale=locale, key=key
            ),
            started=self.front.monotonic(),
            changing=True,
        )
        if isinstance(result, Refusal):
            await answer_query(query, result.text)
            return
        pieces, markup = subscription_html(result)
        await self.front.edit(message, pieces[0], markup)
        await answer_query(query, describe(result))

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/help`: in a private chat, the subscriber's commands (and a responder's)."""
        if not self._in_private(update):
            await self.front.on_help(update, context)
            return
        message = await self._private(update)
        if message is None or message.from_user is None:
            return
        words = escape(WORDS[_locale(message.from_user)].help, quote=False)
        person = self.front.person_in(message.from_user, message)
        if await self.front.responders.includes(person.user_id):
            await self.front.say(message, help_pieces(message.from_user, [words]))
            return
        await self.front.say(message, [words + "\n\n" + your_id(message.from_user)])
