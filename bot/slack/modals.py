"""The modals: Open, Update, Resolve, Add note and Edit, built from what Herald knows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.slack.forms import ComponentChoice, IncidentForm
from bot.slack.preview import preview_blocks
from commands import verbs as v
from commands.lookup import ref
from commands.parser import TITLE_LIMIT
from commands.phrases import IMPACTS
from storage.models import OPEN_INCIDENT_STATUSES, IncidentKind, IncidentStatus, UpdateKind

OPEN_VIEW, UPDATE_VIEW, RESOLVE_VIEW = "herald_open", "herald_update", "herald_resolve"
NOTE_VIEW, EDIT_VIEW = "herald_note", "herald_edit"
PREVIEW_BUTTON = "herald_preview"
VALUE = "value"  # the action_id of every input: the block_id says which field it is
INPUT_LIMIT = 3000  # Slack's longest plain_text_input
PREVIEW_KINDS = {
    OPEN_VIEW: UpdateKind.OPENED,
    UPDATE_VIEW: UpdateKind.UPDATE,
    RESOLVE_VIEW: UpdateKind.RESOLVED,
}


class ModalErrors(Exception):
    """A submission to refuse, with a message for each field (block_id -> text)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": _plain(text[:75]), "value": value}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> dict[str, Any]:
    element = {"action_id": VALUE, **element}
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }


def _text(
    block_id: str,
    label: str,
    initial: str = "",
    *,
    multiline: bool = False,
    optional: bool = False,
    limit: int = INPUT_LIMIT,
    hint: str = "",
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "multiline": multiline,
        "max_length": limit,
    }
    if initial:
        element["initial_value"] = initial[:limit]
    if hint:
        element["placeholder"] = _plain(hint)
    return _input(block_id, label, element, optional=optional)


def _severity(initial: int | None) -> dict[str, Any]:
    options = [_option(str(n), f"SEV{n} · {IMPACTS['en'][n]}") for n in (1, 2, 3, 4)]
    element: dict[str, Any] = {"type": "static_select", "options": options}
    if initial is not None:
        element["initial_option"] = options[initial - 1]
    return _input("severity", "Severity", element)


def _status(initial: IncidentStatus | None) -> dict[str, Any]:
    options = [_option(s.value, s.value) for s in OPEN_INCIDENT_STATUSES]
    element: dict[str, Any] = {"type": "static_select", "options": options}
    chosen = [o for o in options if o["value"] == (initial or IncidentStatus.INVESTIGATING)]
    if chosen:
        element["initial_option"] = chosen[0]
    return _input("status", "Status", element)


def _components(choices: Sequence[ComponentChoice], initial: Sequence[str]) -> list[dict[str, Any]]:
    if not choices:
        return []
    options = [_option(c.key, c.name) for c in choices[:100]]
    wanted = {k.lower() for k in initial}
    picked = [o for o, c in zip(options, choices, strict=False) if {c.key, c.name.lower()} & wanted]
    element: dict[str, Any] = {"type": "multi_static_select", "options": options}
    if picked:
        element["initial_options"] = picked
    return [_input("components", "Affected components", element, optional=True)]


def _preview_button() -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": "preview_actions",
        "elements": [
            {"type": "button", "action_id": PREVIEW_BUTTON, "text": _plain("Refresh preview")}
        ],
    }


def _modal(
    callback_id: str,
    title: str,
    submit: str,
    blocks: list[dict[str, Any]],
    metadata: dict[str, Any],
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title[:24]),
        "submit": _plain(submit),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(metadata, separators=(",", ":")),
        "blocks": blocks,
    }


