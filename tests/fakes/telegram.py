"""A local Telegram Bot API for tests: real python-telegram-bot clients talk to it over HTTP."""

from __future__ import annotations

import contextlib
import itertools
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.html import EntityError, Parsed, TextError, message_text, parse_html
from tests.fakes.limits import MessageLimits
from tests.fakes.server import (
    Failure,
    Recorded,
    RecordingServer,
    as_int,
    decode_json_fields,
    read_params,
    wait_until,
)
from tests.fakes.telegram_updates import (
    TRUE,
    CallbackAnswer,
    CallbackQueries,
    CommandMenus,
    Refused,
    UpdateFeed,
    callback_data,
    chat_instance,
    check_reply_markup,
    inline_rows,
    person,
    written_message,
)

__all__ = ["CallbackAnswer", "FakeTelegram", "Message", "Recorded", "sample_png"]

KINDS = ("channel", "supergroup", "group", "private")
MAX_CAPTION = 1024  # characters after entity parsing
MAX_PHOTO_BYTES = 10 * 1024 * 1024
PNG, JPEG = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
TERMINATED = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
# parameters python-telegram-bot JSON-encodes in form posts
JSON_FIELDS = frozenset(
    {"reply_parameters", "reply_markup", "link_preview_options", "entities", "allowed_updates"}
    | {"disable_notification", "protect_content", "allow_sending_without_reply"}
    | {"drop_pending_updates", "disable_web_page_preview", "scope", "commands", "show_alert"}
)


