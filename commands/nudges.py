"""Nudges: telling responders that customers have heard nothing about an incident for a while."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from commands.context import SCHEDULER, Context
from commands.incidents import append_update
from commands.lookup import get_incident, ref
from storage import incidents as incident_store
from storage.models import UpdateKind


def nudge_text(incident_id: int, minutes: int) -> str:
    """What responders read when customers have heard nothing for `minutes`."""
    ago = "1 minute" if minutes == 1 else f"{minutes} minutes"
    return f"Customers last heard from us {ago} ago — `/incident update {ref(incident_id)} …`"


def _is_quiet(
    last_public_at: datetime, nudged_at: datetime | None, quiet: timedelta, now: datetime
) -> bool:
    # One nudge per quiet period: a public update since the last nudge starts a new one.
    return now - last_public_at >= quiet and (nudged_at is None or nudged_at <= last_public_at)


def nudge_quiet_incidents(ctx: Context, quiet_minutes: Mapping[int, int]) -> list[int]:
    """Nudge the responders of every open incident quiet for longer than its severity allows.

    The nudge is an internal timeline entry, so it reaches the incident's Slack thread,
    the Telegram incident chat and the Telegram chat the incident was opened in through
    the outbox, and never a customer. It is claimed on the incident row (nudged_at) in
    the same transaction, so it goes out once.
    """
    now = ctx.now()
    scheduler = Context(ctx.sessions, ctx.zone, ctx.locale, SCHEDULER, ctx.now)
    with ctx.sessions() as session:
        quiet_ones = [
            found
            for found in incident_store.list_quiet_candidates(
                session=session, severities=sorted(quiet_minutes)
            )
            if _is_quiet(
                found.last_public_at,
                found.nudged_at,
                timedelta(minutes=quiet_minutes[found.severity]),
                now,
            )
        ]
    nudged: list[int] = []
    for found in quiet_ones:
        with ctx.sessions() as session, session.begin():
            incident = get_incident(session, found.incident_id, for_change=True)
            # Under the row lock, what customers were last told may have moved on: an
            # update saved since the first look starts a new quiet period.
            now_found = incident_store.list_quiet_candidates(
                session=session, severities=sorted(quiet_minutes), incident_id=found.incident_id
            )
            if not now_found or not _is_quiet(
                now_found[0].last_public_at,
                now_found[0].nudged_at,
                timedelta(minutes=quiet_minutes[now_found[0].severity]),
                now,
            ):
                continue  # resolved, updated or nudged meanwhile
            minutes = math.floor((now - now_found[0].last_public_at).total_seconds() / 60)
            incident.nudged_at = now
            session.add(incident)
            append_update(
                session,
                scheduler,
                incident,
                kind=UpdateKind.NUDGE,
                text=nudge_text(found.incident_id, minutes),
                at=now,
                public=False,
            )
            nudged.append(found.incident_id)
    return nudged
