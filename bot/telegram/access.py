"""Where a Telegram command comes from, who sent it, and whether they may change things."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from telegram import Chat, User

from bot.frontend.runner import Person
from commands.text import KEPT_FORMAT, without_invisible


class Place(enum.StrEnum):
    """What kind of chat a command came from, which decides what Herald does with it."""

    OPS = "ops"  # TELEGRAM_OPS_CHATS and the incident chat: anyone reads, responders change
    PRIVATE = "private"  # a private chat with the bot
    OTHER = "other"  # any other group: one line, nothing else
    CHANNEL = "channel"  # a customer channel: never answered


class ChatPlaces:
    """The ops chats, by numeric id or @username, and the place of any chat."""

    def __init__(self, ops_chats: Iterable[str], incident_chat: str | None = None) -> None:
        self.ops = frozenset(chat.lower() for chat in ops_chats)
        self.incident_chat = incident_chat

    def place_of(self, chat: Chat) -> Place:
        """Where this chat stands."""
        if chat.type == Chat.CHANNEL:
            return Place.CHANNEL
        if chat.type == Chat.PRIVATE:
            return Place.PRIVATE
        names = {str(chat.id)}
        if chat.username:
            names.add(f"@{chat.username.lower()}")
        return Place.OPS if names & self.ops else Place.OTHER

    def origin_of(self, chat: Chat) -> str | None:
        """Where a command typed in this chat comes from (`telegram:-1001234567890`), so an
        incident opened here is nudged here; None for chats that take no commands.

        An ops chat is named as its setting names it, by id or @username, so the incident
        chat is told apart from the other ops chats (its nudges go to its thread).
        """
        place = self.place_of(chat)
        if place == Place.PRIVATE:
            return f"telegram:{chat.id}"
        if place != Place.OPS:
            return None
        names = {str(chat.id), f"@{(chat.username or '').lower()}"}
        if self.incident_chat and self.incident_chat.lower() in names:
            # Named as TELEGRAM_INCIDENT_CHAT names it, whichever way the ops list does.
            return f"telegram:{self.incident_chat}"
        if str(chat.id) in self.ops or not chat.username:
            return f"telegram:{chat.id}"
        return f"telegram:@{chat.username.lower()}"


class TelegramResponders:
    """TELEGRAM_RESPONDERS: the Telegram user ids allowed to change incidents."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.users = frozenset(ids)

    async def includes(self, user_id: str) -> bool:
        """Whether this Telegram user may change incidents, components and channels."""
        return user_id in self.users

    def grant_hint(self, user_id: str) -> str:
        """Who can grant access, for the refusal."""
        if not self.users:
            return (
                "no one may yet: a Herald administrator has to list Telegram user ids in "
                f"TELEGRAM_RESPONDERS (yours is {user_id})"
            )
        return (
            f"ask a Herald administrator to add your Telegram id {user_id} to TELEGRAM_RESPONDERS"
        )


def person_of(user: User, place: str | None = None) -> Person:
    """The person behind a message or a button press: `telegram:42 (alice)`, typing in
    `place` (see ChatPlaces.origin_of)."""
    return Person("telegram", str(user.id), shown_name(user.username or user.full_name), place)


def shown_name(name: str) -> str:
    """A name as audits and timelines show it: no control or invisible reordering characters
    (a display name is anyone's to choose; PostgreSQL refuses a NUL in text)."""
    visible = without_invisible(name)
    kept = "".join(c for c in visible if c.isprintable() or c in KEPT_FORMAT or c == " ")
    return " ".join(kept.split())
