"""What customers would read, in each language, for a modal's current values."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.delivery.slack_format import mrkdwn_escape
from commands.wording import LOCALES, render_update
from storage.models import Incident, IncidentKind, IncidentStatus, Update, UpdateKind

PREVIEW_LIMIT = 2800
LANGUAGE = {"it": "Italian", "en": "English"}


def preview_blocks(
    *,
    kind: UpdateKind,
    title: str,
    text: str,
    status: IncidentStatus,
    severity: int | None,
    zone: ZoneInfo,
    now: datetime,
    incident_kind: IncidentKind = IncidentKind.INCIDENT,
    incident_id: int = 0,
    number: int = 1,
    edited: bool = False,
) -> list[dict[str, Any]]:
    """A context line and the post per locale, rendered by the same wording customers get."""
    incident = Incident(
        id=incident_id,
        kind=incident_kind,
        title=title.strip() or "…",
        severity=severity,
        status=status,
        opened_by="",
        opened_at=now,
        changed_at=now,
        closed_at=now if status.is_closed else None,
    )
    update = Update(
        incident_id=incident_id,
        number=number,
        kind=kind,
        status=status,
        severity=severity,
        text=text,
        author="",
        front_end="slack",
        at=now,
        revision=1 if edited else 0,
    )
    blocks: list[dict[str, Any]] = []
    for locale in LOCALES:
        post = render_update(incident, update, locale=locale, zone=zone)
        shown = post.as_text()
        if len(shown) > PREVIEW_LIMIT:
            shown = shown[: PREVIEW_LIMIT - 1] + "…"
        blocks.append(
            {
                "type": "context",
                "block_id": f"preview_label_{locale}",
                "elements": [
                    {"type": "mrkdwn", "text": f"Customers reading {LANGUAGE[locale]} will see:"}
                ],
            }
        )
        blocks.append(
            {
                "type": "section",
                "block_id": f"preview_{locale}",
                "text": {"type": "mrkdwn", "text": mrkdwn_escape(shown)},
            }
        )
    return blocks
