"""A modal's values read back: the command it submits, or its preview refreshed."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.slack.modals import (
    EDIT_VIEW,
    NOTE_VIEW,
    OPEN_VIEW,
    PREVIEW_KINDS,
    RESOLVE_VIEW,
    UPDATE_VIEW,
    VALUE,
    ModalErrors,
)
from bot.slack.preview import preview_blocks
from commands import verbs as v
from commands.errors import UsageError
from commands.parser import TEXT_LIMIT, TITLE_LIMIT, clean_text
from commands.text import is_blank
from storage.models import IncidentKind, IncidentStatus, UpdateKind

VIEW_KEYS = ("type", "callback_id", "title", "submit", "close", "private_metadata")


def metadata_of(view: dict[str, Any]) -> dict[str, Any]:
    """What the modal's opener stored in private_metadata."""
    try:
        stored = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return stored if isinstance(stored, dict) else {}


class _State:
    """Typed reads of `view.state.values`."""

    def __init__(self, view: dict[str, Any]) -> None:
        self.values: dict[str, dict[str, Any]] = (view.get("state") or {}).get("values") or {}

    def has(self, block: str) -> bool:
        return block in self.values

    def element(self, block: str) -> dict[str, Any]:
        return self.values.get(block, {}).get(VALUE) or {}

    def text(self, block: str) -> str:
        return str(self.element(block).get("value") or "")

    def choice(self, block: str) -> str | None:
        option = self.element(block).get("selected_option")
        return None if not option else str(option.get("value"))

    def choices(self, block: str) -> tuple[str, ...] | None:
        if not self.has(block):
            return None
        return tuple(str(o.get("value")) for o in self.element(block).get("selected_options") or [])


def _clean(
    text: str,
    *,
    what: str,
    limit: int,
    block: str,
    errors: dict[str, str],
    required: str = "",
    single_line: bool = False,
) -> str:
    try:
        cleaned = clean_text(text, what=what, limit=limit, single_line=single_line)
    except UsageError as error:
        errors[block] = error.message
        return ""
    if required and is_blank(cleaned):
        errors[block] = required
    return cleaned


def read_submission(view: dict[str, Any]) -> v.Command:
    """The command a submitted modal asks for; ModalErrors names each field to fix."""
    callback, meta, state = view.get("callback_id", ""), metadata_of(view), _State(view)
    errors: dict[str, str] = {}
    severity = state.choice("severity")
    status_word = state.choice("status")
    status = None if status_word is None else IncidentStatus(status_word)
    if callback == OPEN_VIEW:
        title = _clean(
            state.text("title"),
            what="title",
            limit=TITLE_LIMIT,
            block="title",
            errors=errors,
            required="Give the incident a title.",
            single_line=True,
        )
        message = _clean(
            state.text("text"), what="message", limit=TEXT_LIMIT, block="text", errors=errors
        )
        if errors:
            raise ModalErrors(errors)
        return v.OpenIncident(
            title=title,
            severity=int(severity) if severity else None,
            components=state.choices("components") or None,
            status=status,
            message=message,
        )
    incident_id = int(meta.get("incident") or 0)
    required = {
        UPDATE_VIEW: "Write what customers will read.",
        NOTE_VIEW: "Write the note.",
        EDIT_VIEW: "Write the corrected text.",
    }.get(callback, "")
    text = _clean(
        state.text("text"),
        what="text",
        limit=TEXT_LIMIT,
        block="text",
        errors=errors,
        required=required,
    )
    if errors:
        raise ModalErrors(errors)
    if callback == UPDATE_VIEW:
        components = state.choices("components")
        if components is not None and set(components) == set(meta.get("components") or []):
            components = None
        return v.PostUpdate(
            incident_id=incident_id,
            text=text,
            status=None if status is None or status.value == meta.get("status") else status,
            severity=None
            if not severity or int(severity) == meta.get("severity")
            else int(severity),
            components=components,
        )
    if callback == RESOLVE_VIEW:
        return v.ResolveIncident(incident_id, text)
    if callback == NOTE_VIEW:
        return v.AddNote(incident_id, text)
    if callback == EDIT_VIEW:
        return v.EditUpdate(incident_id, text, number=int(meta.get("update") or 0) or None)
    raise ModalErrors({"text": "This form is from an older Herald; close it and start again."})


def _with_initial(block: dict[str, Any], state: _State) -> dict[str, Any]:
    block_id = block.get("block_id", "")
    if block.get("type") != "input" or not state.has(block_id):
        return block
    element = block["element"]
    for key in ("initial_value", "initial_option", "initial_options"):
        element.pop(key, None)
    current = state.element(block_id)
    if current.get("value"):
        element["initial_value"] = current["value"]
    if current.get("selected_option"):
        element["initial_option"] = current["selected_option"]
    if current.get("selected_options"):
        element["initial_options"] = current["selected_options"]
    return block


def refreshed_view(view: dict[str, Any], *, zone: ZoneInfo, now: datetime) -> dict[str, Any]:
    """The same modal with what was typed kept and the preview rendered from it."""
    callback, meta, state = view.get("callback_id", ""), metadata_of(view), _State(view)
    fresh = {k: copy.deepcopy(view[k]) for k in VIEW_KEYS if k in view}
    blocks = [
        _with_initial(copy.deepcopy(b), state)
        for b in view.get("blocks") or []
        if not str(b.get("block_id", "")).startswith("preview_")
        or b["block_id"] == "preview_actions"
    ]
    kind = PREVIEW_KINDS.get(callback)
    if callback == EDIT_VIEW:
        kind = UpdateKind(meta.get("update_kind") or UpdateKind.UPDATE)
    if kind is not None:
        severity = state.choice("severity") or meta.get("severity")
        status_word = state.choice("status") or meta.get("status") or "investigating"
        blocks += preview_blocks(
            kind=kind,
            title=state.text("title") if callback == OPEN_VIEW else str(meta.get("title", "")),
            text=state.text("text"),
            status=IncidentStatus.RESOLVED
            if callback == RESOLVE_VIEW
            else IncidentStatus(status_word),
            severity=int(severity) if severity else None,
            zone=zone,
            now=now,
            incident_kind=IncidentKind(meta.get("kind") or IncidentKind.INCIDENT),
            incident_id=int(meta.get("incident") or 0),
            number=int(meta.get("update") or 2) if callback != OPEN_VIEW else 1,
            edited=callback == EDIT_VIEW,
        )
    fresh["blocks"] = blocks
    return fresh
