"""What reaches a Telegram bot and what people can press: updates, commands, keyboards, answers.

The rules and texts follow tdlib's telegram-bot-api server (Client.cpp) and tdlib itself; the
HTTP surface that raises them as 400 Bad Request is tests/fakes/telegram.py.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.html import utf16_len
from tests.fakes.server import UpdateQueue, as_int

# every kind an update can be, in the order getWebhookInfo lists them
UPDATE_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
    "message_reaction",
    "message_reaction_count",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "purchased_paid_media",
)
# what a bot gets until it asks otherwise, and after it asks for an empty list
DEFAULT_ALLOWED = frozenset(UPDATE_KINDS) - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
TRUE = (True, "true", "True", "1", 1)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
PERSON = (1001, "Alice")  # who writes in groups and presses buttons unless a test says otherwise
MAX_CALLBACK_DATA = 64  # bytes
MAX_COMMANDS = 100
# what an inline button may do besides opening a url or sending callback_data
ACTIONS = (
    *("callback_game", "pay", "switch_inline_query", "switch_inline_query_chosen_chat"),
    *("switch_inline_query_current_chat", "login_url", "web_app", "copy_text"),
)
SCOPES_WITHOUT_CHAT = ("default", "all_private_chats", "all_group_chats", "all_chat_administrators")
SCOPES_OF_A_CHAT = ("chat", "chat_administrators", "chat_member")


class Refused(ValueError):
    """Telegram refuses the call with 400 and this description (after "Bad Request: ")."""


# ---- updates


class UpdateFeed:
    """One bot's updates: the queue, which kinds it keeps (allowed_updates), what a poll
    confirms, and the webhook that, once set, takes the place of getUpdates."""

    def __init__(self) -> None:
        self.queue = UpdateQueue()
        self.allowed = DEFAULT_ALLOWED
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self._last_id = 0

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed, oldest first."""
        return self.queue.pending

    def add(self, update: dict[str, Any]) -> int:
        """Queue an update; 0 when its kind is not allowed (Telegram drops it at once, for good)."""
        kind = next(key for key in update if key != "update_id")
        if kind not in self.allowed:
            return 0
        self._last_id = self.queue.add(update)
        return self._last_id

    def remember_allowed(self, raw: Any) -> None:
        """Take allowed_updates from getUpdates or setWebhook: a list of names replaces the
        setting (none known, or [], means the default); anything else leaves it as it was.
        Updates already queued stay queued, as the Bot API documents."""
        if not isinstance(raw, list) or not all(isinstance(kind, str) for kind in raw):
            return
        chosen = frozenset(kind.lower() for kind in raw) & frozenset(UPDATE_KINDS)
        self.allowed = chosen or DEFAULT_ALLOWED

    def allowed_names(self) -> list[str]:
        """The allowed kinds in the Bot API's order."""
        return [kind for kind in UPDATE_KINDS if kind in self.allowed]

    def open_poll(self, offset: int) -> int:
        """Confirm what `offset` confirms and start a poll; returns the poll's id.

        offset > 0 forgets every update below it, unless it lies beyond the next update id
        (then nothing is forgotten); offset < 0 keeps only the last -offset updates.
        """
        if offset < 0:
            self.queue.pending = self.queue.pending[offset:]
            offset = 0
        elif offset > self._last_id + 1:
            offset = 0
        return self.queue.confirm(offset)

    def set_webhook(self, params: dict[str, Any]) -> bool:
        """setWebhook (and, without a url, deleteWebhook)."""
        url = str(params.get("url") or "")
        secret = str(params.get("secret_token") or "") if url else ""
        check_secret_token(secret)
        self.remember_allowed(params.get("allowed_updates"))
        self.webhook_url, self.webhook_secret = url, secret or None
        if params.get("drop_pending_updates") in TRUE:
            self.queue.pending.clear()
        return True

    def delete_webhook(self, params: dict[str, Any]) -> bool:
        """deleteWebhook: back to getUpdates; allowed_updates stay as they were."""
        return self.set_webhook({"drop_pending_updates": params.get("drop_pending_updates")})

    def webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        """getWebhookInfo; allowed_updates appear once they differ from the default."""
        info: dict[str, Any] = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.queue.pending),
        }
        if self.allowed != DEFAULT_ALLOWED:
            info["allowed_updates"] = self.allowed_names()
        return info


