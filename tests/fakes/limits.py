"""Limits the fakes enforce: sliding-window rate limits, Block Kit size caps, and a manual clock."""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Hashable
from typing import Any

# Block Kit caps (Slack's reference; PROTOCOLS.md).
MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
BUTTON_TEXT = 75
MODAL_TITLE = 24
PRIVATE_METADATA = 3000
VIEW_BYTES = 250_000
# Slack does not publish the size behind msg_blocks_too_long; this is a stand-in.
BLOCKS_JSON_CHARS = 50_000

BLOCK_TYPES = frozenset(
    {"actions", "context", "divider", "file", "header", "image", "input", "markdown"}
    | {"rich_text", "section", "table", "video"}
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


class ManualClock:
    """A clock for the fakes' rate limits that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new reading."""
        self.now += seconds
        return self.now


class SlidingWindow:
    """At most `limit` events per key in any `window` seconds; a limit of None disables it."""

    def __init__(self, limit: int | None, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[Hashable, deque[float]] = {}

    def wait(self, key: Hashable, now: float) -> int | None:
        """Whole seconds (at least 1) until one more event fits, or None if it fits now."""
        if self.limit is None:
            return None
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) < self.limit:
            return None
        oldest = events[len(events) - self.limit]
        return max(1, math.ceil(oldest + self.window - now))

    def add(self, key: Hashable, now: float) -> None:
        """Count one event that happened (rejected calls are never added)."""
        if self.limit is not None:
            self._events.setdefault(key, deque()).append(now)


class MessageLimits:
    """Telegram's flood limits: overall per second, per chat per second, per group per minute."""

    def __init__(
        self,
        global_per_second: int | None,
        per_chat_per_second: int | None,
        group_per_minute: int | None,
    ) -> None:
        self._global = SlidingWindow(global_per_second, 1.0)
        self._per_chat = SlidingWindow(per_chat_per_second, 1.0)
        self._group = SlidingWindow(group_per_minute, 60.0)

    def wait(self, chat_id: int, is_group: bool, now: float) -> int | None:
        """Seconds to wait before one more message to the chat, or None if it may go now."""
        waits = [self._global.wait(None, now), self._per_chat.wait(chat_id, now)]
        if is_group:
            waits.append(self._group.wait(chat_id, now))
        return max((w for w in waits if w is not None), default=None)

    def add(self, chat_id: int, is_group: bool, now: float) -> None:
        """Count a message that was sent or edited."""
        self._global.add(None, now)
        self._per_chat.add(chat_id, now)
        if is_group:
            self._group.add(chat_id, now)


class Tickets:
    """Tokens good for `uses` uses within `seconds` of issue (trigger_id: once in 3 s;
    response_url: 5 times in 30 minutes)."""

    def __init__(self, seconds: float, uses: int) -> None:
        self.seconds, self.uses = seconds, uses
        self._issued: dict[str, tuple[float, int]] = {}

    def issue(self, token: str, now: float) -> None:
        """Hand out a fresh token."""
        self._issued[token] = (now, 0)

    def use(self, token: str, now: float) -> str | None:
        """Spend one use: None if allowed, else "unknown", "expired" or "used"."""
        if token not in self._issued:
            return "unknown"
        issued, used = self._issued[token]
        if now - issued > self.seconds:
            return "expired"
        if used >= self.uses:
            return "used"
        self._issued[token] = (issued, used + 1)
        return None


def block_errors(blocks: Any, *, max_blocks: int, pointer: str = "/blocks") -> list[str]:
    """Basic Block Kit checks, worded like Slack's `errors` list; empty when the blocks pass."""
    if not isinstance(blocks, list):
        return [f"must provide an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"no more than {max_blocks} items allowed [json-pointer:{pointer}]")
    seen_ids: set[str] = set()
    for index, block in enumerate(blocks):
        here = f"{pointer}/{index}"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            kind = block.get("type") if isinstance(block, dict) else block
            errors.append(f"unsupported type: {kind} [json-pointer:{here}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen_ids:
                errors.append(f"duplicate block_id [json-pointer:{here}/block_id]")
            seen_ids.add(str(block_id))
            errors += _length(block_id, 255, f"{here}/block_id")
        errors += _block(block, here)
    return errors


def view_errors(view: Any) -> list[str]:
    """Checks on a views.open/update/push `view`; empty when it passes."""
    if not isinstance(view, dict):
        return ["must provide an object [json-pointer:/view]"]
    errors: list[str] = []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        errors.append(f"unsupported type: {kind} [json-pointer:/view/type]")
    if kind == "modal":
        errors += _text(view.get("title"), MODAL_TITLE, "/view/title", plain=True)
        for button in ("submit", "close"):
            if view.get(button) is not None:
                errors += _text(view[button], MODAL_TITLE, f"/view/{button}", plain=True)
    blocks = view.get("blocks")
    errors += block_errors(blocks, max_blocks=MODAL_BLOCKS, pointer="/view/blocks")
    has_input = isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "input" for b in blocks
    )
    if kind == "modal" and has_input and view.get("submit") is None:
        errors.append("must provide submit when an input block is present [json-pointer:/view]")
    errors += _length(view.get("private_metadata"), PRIVATE_METADATA, "/view/private_metadata")
    errors += _length(view.get("callback_id"), 255, "/view/callback_id")
    errors += _length(view.get("external_id"), 255, "/view/external_id")
    return errors


def view_too_large(view: Any) -> bool:
    """Slack answers view_too_large above 250 kB of view JSON."""
    return len(json.dumps(view).encode()) > VIEW_BYTES


def blocks_too_long(blocks: Any) -> bool:
    """Stand-in for Slack's msg_blocks_too_long (the real threshold is unpublished)."""
    return len(json.dumps(blocks)) > BLOCKS_JSON_CHARS


def _block(block: dict[str, Any], here: str) -> list[str]:
    kind = block["type"]
    if kind == "section":
        if block.get("text") is None and block.get("fields") is None:
            return [f"must provide text or fields [json-pointer:{here}]"]
        errors: list[str] = []
        if block.get("text") is not None:
            errors += _text(block["text"], SECTION_TEXT, f"{here}/text")
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > SECTION_FIELDS:
                errors.append(
                    f"no more than {SECTION_FIELDS} items allowed [json-pointer:{here}/fields]"
                )
            else:
                for i, field in enumerate(fields):
                    errors += _text(field, FIELD_TEXT, f"{here}/fields/{i}")
        if block.get("accessory") is not None:
            errors += _element(block["accessory"], f"{here}/accessory")
        return errors
    if kind == "header":
        return _text(block.get("text"), HEADER_TEXT, f"{here}/text", plain=True)
    if kind in ("actions", "context"):
        most = 25 if kind == "actions" else 10
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            return [f"must provide a non-empty array [json-pointer:{here}/elements]"]
        if len(elements) > most:
            return [f"no more than {most} items allowed [json-pointer:{here}/elements]"]
        errors = []
        for i, element in enumerate(elements):
            if kind == "actions":
                errors += _element(element, f"{here}/elements/{i}")
            elif isinstance(element, dict) and element.get("type") in TEXT_TYPES:
                errors += _text(element, SECTION_TEXT, f"{here}/elements/{i}")
        return errors
    if kind == "input":
        errors = _text(block.get("label"), 2000, f"{here}/label", plain=True)
        if not isinstance(block.get("element"), dict):
            errors.append(f"must provide an object [json-pointer:{here}/element]")
        return errors
    return []


def _element(element: Any, here: str) -> list[str]:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [f"must provide an object [json-pointer:{here}]"]
    errors = _length(element.get("action_id"), 255, f"{here}/action_id")
    if element["type"] == "button":
        errors += _text(element.get("text"), BUTTON_TEXT, f"{here}/text", plain=True)
        errors += _length(element.get("value"), 2000, f"{here}/value")
        errors += _length(element.get("url"), 3000, f"{here}/url")
        if element.get("style") not in (None, "primary", "danger"):
            errors.append(f"must be one of primary, danger [json-pointer:{here}/style]")
    return errors


def _text(obj: Any, most: int, here: str, *, plain: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"must provide an object [json-pointer:{here}]"]
    kind = obj.get("type")
    if plain and kind != "plain_text":
        return [f"must be plain_text [json-pointer:{here}/type]"]
    if kind not in TEXT_TYPES:
        return [f"must be one of plain_text, mrkdwn [json-pointer:{here}/type]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{here}/text]"]
    return _length(text, most, f"{here}/text")


def _length(value: Any, most: int, here: str) -> list[str]:
    if isinstance(value, str) and len(value) > most:
        return [f"must be less than {most + 1} characters [json-pointer:{here}]"]
    return []
