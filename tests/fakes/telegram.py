"""A local Telegram Bot API for tests: real python-telegram-bot clients talk to it over HTTP."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.html import Parsed, TextError, message_text, utf16_len
from tests.fakes.limits import MessageLimits
from tests.fakes.server import (
    Failure,
    Recorded,
    RecordingServer,
    UpdateQueue,
    as_int,
    decode_json_fields,
    read_params,
    wait_until,
)

__all__ = ["FakeTelegram", "Message", "Recorded"]

KINDS = ("channel", "supergroup", "group", "private")
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
TRUE = (True, "true", "True", "1", 1)
# parameters python-telegram-bot JSON-encodes in form posts
JSON_FIELDS = frozenset(
    {"reply_parameters", "reply_markup", "link_preview_options", "entities", "allowed_updates"}
    | {"disable_notification", "protect_content", "allow_sending_without_reply"}
    | {"drop_pending_updates", "disable_web_page_preview"}
)


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
    reply_markup: Any = None
    date: int = 0


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
    incoming: set[int] = field(default_factory=set)  # ids of messages people wrote

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
    """Telegram Bot API at f"{api_url}<token>/<method>": chats, messages, errors and rate limits."""

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
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self._chats: dict[int, _Chat] = {}
        self._names: dict[str, int] = {}
        self._synthetic_ids = itertools.count(-1001000000001, -1)
        self._updates = UpdateQueue()
        self._limits = MessageLimits(global_per_second, per_chat_per_second, group_per_minute)
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "pinChatMessage": self._pin_chat_message,
            "deleteMessage": self._delete_message,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }
        self._canonical = {name.lower(): name for name in [*self._handlers, "getUpdates"]}
        routes = [
            Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
            Route("/{path:path}", self._not_found, methods=["GET", "POST"]),
        ]
        super().__init__(Starlette(routes=routes), clock)

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

    def messages(self, chat_id: int | str) -> list[Message]:
        """The chat's current messages in order (deleted ones gone, edits applied)."""
        with self._lock:
            return list(self._chat_for_test(chat_id).messages.values())

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

    def add_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns the update_id it was given."""
        with self._lock:
            return self._updates.add(update)

    def add_user_message(
        self, chat_id: int | str, text: str, *, user_id: int = 1001, first_name: str = "Alice"
    ) -> dict[str, Any]:
        """Someone writes in the chat: an update for getUpdates (a leading /command gets its
        bot_command entity) that the bot may reply to; returns the update."""
        with self._lock:
            chat = self._chat_for_test(chat_id)
            message: dict[str, Any] = {
                "message_id": chat.next_id,
                "date": int(time.time()),
                "chat": chat.as_json(),
                "text": text,
            }
            if chat.kind == "channel":
                message["sender_chat"] = chat.as_json()
            else:
                message["from"] = {"id": user_id, "is_bot": False, "first_name": first_name}
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
                ]
            chat.incoming.add(chat.next_id)
            chat.next_id += 1
            key = "channel_post" if chat.kind == "channel" else "message"
            update_id = self.add_update({key: message})
            return {"update_id": update_id, key: message}

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
        return self._handlers[method](params)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Long poll for at most min(timeout, 1 s); a newer getUpdates ends this one with 409."""
        updates = self._updates
        with self._lock:
            if self.webhook_url:
                raise ApiError(409, WEBHOOK_ACTIVE)
            poll = updates.confirm(as_int(params.get("offset")))
        timeout = min(max(as_int(params.get("timeout")), 0), 1)
        await wait_until(
            lambda: bool(updates.pending) or updates.superseded(poll) or self.closing, timeout
        )
        with self._lock:
            if updates.superseded(poll):
                raise ApiError(409, TERMINATED)
            return updates.pending[: as_int(params.get("limit"), 100) or 100]

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
        parse_mode, parsed = self._parse_text(params)
        reply = params.get("reply_parameters")
        reply = reply if isinstance(reply, dict) else {}
        reply_to = as_int(reply.get("message_id", params.get("reply_to_message_id"))) or None
        allow = reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply"))
        if reply_to is not None and reply_to not in chat.messages.keys() | chat.incoming:
            if allow not in TRUE:
                raise ApiError(400, "Bad Request: message to be replied not found")
            reply_to = None
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

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat = self._chat(params)
        now = self._admit(chat)
        message = chat.messages.get(as_int(params.get("message_id")))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        parse_mode, parsed = self._parse_text(params)
        markup = params.get("reply_markup")
        new = (parsed.text, parsed.entities, markup)
        if new == (message.plain, message.entities, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        message.edits.append(message.text)
        message.text, message.parse_mode = str(params["text"]), parse_mode
        message.plain, message.entities, message.reply_markup = new
        self._limits.add(chat.id, chat.kind != "private", now)
        return {**self._message_json(chat, message), "edit_date": int(time.time())}

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

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = str(params.get("url") or "")
        self.webhook_secret = params.get("secret_token") or None
        if params.get("drop_pending_updates") in TRUE:
            self._updates.pending.clear()
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        return self._set_webhook({"drop_pending_updates": params.get("drop_pending_updates")})

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates.pending),
        }

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

    def _message_json(self, chat: _Chat, message: Message, nested: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": chat.as_json(),
            "text": message.plain,
        }
        if chat.kind == "channel":
            body["sender_chat"] = chat.as_json()
        else:
            body["from"] = self._get_me({})
        if message.entities:
            body["entities"] = message.entities
        if message.reply_markup:
            body["reply_markup"] = message.reply_markup
        replied = chat.messages.get(message.reply_to or 0)
        if replied is not None and not nested:
            body["reply_to_message"] = self._message_json(chat, replied, nested=True)
        return body
