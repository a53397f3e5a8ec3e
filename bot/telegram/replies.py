"""Herald's answers in Telegram HTML: every user text escaped, long answers split under 4,096."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from bot.delivery.telegram_format import split_text, visible
from bot.frontend.answers import Refusal
from bot.status.texts import SYMBOLS, TEXTS
from commands.context import Reply
from commands.current_status import CurrentStatus
from commands.lookup import duration, incident_url, ref, short_time
from commands.queries import SummaryView

# Telegram counts 4,096 UTF-16 units after entity parsing; a margin for the joins.
LIMIT = 4000
# Plain text is cut into pieces this long before escaping, so no tag or entity is ever cut;
# at two UTF-16 units a character at worst, a piece always fits.
PIECE = 1900
PREVIEW = 600


def utf16_len(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _text(text: str) -> list[str]:
    return [escape(piece, quote=False) for piece in split_text(text, PIECE)]


def _pre(text: str) -> list[str]:
    return [f"<pre>{escape(piece, quote=False)}</pre>" for piece in split_text(text, PIECE)]


def pack(pieces: list[str], limit: int = LIMIT) -> list[str]:
    """Whole HTML pieces joined into as few messages as fit, in order, none cut."""
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        length = utf16_len(visible(piece))
        if current and size + 1 + length > limit:
            messages.append("\n".join(current))
            current, size = [], 0
        current.append(piece)
        size += length + (1 if size else 0)
    if current:
        messages.append("\n".join(current))
    return messages or [""]


def reply_html(reply: Reply, *, public_url: str, incident_chat: bool = False) -> list[str]:
    """A reply: one line as a sentence, several as preformatted text; a link to the page."""
    pieces = _pre(reply.text) if "\n" in reply.text else _text(reply.text)
    notes = []
    if reply.incident_id is not None:
        url = escape(incident_url(public_url, reply.incident_id))
        notes.append(f'<a href="{url}">{ref(reply.incident_id)} on the status page</a>')
    if reply.changed and reply.incident_id is not None and incident_chat:
        notes.append("announced in the incident chat")
    if notes:
        pieces.append(f"<i>{' · '.join(notes)}</i>")
    return pack(pieces)


def refusal_html(refusal: Refusal) -> list[str]:
    """A refusal in one line."""
    return pack(_text(refusal.text))


def summary_html(view: SummaryView, zone: ZoneInfo) -> list[str]:
    """The managers' summary: counts, time to resolve, the longest, impact per component."""
    period = view.period
    by_sev = " · ".join(f"SEV{s} {n}" for s, n in view.opened_by_severity.items())
    mttr = view.mean_time_to_resolve
    longest = view.longest
    lines = [
        f"<b>Summary: {escape(period.name)}</b>",
        f"<i>{escape(short_time(period.start, zone))} → {escape(short_time(period.end, zone))}</i>",
        f"<b>Incidents opened:</b> {view.opened} ({by_sev})",
        f"<b>Resolved:</b> {view.resolved} · <b>open now:</b> {view.open_now}",
        f"<b>Mean time to resolve:</b> {duration(mttr) if mttr is not None else '–'}",
        "<b>Longest:</b> "
        + (
            f"{ref(longest.incident_id)} {escape(longest.title)} · {duration(longest.seconds)}"
            if longest is not None
            else "–"
        ),
        f"<b>Maintenance completed:</b> {view.maintenance_done}",
        f"<b>Incident time in the period:</b> {duration(view.incident_seconds)}",
        "<b>Minutes of impact per component</b> (SEV1–3)",
    ]
    impact = [f"• {escape(c.name)}: {c.minutes} min" for c in view.impact]
    return pack(lines + (impact or ["No component was affected."]))


def status_html(status: CurrentStatus, *, public_url: str, zone: ZoneInfo) -> list[str]:
    """What customers see now: the banner, each component, and what is open, as on the page."""
    words = TEXTS[status.locale]
    overall = status.overall
    banner = "maintenance" if overall.maintenance and overall.indicator == "none" else None
    key = banner or overall.indicator
    pieces = [f"<b>{SYMBOLS[key]} {escape(words[f'banner_{key}'])}</b>"]
    pieces += [
        f"{SYMBOLS[c.state]} {escape(c.component.name)}: {escape(words[f'state_{c.state}'])}"
        for c in status.components
    ]
    for incident in (*status.incidents, *status.maintenance):
        url = escape(incident_url(public_url, incident.id))
        head = f'<b><a href="{url}">{escape(incident.ref)}</a> {escape(incident.display_title)}</b>'
        pieces.append(f"\n{head}\n<i>{escape(incident.status_label)}</i>")
        if incident.timeline:
            post = incident.timeline[-1].post
            body = post.body if len(post.body) <= PREVIEW else post.body[: PREVIEW - 1] + "…"
            pieces.append(f"{escape(post.stamp)}: {escape(body)}")
    pieces.append(f'\n<a href="{escape(public_url)}">{escape(public_url)}</a>')
    return pack(pieces)


def _when(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    """`14:50`, with the day when it is not today's: `28/11 14:50`."""
    local = moment.astimezone(zone)
    today = now.astimezone(zone).date()
    return local.strftime("%H:%M" if local.date() == today else "%d/%m %H:%M")


def stale_text(sent_at: datetime, zone: ZoneInfo, now: datetime) -> str:
    """Why a command that waited out an outage was not run."""
    at = _when(sent_at, zone, now)
    return f"Not run: sent at {at}, Herald was unreachable — send it again if it still applies."


def unfinished_text(received_at: datetime, zone: ZoneInfo, now: datetime) -> str:
    """Why a command a process died running needs checking before it is sent again."""
    at = _when(received_at, zone, now)
    return (
        f"Herald stopped while running this (received at {at}), so it may or may not have "
        "taken effect: check with /incident list before sending it again."
    )
