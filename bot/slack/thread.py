"""The incident channel's messages: a root per incident with buttons, the timeline in its thread.

Rendered by the delivery worker for the internal channel only, so the responder-only
details (severity, who, buttons) never reach a customer channel.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.delivery.jobs import DeliveryJob, IncidentFacts
from bot.delivery.slack_format import HEADER_LIMIT, MAX_BLOCKS, SECTION_LIMIT, mrkdwn_escape
from bot.delivery.telegram_format import split_text
from bot.frontend.incident_text import severity_text
from commands.lookup import duration, incident_url, ref
from commands.phrases import EDITED
from storage.models import IncidentKind, UpdateKind

UPDATE_BUTTON = "herald_update"
RESOLVE_BUTTON = "herald_resolve"
NOTE_BUTTON = "herald_note"
EDIT_BUTTON = "herald_edit"
BUTTON_LABELS = {
    UPDATE_BUTTON: "Update",
    RESOLVE_BUTTON: "Resolve",
    NOTE_BUTTON: "Add note",
    EDIT_BUTTON: "Edit last update",
}


def slack_date(moment: datetime, tokens: str, fallback: str | None = None) -> str:
    """A time every reader sees in their own zone (`<!date^…>`), with a fallback."""
    shown = fallback or moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{tokens}|{mrkdwn_escape(shown)}>"


def _status(facts: IncidentFacts) -> str:
    return facts.status.value.replace("_", " ")


def _duration(facts: IncidentFacts) -> str:
    if facts.kind == IncidentKind.MAINTENANCE and facts.window_start and facts.window_end:
        start = slack_date(facts.window_start, "{date_short} {time}")
        end = slack_date(facts.window_end, "{date_short} {time}")
        return f"window {start} → {end}"
    if facts.closed_at is not None:
        took = duration((facts.closed_at - facts.opened_at).total_seconds())
        return f"{_status(facts)} after {took}"
    return "open, opened " + slack_date(facts.opened_at, "{ago}")


def buttons(incident_id: int, facts: IncidentFacts) -> dict[str, Any]:
    """Update / Resolve / Add note / Edit last update, as far as the incident's state allows."""
    wanted = [NOTE_BUTTON, EDIT_BUTTON]
    if not facts.status.is_closed:
        first = [UPDATE_BUTTON]
        if facts.kind == IncidentKind.INCIDENT:
            first.append(RESOLVE_BUTTON)
        wanted = first + wanted
    elements = [
        _button(action_id, incident_id, primary=action_id == RESOLVE_BUTTON) for action_id in wanted
    ]
    return {"type": "actions", "block_id": f"incident-{incident_id}", "elements": elements}


def _button(action_id: str, incident_id: int, *, primary: bool = False) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": BUTTON_LABELS[action_id]},
        "value": str(incident_id),
    }
    if primary:
        button["style"] = "primary"
    return button


def _header(text: str) -> dict[str, Any]:
    if len(text) > HEADER_LIMIT:
        text = text[: HEADER_LIMIT - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": False}}


def _sections(text: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
        for chunk in split_text(text, SECTION_LIMIT)
        if chunk.strip()
    ]


def incident_root(job: DeliveryJob, public_url: str) -> tuple[str, list[dict[str, Any]]]:
    """The incident's first message as it should read now: its facts, its opening, buttons."""
    facts = job.facts
    assert facts is not None
    locale = job.post.locale
    name = ref(job.incident_id)
    fields = [
        f"*Severity*\n{severity_text(facts.severity, locale)}",
        f"*Status*\n{_status(facts)}",
        f"*Components*\n{mrkdwn_escape(', '.join(facts.components) or 'none')}",
        f"*Opened by*\n{mrkdwn_escape(facts.opened_by)}",
        "*Opened*\n"
        + slack_date(facts.opened_at, "{date_short_pretty} {time}", job.root.post.stamp),
        f"*Duration*\n{_duration(facts)}",
    ]
    post = job.root.post
    opening = mrkdwn_escape(f"{post.headline}\n{post.stamp}\n{post.body}".strip())
    url = incident_url(public_url, job.incident_id)
    blocks: list[dict[str, Any]] = [
        _header(f"{name} · {job.root.title}"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        *_sections(f"*What customers read*\n{opening}"),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{url}|Status page>"}]},
    ]
    blocks = [*blocks[: MAX_BLOCKS - 1], buttons(job.incident_id, facts)]
    fallback = mrkdwn_escape(
        f"{name} {severity_text(facts.severity, locale)} {_status(facts)}: {job.root.title}"
    )
    return fallback, blocks


def incident_reply(job: DeliveryJob) -> tuple[str, list[dict[str, Any]]]:
    """One timeline entry in the incident's thread: an update as customers read it, or a note."""
    facts = job.facts
    assert facts is not None
    post = job.post
    if post.kind == UpdateKind.NUDGE:
        return nudge_reply(job)
    author = mrkdwn_escape(facts.update_author)
    if facts.update_public:
        lead = (
            f"*{mrkdwn_escape(post.label)}* #{facts.update_number} · {_status_at(job)} · {author}"
        )
    else:
        lead = f"*Internal note* #{facts.update_number} · {author} · not sent to customers"
    stamp = f"{post.stamp} {EDITED[post.locale]}" if post.edited else post.stamp
    body = mrkdwn_escape(post.body) or "_(no text)_"
    blocks = _sections(f"{lead}\n{body}")[: MAX_BLOCKS - 1]
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn_escape(stamp)}]}
    )
    return mrkdwn_escape(f"{post.label} #{facts.update_number}: {post.body}")[:3000], blocks


def nudge_reply(job: DeliveryJob) -> tuple[str, list[dict[str, Any]]]:
    """Herald's nudge in the thread: what it says, the incident it is about, an Update button.

    The text's backticked command stays code: mrkdwn_escape leaves backticks alone.
    """
    facts = job.facts
    assert facts is not None
    post = job.post
    about = mrkdwn_escape(f"{ref(job.incident_id)} · {job.root.title}")
    body = mrkdwn_escape(post.body)
    blocks = _sections(f":alarm_clock: *Nudge* · {about}\n{body}")[: MAX_BLOCKS - 2]
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn_escape(post.stamp)}]}
    )
    if not facts.status.is_closed:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"incident-{job.incident_id}",
                "elements": [_button(UPDATE_BUTTON, job.incident_id, primary=True)],
            }
        )
    return f":alarm_clock: {about}: {body}"[:3000], blocks


def _status_at(job: DeliveryJob) -> str:
    status = job.update_status.replace("_", " ")
    facts = job.facts
    if facts is not None and facts.update_severity is not None:
        return f"SEV{facts.update_severity} {status}"
    return status
