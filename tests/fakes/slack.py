"""A local Slack Web API for tests: real slack_sdk clients talk to it over HTTP."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes import limits
from tests.fakes.limits import SlidingWindow
from tests.fakes.server import (
    Failure,
    Recorded,
    RecordingServer,
    as_int,
    decode_json_fields,
    read_params,
)

__all__ = ["FakeSlack", "Recorded", "SlackFile", "SlackMessage"]

MAX_TEXT = 40_000  # longer texts are truncated
MAX_FILE_BYTES = 1_000_000_000  # files.getUploadURLExternal refuses larger lengths
TEAM_ID, BOT_USER, BOT_ID, APP_ID = "T0HERALD", "U0HERALD", "B0HERALD", "A0HERALD"
TRIGGER_SECONDS = 3.0
RESPONSE_URL_USES, RESPONSE_URL_SECONDS = 5, 30 * 60
JSON_FIELDS = frozenset(
    {"blocks", "attachments", "view", "metadata", "reply_broadcast", "unfurl_links", "unfurl_media"}
    | {"files"}
)
Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class SlackMessage:
    """A message as it stands in a channel."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    edits: list[str] = field(default_factory=list)  # earlier texts, oldest first
    user: str = BOT_USER
    files: list[str] = field(default_factory=list)  # ids of the files shared with it

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "text": self.text,
            "user": self.user,
            "ts": self.ts,
        }
        if self.user == BOT_USER:
            body.update(bot_id=BOT_ID, app_id=APP_ID, team=TEAM_ID)
        if self.files:
            body.update(files=[{"id": file_id} for file_id in self.files], upload=True)
        if self.blocks is not None:
            body["blocks"] = self.blocks
        if self.thread_ts is not None:
            body.update(thread_ts=self.thread_ts, parent_user_id=BOT_USER)
        return body


@dataclass
class SlackFile:
    """A file uploaded through files.getUploadURLExternal and the upload URL, then shared
    (or kept private) by files.completeUploadExternal."""

    id: str
    filename: str
    data: bytes
    title: str
    channel: str | None  # where it was shared; None when kept private
    initial_comment: str | None
    thread_ts: str | None
    message_ts: str | None  # the message that carries it in the channel


@dataclass
class _Upload:
    """An upload URL handed out and what was posted to it so far."""

    file_id: str
    filename: str
    length: int
    alt_txt: str | None
    data: bytes | None = None


@dataclass
class _Channel:
    id: str
    name: str
    archived: bool = False
    member: bool = True
    created: int = field(default_factory=lambda: int(time.time()))
    messages: dict[str, SlackMessage] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": True,
            "is_private": False,
            "is_archived": self.archived,
            "is_member": self.member,
            "created": self.created,
        }


class ApiError(Exception):
    """Ends a call with {"ok": false, "error": ...} (HTTP 200 unless told)."""

    def __init__(self, error: str, status: int = 200, retry_after: int = 0, **extra: Any) -> None:
        super().__init__(error)
        self.error, self.status, self.extra = error, status, extra
        self.headers = {"Retry-After": str(retry_after)} if retry_after else {}

    @classmethod
    def invalid(cls, error: str, problems: list[str]) -> ApiError:
        """invalid_blocks / invalid_arguments with Slack's "[ERROR] …" messages."""
        messages = [f"[ERROR] {p}" for p in problems]
        return cls(error, errors=problems, response_metadata={"messages": messages})