def check_secret_token(token: str) -> None:
    """setWebhook's secret_token: at most 256 of A-Z a-z 0-9 _ -."""
    if len(token) > 256:
        raise Refused("secret token is too long")
    if not all(c.isascii() and (c.isalnum() or c in "_-") for c in token):
        raise Refused("secret token contains unallowed characters")


# ---- what people write


def _is_word(char: str) -> bool:
    return char == "_" or unicodedata.category(char)[0] in "LN"


def _is_name(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def _name_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and _is_name(text[end]):
        end += 1
    return end


def command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entities Telegram finds in a text: "/name" (1–64 of A-Z a-z 0-9 _) with an
    optional "@botname" (3–32), not glued to a word, "/", "<" or ">" (tdlib's match_bot_commands).
    """
    entities: list[dict[str, Any]] = []
    at = 0
    while (slash := text.find("/", at)) != -1:
        at = slash + 1
        if slash and (_is_word(text[slash - 1]) or text[slash - 1] in "/<>"):
            continue
        end = at = _name_end(text, slash + 1)
        if not 1 <= end - slash - 1 <= 64:
            continue
        if end < len(text) and text[end] == "@":
            at = _name_end(text, end + 1)
            if not 3 <= at - end - 1 <= 32:
                continue
            end = at
        if end < len(text) and (_is_word(text[end]) or text[end] in "/<>"):
            continue
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[:slash]),
                "length": utf16_len(text[slash:end]),
            }
        )
    return entities


def person(
    chat: dict[str, Any],
    user_id: int | None,
    first_name: str | None,
    username: str | None,
    language_code: str | None = None,
) -> dict[str, Any]:
    """The User who acts in a chat (given as its JSON): in a private chat the chat's own user
    (a private chat's id is its user's id); elsewhere user 1001 "Alice" unless told otherwise.
    language_code is the user's app language, which Telegram passes on (e.g. "it")."""
    if chat["type"] == "private":
        if user_id not in (None, chat["id"]):
            raise ValueError(f"only user {chat['id']} writes in the private chat {chat['id']}")
        user_id, first_name = chat["id"], first_name or chat["first_name"]
    user: dict[str, Any] = {
        "id": user_id or PERSON[0],
        "is_bot": False,
        "first_name": first_name or PERSON[1],
    }
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    return user


def written_message(
    message_id: int, chat: dict[str, Any], sender: dict[str, Any] | None, text: str, date: int
) -> dict[str, Any]:
    """A Message a person wrote; without a sender, a post the channel itself signs."""
    if chat["type"] == "private" and sender is not None:  # the chat shows its user's names
        chat = {**chat, **{k: v for k, v in sender.items() if k in ("first_name", "username")}}
    message: dict[str, Any] = {"message_id": message_id, "date": date, "chat": chat, "text": text}
    if sender is None:
        message["sender_chat"] = chat
    else:
        message["from"] = sender
    if entities := command_entities(text):
        message["entities"] = entities
    return message


# ---- keyboards


def markup_kind(markup: Any) -> str | None:
    """What a valid reply_markup is once parsed, the way the Bot API decides; None for nothing."""
    if not isinstance(markup, dict):
        return None
    if markup.get("keyboard"):
        return "keyboard"
    if markup.get("inline_keyboard"):
        return "inline_keyboard"
    if markup.get("remove_keyboard") or markup.get("hide_keyboard"):
        return "remove_keyboard"
    if markup.get("force_reply") or markup.get("force_reply_keyboard"):
        return "force_reply"
    return None


def inline_rows(markup: Any) -> list[list[dict[str, Any]]]:
    """The rows of inline buttons a message shows ([] when it has none)."""
    if markup_kind(markup) != "inline_keyboard":
        return []
    return [list(row) for row in markup["inline_keyboard"]]


def callback_data(markup: Any) -> set[str]:
    """The data a press on one of the message's buttons can carry (a url wins over data)."""
    buttons = itertools.chain.from_iterable(inline_rows(markup))
    return {b["callback_data"] for b in buttons if not b.get("url") and b.get("callback_data")}


def check_reply_markup(markup: Any, *, inline_only: bool) -> None:
    """Refuse a reply_markup as the Bot API would; inline_only for edits and channel posts."""
    if markup is None:
        return
    if isinstance(markup, str):  # a form field that did not decode as JSON
        raise Refused("can't parse reply keyboard markup JSON object")
    if not isinstance(markup, dict):
        raise Refused("object expected as reply markup")
    rows = markup.get("inline_keyboard")
    rows = [] if rows is None else rows
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise Refused(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    for button in itertools.chain.from_iterable(rows):
        _check_button(button)
    if inline_only and markup_kind(markup) not in (None, "inline_keyboard"):
        raise Refused("inline keyboard expected")
    for data in callback_data(markup):
        if len(data.encode()) > MAX_CALLBACK_DATA:
            raise Refused("BUTTON_DATA_INVALID")


def _check_button(button: Any) -> None:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise Refused(prefix + "InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise Refused(prefix + 'Can\'t find field "text"')
    if button.get("url") or button.get("callback_data") or any(a in button for a in ACTIONS):
        return
    raise Refused(prefix + "Text buttons are unallowed in the inline keyboard")


# ---- button presses


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a button press (answerCallbackQuery)."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


class CallbackQueries:
    """Button presses the fake issued; each may be answered once, until it expires."""

    def __init__(self) -> None:
        self._ids = itertools.count(4382000000000000001)
        self._open: set[str] = set()
        self.answers: list[CallbackAnswer] = []

    def issue(self) -> str:
        """A new query id (a string of digits, as Telegram's are)."""
        query_id = str(next(self._ids))
        self._open.add(query_id)
        return query_id

    def answer(self, params: dict[str, Any]) -> bool:
        """answerCallbackQuery: record the answer; refuse an id never issued, already answered
        or expired."""
        text, url = params.get("text"), params.get("url")
        answer = CallbackAnswer(
            query_id=str(params.get("callback_query_id") or ""),
            text=None if text is None else str(text),
            show_alert=params.get("show_alert") in TRUE,
            url=None if url is None else str(url),
            cache_time=as_int(params.get("cache_time")),
        )
        if answer.query_id not in self._open:
            raise Refused(QUERY_INVALID)
        self._open.discard(answer.query_id)
        self.answers.append(answer)
        return True

    def expire(self) -> None:
        """Every unanswered query is now too old to answer."""
        self._open.clear()


def chat_instance(chat_id: int) -> str:
    """The callback_query.chat_instance of a chat: one stable number per chat."""
    return str(4000000000000000000 + chat_id * 7)


# ---- command menus


class CommandMenus:
    """The bot's command lists, one per (scope, language): setMyCommands and its kin.

    `chat` resolves a scope's chat_id to (id, kind), refusing as the API does (chat not found).
    A menu is read back for exactly the scope and language it was set for, as getMyCommands is.
    """

    def __init__(self, chat: Callable[[Any], tuple[int, str]]) -> None:
        self._chat = chat
        self._menus: dict[tuple[tuple[Any, ...], str], list[dict[str, str]]] = {}

    def set(self, params: dict[str, Any]) -> bool:
        """setMyCommands; an empty list deletes the menu."""
        pairs = read_commands(params.get("commands"))
        key = self.key(params)
        commands = check_commands(pairs)
        if commands:
            self._menus[key] = commands
        else:
            self._menus.pop(key, None)
        return True

    def get(self, params: dict[str, Any]) -> list[dict[str, str]]:
        """getMyCommands: [] when no menu is set for the scope and language."""
        return [dict(command) for command in self._menus.get(self.key(params), [])]

    def delete(self, params: dict[str, Any]) -> bool:
        """deleteMyCommands."""
        self._menus.pop(self.key(params), None)
        return True

    def key(self, params: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
        """Where a menu is kept: the scope, its chat as an id, and the language."""
        scope = read_scope(params.get("scope"))
        key: tuple[Any, ...] = (scope.kind,)
        if scope.chat is not None:
            chat_id, kind = self._chat(scope.chat)
            if kind == "private" and scope.kind != "chat":
                raise Refused("can't use specified scope in private chats")
            if kind == "channel":
                raise Refused("can't change commands in channel chats")
            key = (scope.kind, chat_id, scope.user_id) if scope.user_id else (scope.kind, chat_id)
        language = str(params.get("language_code") or "")
        check_language(language)
        return key, language


@dataclass(frozen=True)
class Scope:
    """A BotCommandScope as parsed; `chat` is the chat_id as given, for the caller to resolve."""

    kind: str
    chat: int | str | None = None
    user_id: int | None = None


def read_scope(raw: Any) -> Scope:
    """The scope parameter of the *MyCommands methods (absent: the default scope)."""
    if raw is None or raw == "":
        return Scope("default")
    if isinstance(raw, str):  # a form field that did not decode as JSON
        raise Refused("can't parse BotCommandScope JSON object")
    prefix = "can't parse BotCommandScope: "
    if not isinstance(raw, dict):
        raise Refused(prefix + "BotCommandScope must be an Object")
    kind = str(_field(raw, "type", prefix))
    if kind in SCOPES_WITHOUT_CHAT:
        return Scope(kind)
    if kind not in SCOPES_OF_A_CHAT:
        raise Refused(prefix + "Unsupported type specified")
    chat = _field(raw, "chat_id", prefix)
    if chat == "":
        raise Refused(prefix + "Empty chat_id specified")
    if kind != "chat_member":
        return Scope(kind, chat)
    user_id = as_int(_field(raw, "user_id", prefix))
    if user_id <= 0:
        raise Refused(prefix + "Invalid user_id specified")
    return Scope(kind, chat, user_id)


def read_commands(raw: Any) -> list[tuple[str, str]]:
    """setMyCommands' commands parameter as (command, description) pairs, not yet checked."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raise Refused("can't parse commands JSON object")
    if not isinstance(raw, list):
        raise Refused("expected an Array of BotCommand")
    prefix = "can't parse BotCommand: "
    pairs = []
    for item in raw:
        if not isinstance(item, dict):
            raise Refused(prefix + "expected an Object")
        command, description = _field(item, "command", prefix), _field(item, "description", prefix)
        pairs.append((str(command), str(description)))
    return pairs


def check_commands(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """The commands as Telegram stores them (trimmed, without a leading "/"), or refused: first
    tdlib's checks of every command, then the server's."""
    commands = []
    for raw_command, raw_description in pairs:
        command = raw_command.strip().removeprefix("/")
        if not command:
            raise Refused("command must be non-empty")
        if len(command) > 32:
            raise Refused("command length must not exceed 32")
        description = raw_description.strip()
        if not description:
            raise Refused("command description must be non-empty")
        if len(description) > 256:
            raise Refused("command description length must not exceed 256")
        commands.append({"command": command, "description": description})
    if len(commands) > MAX_COMMANDS:
        raise Refused("BOT_COMMANDS_TOO_MUCH")
    if not all(re.fullmatch("[a-z0-9_]+", c["command"]) for c in commands):
        raise Refused("BOT_COMMAND_INVALID")
    return commands


def check_language(code: str) -> None:
    """language_code of a command menu: empty (every language) or two lowercase letters."""
    if code and not re.fullmatch("[a-z]{2}", code):
        raise Refused("invalid language code specified")


def _field(obj: dict[str, Any], name: str, prefix: str) -> Any:
    if name not in obj:
        raise Refused(f'{prefix}Can\'t find field "{name}"')
    return obj[name]
