"""The show verb: an incident's whole timeline, and where each public update went."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from commands import verbs as v
from commands.context import Context, Reply
from commands.lookup import duration, get_incident, short_time
from commands.queries import headline
from commands.wording import pick_locale, render_update
from storage import channels as channel_store
from storage import components as component_store
from storage import deliveries as delivery_store
from storage import updates as update_store
from storage.models import (
    Channel,
    Delivery,
    DeliveryState,
    IncidentKind,
    IncidentStatus,
    Owner,
    UpdateKind,
)
from storage.platforms import spec

DETAIL_LIMIT = 10


def _shown_address(channel: Channel) -> str:
    """A channel's address as `show` prints it to a chat room (a webhook by its host only,
    a subscriber's not at all)."""
    if channel.is_subscriber:
        return "subscriber"
    return spec(channel.platform).address.shown(channel.address)


def _delivery_line(delivery: Delivery, channel: Channel | None, ctx: Context) -> str:
    where = (
        f"#{delivery.channel_id} {channel.platform.value} {_shown_address(channel)}"
        if channel is not None
        else f"#{delivery.channel_id} (removed)"
    )
    what = f" correction {delivery.revision}" if delivery.revision > 0 else ""
    if delivery.revision < 0:
        what = " status on the first message"
    state = DeliveryState(delivery.state)
    if state == DeliveryState.SENT:
        status = f"delivered {short_time(delivery.sent_at, ctx.zone)}"
    elif state == DeliveryState.DEAD:
        status = f"dead after {delivery.attempts} attempts: {delivery.last_error or 'unknown'}"
    else:
        status = f"pending, next attempt {short_time(delivery.next_attempt_at, ctx.zone)}"
        if state == DeliveryState.FAILED:
            status = (
                f"failed {delivery.attempts}× ({delivery.last_error or 'unknown'}), "
                f"next attempt {short_time(delivery.next_attempt_at, ctx.zone)}"
            )
        if channel is not None and not channel.enabled:
            status += f" — channel disabled: {channel.disabled_reason or 'by hand'}"
    return f"    → {where}{what}: {status}"


def _subscribers_line(states: dict[DeliveryState, int]) -> str:
    total = sum(states.values())
    parts = ", ".join(f"{n} {state.value}" for state, n in sorted(states.items()))
    return f"    → subscribers: {total} ({parts})"


def _deliveries_of(
    deliveries: Sequence[Delivery], channels: dict[int, Channel], ctx: Context
) -> list[str]:
    if not deliveries:
        return ["    → no channel follows it"]
    lines = [_delivery_line(d, channels.get(d.channel_id), ctx) for d in deliveries[:DETAIL_LIMIT]]
    if len(deliveries) > DETAIL_LIMIT:
        rest = Counter(DeliveryState(d.state).value for d in deliveries[DETAIL_LIMIT:])
        summary = ", ".join(f"{n} {state}" for state, n in sorted(rest.items()))
        lines.append(f"    → … and {len(deliveries) - DETAIL_LIMIT} more: {summary}")
    return lines


def show_incident(command: v.ShowIncident, ctx: Context) -> Reply:
    """An incident with its timeline, internal notes included, and where each update went."""
    with ctx.sessions() as session:
        incident = get_incident(session, command.incident_id)
        assert incident.id is not None
        keys = [
            c.key
            for c in component_store.list_components_of(session=session, incident_id=incident.id)
        ]
        timeline = update_store.list_updates(session=session, incident_id=incident.id)
        update_ids = [u.id for u in timeline if u.id is not None]
        deliveries = delivery_store.list_deliveries_of_updates(
            session=session, update_ids=update_ids
        )
        people = delivery_store.count_subscriber_deliveries(session=session, update_ids=update_ids)
        channels = {
            c.id: c
            for c in channel_store.list_channels(session=session, owner=Owner.OPERATOR)
            if c.id is not None
        }
    by_update: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_update[delivery.update_id].append(delivery)
    lines = [headline(incident, ctx, keys)]
    opened = f"Opened {short_time(incident.opened_at, ctx.zone)} by {incident.opened_by}"
    if incident.closed_at is not None:
        took = duration((incident.closed_at - incident.opened_at).total_seconds())
        opened += f" · closed {short_time(incident.closed_at, ctx.zone)} after {took}"
    lines.append(opened)
    locale = pick_locale(ctx.locale)
    for update in timeline:
        post = render_update(incident, update, locale=locale, zone=ctx.zone)
        tag = (
            post.label
            if update.public
            else "nudge"
            if post.kind == UpdateKind.NUDGE
            else "internal"
        )
        edited = " (edited)" if update.revision else ""
        lines.append(
            f"#{update.number} {short_time(update.at, ctx.zone)} {tag} "
            f"[{update.status.value}] by {update.author}{edited}"
        )
        lines.extend("    " + line for line in post.body.splitlines())
        if update.public and update.id is not None:
            sent = by_update.get(update.id, [])
            if sent or update.id not in people:
                lines.extend(_deliveries_of(sent, channels, ctx))
            if update.id in people:
                lines.append(_subscribers_line(people[update.id]))
    return Reply("\n".join(lines), incident_id=incident.id)


@dataclass(frozen=True)
class IncidentBrief:
    """Enough of an incident to tell whether a button on it still applies."""

    incident_id: int
    title: str
    kind: IncidentKind
    status: IncidentStatus


def brief_incident(ctx: Context, incident_id: int) -> IncidentBrief:
    """An incident's title, kind and status, or a refusal that points at `list`."""
    with ctx.sessions() as session:
        incident = get_incident(session, incident_id)
        return IncidentBrief(incident_id, incident.title, incident.kind, incident.status)