def sample_png(width: int = 4, height: int = 3) -> bytes:
    """A small valid PNG (grey pixels) for photo and file upload tests."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = b"".join(
        b"\x00" + bytes([(17 * (x + y)) % 256 for x in range(width)]) for y in range(height)
    )
    return PNG + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass
class Message:
    """A message as it stands in a chat; `text` is what the bot sent (markup included)."""

    message_id: int
    chat_id: int | str  # as the test passed it to add_chat()
    text: str
    parse_mode: str | None
    reply_to: int | None
    edits: list[str] = field(default_factory=list)  # earlier texts, oldest first
    plain: str = ""  # the text as Telegram shows it, after entity parsing
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: Any = None  # as the bot last sent it (None when the last call had none)
    date: int = 0
    photo: bytes | None = None  # a photo message: the image; `text` is then its caption
    photo_size: tuple[int, int] = (0, 0)  # width, height

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        """The rows of inline buttons under the message as Telegram shows them ([] for none)."""
        return inline_rows(self.reply_markup)


@dataclass
class _Chat:
    key: int | str
    id: int
    kind: str
    title: str
    username: str | None = None
    can_pin: bool = True
    blocked: str | None = None
    migrated_to: int | None = None
    pinned: int | None = None
    next_id: int = 1
    messages: dict[int, Message] = field(default_factory=dict)
    incoming: dict[int, dict[str, Any]] = field(default_factory=dict)  # what people wrote, by id

    def as_json(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": self.kind}
        if self.kind == "private":
            chat["first_name"] = self.title or "Responder"
        else:
            chat["title"] = self.title or f"Chat {self.id}"
        if self.username:
            chat["username"] = self.username
        return chat


class ApiError(Exception):
    """Ends a call with a Bot API error body."""

    def __init__(self, status: int, description: str, **parameters: int) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters

    def body(self) -> dict[str, Any]:
        """The JSON Telegram answers with."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class FakeTelegram(RecordingServer):
    """Telegram Bot API at f"{api_url}<token>/<method>": chats, messages, keyboards, updates,
    button presses, command menus, errors and rate limits."""

    def __init__(
        self,
        *,
        token: str = "123456:TEST-TOKEN",  # noqa: S107
        clock: Callable[[], float] = time.monotonic,
        global_per_second: int | None = 30,
        per_chat_per_second: int | None = 1,
        group_per_minute: int | None = 20,
        strict_ampersand: bool = True,
    ) -> None:
        self.token = token
        self.strict_ampersand = strict_ampersand
        self._chats: dict[int, _Chat] = {}
        self._names: dict[str, int] = {}
        self._synthetic_ids = itertools.count(-1009000000001, -1)  # clear of the ids tests pick
        self._feed = UpdateFeed()
        self._queries = CallbackQueries()
        self._menus = CommandMenus(self._chat_of_scope)
        self._limits = MessageLimits(global_per_second, per_chat_per_second, group_per_minute)
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._queries.answer,
            "setMyCommands": self._menus.set,
            "getMyCommands": self._menus.get,
            "deleteMyCommands": self._menus.delete,
            "pinChatMessage": self._pin_chat_message,
            "deleteMessage": self._delete_message,
            "setWebhook": self._feed.set_webhook,
            "deleteWebhook": self._feed.delete_webhook,
            "getWebhookInfo": self._feed.webhook_info,
        }
        self._canonical = {name.lower(): name for name in [*self._handlers, "getUpdates"]}
        routes = [
            Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
            Route("/{path:path}", self._not_found, methods=["GET", "POST"]),
        ]
        super().__init__(Starlette(routes=routes), clock)

    @property
    def webhook_url(self) -> str:
        """The url of the webhook the bot set ("" while it polls)."""
        return self._feed.webhook_url

    @property
    def webhook_secret(self) -> str | None:
        """The secret_token of the webhook, sent with each delivery."""
        return self._feed.webhook_secret

    @property
    def api_url(self) -> str:
        """The base URL in TELEGRAM_API_URL form; the client appends the token."""
        return f"{self.base_url}/bot"

    # ---- test controls

    def add_chat(
        self, chat_id: int | str, kind: str = "channel", title: str = "", *, can_pin: bool = True
    ) -> None:
        """Make a chat the bot can write to; str ids are public "@name" usernames."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if isinstance(chat_id, str) and not chat_id.startswith("@"):
            raise ValueError('string chat ids are "@username"')
        with self._lock:
            if isinstance(chat_id, str):
                numeric = next(self._synthetic_ids)
                self._names[chat_id.lower()] = numeric
                chat = _Chat(chat_id, numeric, kind, title, chat_id[1:], can_pin)
            else:
                chat = _Chat(chat_id, chat_id, kind, title, None, can_pin)
            self._chats[chat.id] = chat

    def numeric_id(self, username: str) -> int:
        """The id Telegram gives the chat added as "@username"."""
        with self._lock:
            return self._names[username.lower()]

    def messages(self, chat_id: int | str) -> list[Message]:
        """The chat's current messages in order (deleted ones gone, edits applied)."""
        with self._lock:
            return list(self._chat_for_test(chat_id).messages.values())

    def photos(self, chat_id: int | str) -> list[Message]:
        """The chat's photo messages in order; `photo` holds the bytes, `text` the caption."""
        return [m for m in self.messages(chat_id) if m.photo is not None]

    def pinned(self, chat_id: int | str) -> int | None:
        """The id of the chat's pinned message."""
        with self._lock:
            return self._chat_for_test(chat_id).pinned

    def block(
        self,
        chat_id: int | str,
        description: str = "Forbidden: bot was kicked from the channel chat",
    ) -> None:
        """Later calls to the chat answer 403 with this description."""
        with self._lock:
            self._chat_for_test(chat_id).blocked = description

    def unblock(self, chat_id: int | str) -> None:
        """The person let the bot write again (they restarted it)."""
        with self._lock:
            self._chat_for_test(chat_id).blocked = None

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: calls to the old id answer 400 with migrate_to_chat_id."""
        with self._lock:
            old = self._chat_for_test(chat_id)
            old.migrated_to = new_chat_id
            if new_chat_id not in self._chats:
                self._chats[new_chat_id] = _Chat(new_chat_id, new_chat_id, "supergroup", old.title)

    def fail_next(
        self,
        count: int,
        *,
        status: int = 502,
        description: str | None = None,
        retry_after: int | None = None,
        method: str | None = None,
    ) -> None:
        """The next `count` calls (of `method`, if given) fail; a 429 carries retry_after."""
        with self._lock:
            self._failures.add(Failure(count, status, description, retry_after, method))

    def replies_to(self, chat_id: int | str, message_id: int) -> list[Message]:
        """The bot's messages in the chat that reply to message `message_id`, in order."""
        return [m for m in self.messages(chat_id) if m.reply_to == message_id]

    def answers(self) -> list[CallbackAnswer]:
        """The bot's answers to button presses (answerCallbackQuery), in order."""
        with self._lock:
            return list(self._queries.answers)

    def expire_callback_queries(self) -> None:
        """Every button press not answered yet is now too old to answer."""
        with self._lock:
            self._queries.expire()

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The command menu set for exactly this scope and language ([] when none is)."""
        with self._lock:
            return self._menus.get({"scope": scope, "language_code": language_code})

    def pending_updates(self) -> list[dict[str, Any]]:
        """The updates no getUpdates has confirmed yet, oldest first."""
        with self._lock:
            return list(self._feed.pending)

    @property
    def allowed_updates(self) -> list[str]:
        """The update kinds the bot now receives, as it last asked (getUpdates or setWebhook)."""
        with self._lock:
            return self._feed.allowed_names()

    # ---- what people do

    def add_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns its update_id, or 0 when the kind is not in
        the bot's allowed_updates (Telegram never creates it)."""
        with self._lock:
            return self._feed.add(update)

    def add_user_message(
        self,
        chat_id: int | str,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        reply_to: int | None = None,
        date: int | None = None,
    ) -> dict[str, Any]:
        """Someone writes in the chat; returns the update (update_id 0 if allowed_updates drops it).

        The text gets the bot_command entities Telegram finds ("/incident@herald_test_bot open").
        In a private chat the writer is the chat's user (chat id = user id); in groups it is
        user 1001 "Alice" unless given (language_code: the writer's app language); channel
        posts have a sender_chat instead. `reply_to`
        nests that message (the bot's or a person's) as reply_to_message; `date` is unix time.
        """
        with self._lock:
            chat = self._chat_for_test(chat_id)
            sender = None
            if chat.kind != "channel":
                sender = person(chat.as_json(), user_id, first_name, username, language_code)
            elif user_id is not None or username is not None:
                raise ValueError("a channel post has no sender; leave user_id and username out")
            when = int(time.time()) if date is None else date
            message = written_message(chat.next_id, chat.as_json(), sender, text, when)
            if reply_to is not None:
                message["reply_to_message"] = self._replied_json(chat, reply_to)
            chat.incoming[chat.next_id] = message
            chat.next_id += 1
            key = "channel_post" if chat.kind == "channel" else "message"
            return {"update_id": self._feed.add({key: message}), key: message}

    def add_callback_query(
        self,
        chat_id: int | str,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> dict[str, Any]:
        """Someone taps the inline button carrying `data` under a bot message; returns the
        update (update_id 0 if allowed_updates drops it). The presser defaults as in
        add_user_message. ValueError when the message or such a button does not exist."""
        with self._lock:
            chat = self._chat_for_test(chat_id)
            message = chat.messages.get(message_id)
            if message is None:
                raise ValueError(f"no bot message {message_id} in chat {chat_id!r}")
            if data not in callback_data(message.reply_markup):
                raise ValueError(f"message {message_id} has no button with callback_data {data!r}")
            query = {
                "id": self._queries.issue(),
                "from": person(chat.as_json(), user_id, first_name, username, language_code),
                "message": self._message_json(chat, message),
                "chat_instance": chat_instance(chat.id),
                "data": data,
            }
            return {"update_id": self._feed.add({"callback_query": query}), "callback_query": query}

    # ---- HTTP

    async def _not_found(self, request: Request) -> Response:
        return JSONResponse(ApiError(404, "Not Found").body(), status_code=404)

    async def _endpoint(self, request: Request) -> Response:
        params = decode_json_fields(await read_params(request), JSON_FIELDS)
        method = self._canonical.get(request.path_params["method"].lower())
        try:
            with self._lock:
                result = self._answer(request.path_params["token"], method, params)
            if method == "getUpdates":
                result = await self._get_updates(params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as error:
            status, body = error.status, error.body()
        self._record(method or request.path_params["method"], params, status, request.method)
        return JSONResponse(body, status_code=status)

    def _answer(self, token: str, method: str | None, params: dict[str, Any]) -> Any:
        if self._outage:
            raise ApiError(502, "Bad Gateway")
        if token != self.token:
            raise ApiError(401, "Unauthorized")
        failure = self._failures.take(method)
        if failure is not None and failure.status == 429:
            wait = failure.retry_after or 1
            description = failure.text or f"Too Many Requests: retry after {wait}"
            raise ApiError(429, description, retry_after=wait)
        if failure is not None:
            description = failure.text or HTTPStatus(failure.status).phrase
            extra = {"retry_after": failure.retry_after} if failure.retry_after else {}
            raise ApiError(failure.status, description, **extra)
        if method is None:
            raise ApiError(404, "Not Found")
        if method == "getUpdates":
            return None
        try:
            return self._handlers[method](params)
        except Refused as refused:
            raise ApiError(400, f"Bad Request: {refused}") from None

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Long poll for at most min(timeout, 1 s); a newer getUpdates ends this one with 409."""
        feed, queue = self._feed, self._feed.queue
        with self._lock:
            if self.webhook_url:
                raise ApiError(409, WEBHOOK_ACTIVE)
            feed.remember_allowed(params.get("allowed_updates"))
            poll = feed.open_poll(as_int(params.get("offset")))
        timeout = min(max(as_int(params.get("timeout")), 0), 1)
        await wait_until(
            lambda: bool(feed.pending) or queue.superseded(poll) or self.closing, timeout
        )
        with self._lock:
            if queue.superseded(poll):
                raise ApiError(409, TERMINATED)
            return feed.pending[: min(max(as_int(params.get("limit"), 100), 1), 100)]

    # ---- methods

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        bot_id = self.token.split(":")[0]
        return {
            "id": int(bot_id) if bot_id.isdigit() else 1,
            "is_bot": True,
            "first_name": "Herald",
            "username": "herald_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        now = self._admit(chat)
        check_reply_markup(params.get("reply_markup"), inline_only=chat.kind == "channel")
        parse_mode, parsed = self._parse_text(params)
        reply_to = self._reply_to(chat, params)
        message = Message(
            message_id=chat.next_id,
            chat_id=chat.key,
            text=str(params["text"]),
            parse_mode=parse_mode,
            reply_to=reply_to,
            plain=parsed.text,
            entities=parsed.entities,
            reply_markup=params.get("reply_markup"),
            date=int(time.time()),
        )
        chat.next_id += 1
        chat.messages[message.message_id] = message
        self._limits.add(chat.id, chat.kind != "private", now)
        return self._message_json(chat, message)

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        photo, size = self._photo(params.get("photo"))
        now = self._admit(chat)
        check_reply_markup(params.get("reply_markup"), inline_only=chat.kind == "channel")
        parse_mode = params.get("parse_mode") or None
        caption = params.get("caption")
        parsed = Parsed("")
        if caption not in (None, ""):
            parsed = self._parse_caption(str(caption), parse_mode)
        message = Message(
            message_id=chat.next_id,
            chat_id=chat.key,
            text=str(caption or ""),
            parse_mode=parse_mode,
            reply_to=self._reply_to(chat, params),
            plain=parsed.text,
            entities=parsed.entities,
            reply_markup=params.get("reply_markup"),
            date=int(time.time()),
            photo=photo,
            photo_size=size,
        )
        chat.next_id += 1
        chat.messages[message.message_id] = message
        self._limits.add(chat.id, chat.kind != "private", now)
        return self._message_json(chat, message)

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, message, now = self._message_to_edit(params)
        if message.photo is not None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        parse_mode, parsed = self._parse_text(params)
        markup = params.get("reply_markup")
        new = (parsed.text, parsed.entities, inline_rows(markup))
        if new == (message.plain, message.entities, message.inline_keyboard):
            raise ApiError(400, NOT_MODIFIED)
        message.edits.append(message.text)
        message.text, message.parse_mode = str(params["text"]), parse_mode
        message.plain, message.entities, message.reply_markup = parsed.text, parsed.entities, markup
        self._limits.add(chat.id, chat.kind != "private", now)
        return {**self._message_json(chat, message), "edit_date": int(time.time())}

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, message, now = self._message_to_edit(params)
        markup = params.get("reply_markup")
        if inline_rows(markup) == message.inline_keyboard:
            raise ApiError(400, NOT_MODIFIED)
        message.reply_markup = markup
        self._limits.add(chat.id, chat.kind != "private", now)
        return {**self._message_json(chat, message), "edit_date": int(time.time())}

    def _message_to_edit(self, params: dict[str, Any]) -> tuple[_Chat, Message, float]:
        """The bot message an edit names, its chat and the time; refusals as Telegram's."""
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat = self._chat(params)
        now = self._admit(chat)
        message_id = as_int(params.get("message_id"))
        if message_id in chat.incoming:
            raise ApiError(400, "Bad Request: message can't be edited")
        message = chat.messages.get(message_id)
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        check_reply_markup(params.get("reply_markup"), inline_only=True)
        return chat, message, now

    def _pin_chat_message(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        if not chat.can_pin:
            raise ApiError(
                400, "Bad Request: not enough rights to manage pinned messages in the chat"
            )
        message_id = as_int(params.get("message_id"))
        if message_id not in chat.messages:
            raise ApiError(400, "Bad Request: message to pin not found")
        chat.pinned = message_id
        return True

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        if chat.messages.pop(as_int(params.get("message_id")), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    # ---- helpers

    def _chat(self, params: dict[str, Any]) -> _Chat:
        raw = params.get("chat_id")
        if raw in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._lookup(raw)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=chat.migrated_to,
            )
        if chat.blocked is not None:
            raise ApiError(403, chat.blocked)
        return chat

    def _lookup(self, raw: Any) -> _Chat | None:
        if isinstance(raw, str) and raw.startswith("@"):
            return self._chats.get(self._names.get(raw.lower(), 0))
        numeric = as_int(raw)
        return self._chats.get(numeric) if numeric else None

    def _chat_for_test(self, chat_id: int | str) -> _Chat:
        chat = self._lookup(chat_id)
        if chat is None:
            raise KeyError(f"no chat {chat_id!r}; add_chat() it first")
        return chat

    def _admit(self, chat: _Chat) -> float:
        """Refuse with 429 when one more message would break a limit; returns the time."""
        now = self.clock()
        wait = self._limits.wait(chat.id, chat.kind != "private", now)
        if wait is not None:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        return now

    def _parse_text(self, params: dict[str, Any]) -> tuple[str | None, Parsed]:
        parse_mode = params.get("parse_mode") or None
        try:
            parsed = message_text(params.get("text"), parse_mode, self.strict_ampersand)
        except TextError as error:
            raise ApiError(400, f"Bad Request: {error}") from None
        return parse_mode, parsed

    def _parse_caption(self, caption: str, parse_mode: str | None) -> Parsed:
        """A caption checked like the Bot API does: parse mode, at most 1024 characters."""
        mode = (parse_mode or "").lower()
        parsed = Parsed(caption)
        if mode == "html":
            try:
                parsed = parse_html(caption, strict_ampersand=self.strict_ampersand)
            except EntityError as error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        elif mode not in ("", "markdown", "markdownv2"):
            raise ApiError(400, f"Bad Request: unsupported parse_mode: {parse_mode}")
        if len(parsed.text) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        return parsed

    def _photo(self, photo: Any) -> tuple[bytes, tuple[int, int]]:
        """An uploaded photo (a multipart file part) and its size; refusals as Telegram's."""
        if photo in (None, "", b""):
            raise ApiError(400, "Bad Request: there is no photo in the request")
        if isinstance(photo, str):
            known = [
                m
                for chat in self._chats.values()
                for m in chat.messages.values()
                if m.photo is not None and photo == self._photo_id(chat, m)
            ]
            if not known or known[0].photo is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return known[0].photo, known[0].photo_size
        data = bytes(photo)
        if len(data) > MAX_PHOTO_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        if data.startswith(PNG) and len(data) >= 24:
            size = (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"))
        elif data.startswith(JPEG):
            size = (0, 0)  # the fake does not read JPEG headers
        else:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        return data, size

    @staticmethod
    def _photo_id(chat: _Chat, message: Message) -> str:
        return f"AgACAgQAAx0C{abs(chat.id)}x{message.message_id}"

    def _reply_to(self, chat: _Chat, params: dict[str, Any]) -> int | None:
        """The message a new one replies to (reply_parameters or reply_to_message_id)."""
        reply = params.get("reply_parameters")
        reply = reply if isinstance(reply, dict) else {}
        reply_to = as_int(reply.get("message_id", params.get("reply_to_message_id"))) or None
        allow = reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply"))
        if reply_to is not None and reply_to not in chat.messages.keys() | chat.incoming.keys():
            if allow not in TRUE:
                raise ApiError(400, "Bad Request: message to be replied not found")
            reply_to = None
        return reply_to

    def _chat_of_scope(self, raw: Any) -> tuple[int, str]:
        chat = self._chat({"chat_id": raw})
        return chat.id, chat.kind

    def _replied_json(self, chat: _Chat, message_id: int) -> dict[str, Any]:
        """The message a new one replies to, nested one level deep as Telegram nests it."""
        if message_id in chat.messages:
            return self._message_json(chat, chat.messages[message_id], nested=True)
        if message_id in chat.incoming:
            written = chat.incoming[message_id]
            return {key: value for key, value in written.items() if key != "reply_to_message"}
        raise ValueError(f"no message {message_id} in chat {chat.key!r} to reply to")

    def _message_json(self, chat: _Chat, message: Message, nested: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": chat.as_json(),
        }
        if chat.kind == "channel":
            body["sender_chat"] = chat.as_json()
        else:
            body["from"] = self._get_me({})
        if message.photo is not None:
            body["photo"] = [self._photo_json(chat, message)]
            if message.plain:
                body["caption"] = message.plain
            if message.entities:
                body["caption_entities"] = message.entities
        else:
            body["text"] = message.plain
            if message.entities:
                body["entities"] = message.entities
        if keyboard := message.inline_keyboard:  # other markups are not part of a Message
            body["reply_markup"] = {"inline_keyboard": keyboard}
        if message.reply_to is not None and not nested:
            with contextlib.suppress(ValueError):  # the replied message was deleted since
                body["reply_to_message"] = self._replied_json(chat, message.reply_to)
        return body

    def _photo_json(self, chat: _Chat, message: Message) -> dict[str, Any]:
        """The PhotoSize Telegram answers with: the original only (Telegram adds thumbnails)."""
        width, height = message.photo_size
        file_id = self._photo_id(chat, message)
        return {
            "file_id": file_id,
            "file_unique_id": file_id[-16:],
            "width": width,
            "height": height,
            "file_size": len(message.photo or b""),
        }