class FakeSlack(RecordingServer):
    """Slack Web API at f"{api_url}<method>", plus response_url endpoints; see PROTOCOLS.md."""

    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",  # noqa: S107
        clock: Callable[[], float] = time.monotonic,
        per_channel_per_second: int | None = 1,
        workspace_per_second: int | None = 5,
    ) -> None:
        self.token = token
        self.ephemeral: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.response_urls: list[dict[str, Any]] = []
        self._channels: dict[str, _Channel] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._open_views: dict[str, dict[str, Any]] = {}
        self._triggers = limits.Tickets(TRIGGER_SECONDS, 1)
        self._response_urls = limits.Tickets(RESPONSE_URL_SECONDS, RESPONSE_URL_USES)
        self._last_ts = int(time.time() * 1_000_000)
        self._ids = itertools.count(1)
        self._uploads: dict[str, _Upload] = {}  # by the upload URL's last path part
        self._files: list[SlackFile] = []
        self._per_channel = SlidingWindow(per_channel_per_second, 1.0)
        self._workspace = SlidingWindow(workspace_per_second, 1.0)
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.postEphemeral": self._post_ephemeral,
            "views.open": self._view_open,
            "views.push": self._view_push,
            "views.update": self._view_update,
            "conversations.info": self._conversation_info,
            "users.info": self._user_info,
            "usergroups.users.list": self._usergroup_users,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }
        routes = [
            Route("/api/{method}", self._endpoint, methods=["GET", "POST"]),
            Route("/response/{url_id}", self._response_endpoint, methods=["POST"]),
            Route("/upload/v1/{upload_id}", self._upload_endpoint, methods=["POST"]),
        ]
        super().__init__(Starlette(routes=routes), clock)

    @property
    def api_url(self) -> str:
        """The base URL in SLACK_API_URL form (trailing slash included)."""
        return f"{self.base_url}/api/"

    # ---- test controls

    def add_channel(self, channel_id: str, name: str = "") -> None:
        """A public channel the bot is a member of."""
        with self._lock:
            self._channels[channel_id] = _Channel(channel_id, name or channel_id.lower())

    def add_user(
        self, user_id: str, name: str = "", *, real_name: str = "", tz: str = "UTC"
    ) -> None:
        """A workspace member that users.info knows."""
        with self._lock:
            name = name or user_id.lower()
            profile = {"display_name": name, "real_name": real_name or name}
            self._users[user_id] = {
                "id": user_id,
                "team_id": TEAM_ID,
                "name": name,
                "real_name": real_name or name,
                "tz": tz,
                "is_bot": False,
                "deleted": False,
                "profile": profile,
            }

    def add_user_message(self, channel_id: str, text: str, user: str = "U0PERSON") -> str:
        """A message a person wrote (the bot cannot update it); returns its ts."""
        with self._lock:
            ts = self._new_ts()
            self._channels[channel_id].messages[ts] = SlackMessage(
                channel_id, ts, text, None, None, user=user
            )
            return ts

    def set_usergroup(self, group_id: str, users: list[str]) -> None:
        """The members usergroups.users.list returns for the group."""
        with self._lock:
            self._usergroups[group_id] = list(users)

    def messages(self, channel_id: str) -> list[SlackMessage]:
        """The channel's current messages in order, thread replies included."""
        with self._lock:
            return list(self._channels[channel_id].messages.values())

    def files(self, channel_id: str | None = None) -> list[SlackFile]:
        """The files completed so far (only those shared in `channel_id`, if given), in order."""
        with self._lock:
            return [f for f in self._files if channel_id is None or f.channel == channel_id]

    def fail_next(
        self,
        count: int,
        *,
        status: int = 500,
        error: str = "internal_error",
        retry_after: int | None = None,
        method: str | None = None,
    ) -> None:
        """The next `count` calls (of `method`, if given) fail; a 429 carries Retry-After.

        method="upload" targets the POSTs of file bytes to upload URLs, which answer a
        failure with its status and a plain-text body, not JSON.
        """
        with self._lock:
            self._failures.add(Failure(count, status, error, retry_after, method))

    def archive(self, channel_id: str) -> None:
        """Later posts to the channel answer is_archived."""
        with self._lock:
            self._channels[channel_id].archived = True

    def remove_bot(self, channel_id: str) -> None:
        """Later posts to the channel answer not_in_channel."""
        with self._lock:
            self._channels[channel_id].member = False

    def trigger_id(self) -> str:
        """A trigger_id as a slash command would carry; views.open refuses it after 3 s or reuse."""
        with self._lock:
            trigger = f"{next(self._ids)}.{TEAM_ID}.fake"
            self._triggers.issue(trigger, self.clock())
            return trigger

    def response_url(self) -> str:
        """A response_url the tests can hand out; posts to it land in `response_urls`."""
        with self._lock:
            url_id = f"R{next(self._ids):06d}"
            self._response_urls.issue(url_id, self.clock())
            return f"{self.base_url}/response/{url_id}"

    # ---- HTTP

    async def _endpoint(self, request: Request) -> Response:
        raw = await read_params(request)
        params = decode_json_fields({k: v for k, v in raw.items() if k != "token"}, JSON_FIELDS)
        method = request.path_params["method"]
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        status, headers = 200, {}
        try:
            with self._lock:
                body = {"ok": True, **self._answer(method, token or raw.get("token"), params)}
        except ApiError as error:
            status, headers = error.status, error.headers
            body = {"ok": False, "error": error.error, **error.extra}
        self._record(method, params, status, request.method)
        return JSONResponse(body, status_code=status, headers=headers)

    def _answer(self, method: str, token: Any, params: dict[str, Any]) -> dict[str, Any]:
        if self._outage:
            raise ApiError("service_unavailable", 503)
        if not token:
            raise ApiError("not_authed")
        if token != self.token:
            raise ApiError("invalid_auth")
        failure = self._failures.take(method)
        if failure is not None and failure.status == 429:
            raise ApiError("ratelimited", 429, retry_after=failure.retry_after or 1)
        if failure is not None:
            raise ApiError(failure.text or "internal_error", failure.status)
        handler = self._handlers.get(method)
        if handler is None:
            raise ApiError("unknown_method")
        return handler(params)

    async def _response_endpoint(self, request: Request) -> Response:
        payload = await read_params(request)
        url_id = request.path_params["url_id"]
        with self._lock:
            refused = self._response_urls.use(url_id, self.clock())
            if refused is None:
                self.response_urls.append(payload)
        status = 200 if refused is None else 404
        self._record("response_url", {"url_id": url_id, **payload}, status, "POST")
        # Slack's wording for these is unconfirmed; the 404 is what matters
        error = {"unknown": "invalid_url", "expired": "expired_url", "used": "used_url"}
        body = {"ok": True} if refused is None else {"ok": False, "error": error[refused]}
        return JSONResponse(body, status_code=status)

    async def _upload_endpoint(self, request: Request) -> Response:
        """The upload URL: the file's bytes as the raw body or as a multipart file part."""
        body = await request.body()
        upload_id = request.path_params["upload_id"]
        if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            parts = await read_params(request)
            files = [value for value in parts.values() if isinstance(value, bytes)]
            body = files[0] if files else b""
        with self._lock:
            upload = self._uploads.get(upload_id)
            failure = self._failures.take("upload")
            if self._outage:
                status, text = 503, "service unavailable"
            elif failure is not None:
                status, text = failure.status, failure.text or "upload failed"
            elif upload is None:
                status, text = 404, "upload not found"  # Slack's wording is unconfirmed
            else:
                upload.data = body
                status, text = 200, f"OK - {len(body)}"
        self._record("upload", {"upload_id": upload_id, "bytes": len(body)}, status, "POST")
        headers = (
            {"Retry-After": str(failure.retry_after)} if failure and failure.retry_after else {}
        )
        return PlainTextResponse(text, status_code=status, headers=headers)

    # ---- methods

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://herald-test.slack.com/",
            "team": "Herald Test",
            "user": "herald",
            "team_id": TEAM_ID,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(params)
        now = self.clock()
        wait = max(
            self._per_channel.wait(channel.id, now) or 0, self._workspace.wait(None, now) or 0
        )
        if wait:
            raise ApiError("ratelimited", 429, retry_after=wait)  # always 1 s: 1 s windows
        text, blocks = self._content(params)
        thread_ts = params.get("thread_ts") or None
        message = SlackMessage(channel.id, self._new_ts(), text, blocks, thread_ts)
        channel.messages[message.ts] = message
        self._per_channel.add(channel.id, now)
        self._workspace.add(None, now)
        return {"channel": channel.id, "ts": message.ts, "message": message.as_json()}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(params)
        message = channel.messages.get(str(params.get("ts", "")))
        if message is None:
            raise ApiError("message_not_found")
        if message.user != BOT_USER:
            raise ApiError("cant_update_message")
        text, blocks = self._content(params)
        message.edits.append(message.text)
        message.text, message.blocks = text, blocks
        return {"channel": channel.id, "ts": message.ts, "text": text, "message": message.as_json()}

    def _delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable(params)
        ts = str(params.get("ts", ""))
        message = channel.messages.get(ts)
        if message is None:
            raise ApiError("message_not_found")
        if message.user != BOT_USER:
            raise ApiError("cant_delete_message")
        del channel.messages[ts]
        return {"channel": channel.id, "ts": ts}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self._writable(params)
        if not params.get("user"):
            raise ApiError("user_not_found")
        self._content(params)
        self.ephemeral.append(params)
        return {"message_ts": self._new_ts()}

    def _view_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._new_view("views.open", params)

    def _view_push(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._new_view("views.push", params)

    def _new_view(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        trigger = str(params.get("trigger_id") or params.get("interactivity_pointer") or "")
        if not trigger:
            raise ApiError.invalid("invalid_arguments", ["missing required field: trigger_id"])
        # triggers minted by trigger_id() are checked; others are accepted as they come
        refused = self._triggers.use(trigger, self.clock())
        if refused in ("expired", "used"):
            raise ApiError("expired_trigger_id" if refused == "expired" else "exchanged_trigger_id")
        view = self._checked_view(params)
        view_id = f"V{next(self._ids):08d}"
        stored = self._store_view(view_id, view)
        self.views.append({"method": method, **params})
        return {"view": stored}

    def _view_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        if not view_id:
            matches = [
                v
                for v in self._open_views.values()
                if v.get("external_id") == params.get("external_id")
            ]
            view_id = matches[0]["id"] if matches and params.get("external_id") else None
        current = self._open_views.get(str(view_id))
        if current is None:
            raise ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        view = self._checked_view(params)
        stored = self._store_view(current["id"], view)
        self.views.append({"method": "views.update", **params})
        return {"view": stored}

    def _conversation_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel(params).as_json()}

    def _user_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(params.get("user", "")))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user}

    def _usergroup_users(self, params: dict[str, Any]) -> dict[str, Any]:
        users = self._usergroups.get(str(params.get("usergroup", "")))
        if users is None:
            raise ApiError("no_such_subteam")
        return {"users": list(users)}

    def _get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in ("filename", "length") if params.get(name) in (None, "")]
        if missing:
            raise ApiError.invalid(
                "invalid_arguments", [f"missing required field: {name}" for name in missing]
            )
        length = as_int(params["length"], -1)
        if length <= 0:
            raise ApiError.invalid("invalid_arguments", ["invalid value for field: length"])
        if length > MAX_FILE_BYTES:
            raise ApiError("file_too_large")
        file_id = f"F{next(self._ids):010d}"
        upload_id = f"{file_id}-{next(self._ids)}"
        alt_txt = params.get("alt_txt")
        self._uploads[upload_id] = _Upload(file_id, str(params["filename"]), length, alt_txt)
        return {"upload_url": f"{self.base_url}/upload/v1/{upload_id}", "file_id": file_id}

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files:
            raise ApiError.invalid("invalid_arguments", ["missing required field: files"])
        if not all(isinstance(f, dict) and f.get("id") for f in files):
            raise ApiError.invalid("invalid_arguments", ["invalid value for field: files"])
        by_file = {u.file_id: (key, u) for key, u in self._uploads.items()}
        completed: list[tuple[dict[str, Any], str, _Upload, bytes]] = []
        for entry in files:
            key, upload = by_file.get(str(entry["id"]), ("", None))
            if upload is None or upload.data is None:
                raise ApiError("file_not_found")
            completed.append((entry, key, upload, upload.data))
        channel = None
        if params.get("channel_id"):
            channel = self._writable({"channel": params["channel_id"]})
        elif params.get("channels"):
            first = str(params["channels"]).split(",")[0]
            channel = self._writable({"channel": first})
        comment = params.get("initial_comment")
        thread_ts = params.get("thread_ts") or None
        message_ts = None
        if channel is not None:
            ids = [str(f["id"]) for f in files]
            message = SlackMessage(channel.id, self._new_ts(), comment or "", None, thread_ts)
            message.files = ids
            channel.messages[message.ts] = message
            message_ts = message.ts
        answered = []
        for entry, key, upload, data in completed:
            del self._uploads[key]  # a file is completed once
            title = str(entry.get("title") or upload.filename)
            self._files.append(
                SlackFile(
                    upload.file_id,
                    upload.filename,
                    data,
                    title,
                    channel.id if channel else None,
                    comment,
                    thread_ts,
                    message_ts,
                )
            )
            answered.append({"id": upload.file_id, "title": title})
        return {"files": answered}

    # ---- helpers

    def _channel(self, params: dict[str, Any]) -> _Channel:
        wanted = str(params.get("channel") or "")
        channel = self._channels.get(wanted)
        if channel is None:
            name = wanted.removeprefix("#")
            channel = next((c for c in self._channels.values() if c.name == name), None)
        if channel is None:
            raise ApiError("channel_not_found")
        return channel

    def _writable(self, params: dict[str, Any]) -> _Channel:
        channel = self._channel(params)
        if channel.archived:
            raise ApiError("is_archived")
        if not channel.member:
            raise ApiError("not_in_channel")
        return channel

    def _content(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]] | None]:
        text = params.get("text")
        text = "" if text is None else str(text)
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            raise ApiError("invalid_blocks_format")
        if blocks is not None:
            errors = limits.block_errors(blocks, max_blocks=limits.MESSAGE_BLOCKS)
            if errors:
                raise ApiError.invalid("invalid_blocks", errors)
            if limits.blocks_too_long(blocks):
                raise ApiError("msg_blocks_too_long")
        if not text and not blocks:
            raise ApiError("no_text")
        return text[:MAX_TEXT], blocks

    def _checked_view(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        errors = limits.view_errors(view)
        if errors:
            raise ApiError.invalid("invalid_arguments", errors)
        if limits.view_too_large(view):
            raise ApiError("view_too_large")
        assert isinstance(view, dict)
        return view

    def _store_view(self, view_id: str, view: dict[str, Any]) -> dict[str, Any]:
        stored = {
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            **view,
            "hash": f"{int(time.time())}.{next(self._ids):08d}",
            "root_view_id": view_id,
            "previous_view_id": None,
        }
        self._open_views[view_id] = stored
        return stored

    def _new_ts(self) -> str:
        """A message timestamp: unique and increasing, like "1503435956.000247"."""
        self._last_ts = max(self._last_ts + 1, int(time.time() * 1_000_000))
        seconds, micros = divmod(self._last_ts, 1_000_000)
        return f"{seconds}.{micros:06d}"