def open_modal(
    choices: Sequence[ComponentChoice],
    prefill: v.OpenIncident | None,
    metadata: dict[str, Any],
    *,
    zone: ZoneInfo,
    now: datetime,
) -> dict[str, Any]:
    """Open an incident: title, severity, components, status, message, preview."""
    prefill = prefill or v.OpenIncident(title="")
    severity = prefill.severity or 3
    blocks = [
        _text("title", "Title", prefill.title, limit=TITLE_LIMIT, hint="Mail delivery delayed"),
        _severity(severity),
        *_components(choices, prefill.components or ()),
        _status(prefill.status),
        _text(
            "text",
            "Message to customers",
            prefill.message,
            multiline=True,
            optional=True,
            hint="Leave empty for the standard opening text",
        ),
        _preview_button(),
        *preview_blocks(
            kind=UpdateKind.OPENED,
            title=prefill.title,
            text=prefill.message,
            status=prefill.status or IncidentStatus.INVESTIGATING,
            severity=severity,
            zone=zone,
            now=now,
        ),
    ]
    return _modal(OPEN_VIEW, "Open an incident", "Open", blocks, metadata)


def _incident_metadata(form: IncidentForm, metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        **metadata,
        "incident": form.incident_id,
        "title": form.title[:TITLE_LIMIT],
        "kind": form.kind.value,
        "status": form.status.value,
        "severity": form.severity,
        "components": list(form.components),
    }


def update_modal(
    form: IncidentForm,
    choices: Sequence[ComponentChoice],
    metadata: dict[str, Any],
    *,
    zone: ZoneInfo,
    now: datetime,
) -> dict[str, Any]:
    """Post an update: the text, and status, severity and components to change on the way."""
    blocks = [_text("text", "Update for customers", multiline=True)]
    if form.kind == IncidentKind.INCIDENT:
        blocks += [_status(form.status), _severity(form.severity)]
    blocks += _components(choices, form.components)
    blocks += [_preview_button(), *_preview(form, UpdateKind.UPDATE, "", form.status, zone, now)]
    return _modal(
        UPDATE_VIEW,
        f"Update {ref(form.incident_id)}",
        "Post update",
        blocks,
        _incident_metadata(form, metadata),
    )


def resolve_modal(
    form: IncidentForm, metadata: dict[str, Any], *, zone: ZoneInfo, now: datetime
) -> dict[str, Any]:
    """Resolve: an optional closing text, and its preview."""
    blocks = [
        _text(
            "text",
            "Closing message",
            multiline=True,
            optional=True,
            hint="Leave empty for the standard closing text",
        ),
        _preview_button(),
        *_preview(form, UpdateKind.RESOLVED, "", IncidentStatus.RESOLVED, zone, now),
    ]
    return _modal(
        RESOLVE_VIEW,
        f"Resolve {ref(form.incident_id)}",
        "Resolve",
        blocks,
        _incident_metadata(form, metadata),
    )


def note_modal(form: IncidentForm, metadata: dict[str, Any]) -> dict[str, Any]:
    """Add an internal note; it never reaches customers, so there is nothing to preview."""
    blocks = [
        _text("text", "Note (internal)", multiline=True),
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Notes stay in Herald and this channel: customers never see them.",
                }
            ],
        },
    ]
    return _modal(
        NOTE_VIEW,
        f"Note on {ref(form.incident_id)}",
        "Add note",
        blocks,
        _incident_metadata(form, metadata),
    )


def edit_modal(
    form: IncidentForm, metadata: dict[str, Any], *, zone: ZoneInfo, now: datetime
) -> dict[str, Any]:
    """Correct the last public update, wherever it was posted."""
    last = form.last_public
    assert last is not None
    stored = {
        **_incident_metadata(form, metadata),
        "update": last.number,
        "update_kind": last.kind.value,
    }
    blocks = [
        _text("text", f"Corrected text of update #{last.number}", last.text, multiline=True),
        _preview_button(),
        *_preview(
            form, last.kind, last.text, form.status, zone, now, number=last.number, edited=True
        ),
    ]
    return _modal(EDIT_VIEW, f"Edit update #{last.number}", "Correct", blocks, stored)


def _preview(
    form: IncidentForm,
    kind: UpdateKind,
    text: str,
    status: IncidentStatus,
    zone: ZoneInfo,
    now: datetime,
    *,
    number: int = 2,
    edited: bool = False,
) -> list[dict[str, Any]]:
    return preview_blocks(
        kind=kind,
        title=form.title,
        text=text,
        status=status,
        severity=form.severity,
        zone=zone,
        now=now,
        incident_kind=form.kind,
        incident_id=form.incident_id,
        number=number,
        edited=edited,
    )
