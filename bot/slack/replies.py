"""Herald's answers as Block Kit: replies, refusals, and the managers' summary."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.delivery.slack_format import MAX_BLOCKS, SECTION_LIMIT, mrkdwn_escape
from bot.delivery.telegram_format import split_text
from bot.frontend.answers import Refusal, RefusalKind
from commands.context import Reply
from commands.lookup import duration, incident_url, ref, short_time
from commands.queries import SummaryView

Message = tuple[str, list[dict[str, Any]]]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def reply_message(reply: Reply, *, public_url: str, incident_channel: str | None = None) -> Message:
    """A reply: one line as a sentence, several as a code block (show, list, help)."""
    text = mrkdwn_escape(reply.text)
    if "\n" in reply.text:
        chunks = split_text(text, SECTION_LIMIT - 8)
        blocks = [_section(f"```{chunk}```") for chunk in chunks][: MAX_BLOCKS - 1]
    else:
        blocks = [_section(text)]
    notes = []
    if reply.incident_id is not None:
        url = incident_url(public_url, reply.incident_id)
        notes.append(f"<{url}|{ref(reply.incident_id)} on the status page>")
    if reply.changed and reply.incident_id is not None and incident_channel:
        notes.append(f"Announced in <#{incident_channel}>")
    if notes:
        blocks.append(_context(" · ".join(notes)))
    return text[:3000], blocks


def refusal_message(refusal: Refusal, *, responders: str = "") -> Message:
    """A refusal in one line; under a NotAllowed, who the responders are."""
    text = mrkdwn_escape(refusal.text)
    blocks = [_section(text)]
    if refusal.kind == RefusalKind.NOT_ALLOWED and responders:
        blocks.append(_context(f"Responders: {responders}"))
    return text, blocks


def summary_message(view: SummaryView, zone: ZoneInfo) -> Message:
    """The managers' summary: counts, time to resolve, the longest, impact per component."""
    period = view.period
    span = f"{short_time(period.start, zone)} → {short_time(period.end, zone)}"
    by_sev = " · ".join(f"SEV{s} {n}" for s, n in view.opened_by_severity.items())
    fields = [
        f"*Incidents opened*\n{view.opened} ({by_sev})",
        f"*Open now*\n{view.open_now}",
        f"*Resolved*\n{view.resolved}",
        "*Mean time to resolve*\n"
        + (duration(view.mean_time_to_resolve) if view.mean_time_to_resolve is not None else "–"),
        "*Longest*\n"
        + (
            f"{ref(view.longest.incident_id)} {mrkdwn_escape(view.longest.title)} · "
            f"{duration(view.longest.seconds)}"
            if view.longest is not None
            else "–"
        ),
        f"*Maintenance completed*\n{view.maintenance_done}",
    ]
    impact = "\n".join(f"• {mrkdwn_escape(c.name)}: {c.minutes} min" for c in view.impact[:40])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Summary: {period.name}"}},
        _context(mrkdwn_escape(span)),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        _section(
            "*Minutes of impact per component* (SEV1–3)\n"
            + (impact or "No component was affected.")
        ),
        _context(f"Incident time in the period: {duration(view.incident_seconds)}"),
    ]
    fallback = (
        f"Summary {period.name}: {view.opened} opened, {view.resolved} resolved, "
        f"{view.open_now} open now"
    )
    return mrkdwn_escape(fallback), blocks
