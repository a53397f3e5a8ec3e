"""The incident chat's messages: a root per incident with buttons, the timeline as its replies.

Rendered by the delivery worker for responders' channels only (the incident chat, and the
nudges of a chat where an incident was opened), so the responder-only details (severity,
who, notes, buttons) never reach a customer chat.
"""

from __future__ import annotations

import re
from html import escape

from bot.delivery.jobs import DeliveryJob
from bot.delivery.telegram_format import split_text
from bot.frontend.incident_text import severity_text
from bot.telegram.replies import PIECE, pack
from commands.lookup import duration, incident_url, ref
from commands.phrases import EDITED
from storage.models import IncidentKind, UpdateKind

# A backticked span of text that is already escaped, such as a command to type.
CODE = re.compile(r"`([^`\n]+)`")


def _body(text: str) -> list[str]:
    return [escape(piece, quote=False) for piece in split_text(text, PIECE) if piece.strip()]


def incident_root_html(job: DeliveryJob, public_url: str) -> list[str]:
    """The incident's first message as it should read now: its facts, its opening, a link."""
    facts = job.facts
    assert facts is not None
    post = job.root.post
    status = facts.status.value.replace("_", " ")
    if facts.kind == IncidentKind.MAINTENANCE and facts.window_start and facts.window_end:
        state = f"{status}, window {escape(post.stamp)}"
    elif facts.closed_at is not None:
        state = f"{status} after {duration((facts.closed_at - facts.opened_at).total_seconds())}"
    else:
        state = status
    url = escape(incident_url(public_url, job.incident_id))
    pieces = [
        f"<b>{ref(job.incident_id)} · {escape(job.root.title, quote=False)}</b>",
        f"{escape(severity_text(facts.severity, post.locale))} · {escape(state)}",
        f"<b>Components:</b> {escape(', '.join(facts.components) or 'none')}",
        f"<b>Opened by:</b> {escape(facts.opened_by)} · {escape(post.stamp)}",
        "<b>What customers read</b>",
        f"<i>{escape(post.headline, quote=False)}</i>",
        *_body(post.body),
        f'<a href="{url}">Status page</a>',
    ]
    return pack(pieces)


def incident_reply_html(job: DeliveryJob) -> list[str]:
    """One timeline entry, as a reply to the root: an update as customers read it, or a note."""
    facts = job.facts
    assert facts is not None
    post = job.post
    if post.kind == UpdateKind.NUDGE:
        return nudge_html(job)
    author = escape(facts.update_author)
    if facts.update_public:
        status = job.update_status.replace("_", " ")
        if facts.update_severity is not None:
            status = f"SEV{facts.update_severity} {status}"
        lead = f"<b>{escape(post.label)}</b> #{facts.update_number} · {escape(status)} · {author}"
    else:
        lead = f"<b>Internal note</b> #{facts.update_number} · {author} · not sent to customers"
    stamp = f"{post.stamp} {EDITED[post.locale]}" if post.edited else post.stamp
    return pack([lead, *(_body(post.body) or ["<i>(no text)</i>"]), f"<i>{escape(stamp)}</i>"])


def nudge_html(job: DeliveryJob) -> list[str]:
    """Herald's nudge: the incident it is about, what it says, with its command as code.

    The same words as a reply to the root in the incident chat and on their own in the
    chat where the incident was opened, so it names the incident it is about.
    """
    post = job.post
    about = escape(f"{ref(job.incident_id)} · {job.root.title}", quote=False)
    body = CODE.sub(r"<code>\1</code>", escape(post.body, quote=False))
    return pack([f"⏰ <b>Nudge</b> · {about}", body, f"<i>{escape(post.stamp)}</i>"])
