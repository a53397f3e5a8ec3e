"""What operators see and do about subscribers: counts in `channels list`, and the people
themselves only through `herald subscribers` at the command line."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from commands.context import Context, Reply
from commands.errors import Refused
from storage import audit as audit_store
from storage import channels as channel_store
from storage import subscribers as store
from storage.models import Channel, Platform
from storage.platforms import PLATFORMS, spec

EXPORT_FIELDS = ("platform", "address", "language", "components", "enabled", "subscribed_at")


@dataclass(frozen=True)
class SubscriberCounts:
    """One platform's subscribers: in all, following everything, per component, stopped."""

    platform: Platform
    total: int
    everything: int
    by_component: tuple[tuple[str, int], ...]
    stopped: int


def subscriber_counts(ctx: Context) -> list[SubscriberCounts]:
    """The subscribers of each platform that has any, as counts."""
    with ctx.sessions() as session:
        per_component = store.count_subscribers(session=session)
        totals = store.count_enabled_subscribers(session=session)
        stopped = store.count_enabled_subscribers(session=session, enabled=False)
    counts = []
    for platform in PLATFORMS:
        name = platform.value
        if not totals.get(name) and not stopped.get(name):
            continue
        components = sorted(
            ((key, n) for (p, key), n in per_component.items() if p == name and key is not None),
            key=lambda item: (-item[1], item[0]),
        )
        counts.append(
            SubscriberCounts(
                platform,
                totals.get(name, 0),
                per_component.get((name, None), 0),
                tuple(components),
                stopped.get(name, 0),
            )
        )
    return counts


def counts_lines(counts: list[SubscriberCounts]) -> list[str]:
    """`channels list`'s lines about subscribers (no address, ever)."""
    if not counts:
        return []
    lines = ["Subscribers (people who subscribed themselves; see herald subscribers):"]
    for one in counts:
        parts = [f"every service {one.everything}"] if one.everything else []
        parts += [f"{key} {n}" for key, n in one.by_component]
        stopped = f"; {one.stopped} stopped (blocked the bot or bounced)" if one.stopped else ""
        lines.append(
            f"  {spec(one.platform).name} {one.total}: {', '.join(parts) or 'none'}{stopped}"
        )
    return lines


def _line(channel: Channel, keys: list[str]) -> str:
    state = "enabled" if channel.enabled else f"stopped: {channel.disabled_reason or '?'}"
    follows = ",".join(keys) or "every service"
    return (
        f"#{channel.id} {channel.platform.value} {channel.address} [{channel.locale}] "
        f"{follows} — {state}"
    )


def list_subscribers(ctx: Context, platform: Platform | None = None) -> Reply:
    """Every subscriber with what they follow: for an operator's terminal only."""
    with ctx.sessions() as session:
        people = store.list_subscribers(session=session, platform=platform)
        keys = channel_store.component_keys_by_channel(session=session)
    if not people:
        return Reply("No subscribers yet.")
    return Reply("\n".join(_line(c, keys.get(c.id or 0, [])) for c in people))


def export_subscribers(ctx: Context, platform: Platform | None = None) -> str:
    """Every subscriber as CSV, for a mailing tool or a data request."""
    with ctx.sessions() as session:
        people = store.list_subscribers(session=session, platform=platform)
        keys = channel_store.component_keys_by_channel(session=session)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for channel in people:
        writer.writerow(
            [
                channel.platform.value,
                channel.address,
                channel.locale,
                " ".join(keys.get(channel.id or 0, [])),
                "yes" if channel.enabled else "no",
                channel.created_at.isoformat(),
            ]
        )
    return out.getvalue()


def remove_subscriber(ctx: Context, address: str, platform: Platform | None = None) -> Reply:
    """Delete a subscriber: the address itself, not only its deliveries."""
    with ctx.sessions() as session, session.begin():
        found = [
            c
            for c in channel_store.get_channel_by_address(
                session=session, address=address.strip(), platform=platform
            )
            if c.is_subscriber
        ]
        if not found:
            raise Refused(
                f"No subscriber has the address {address}; see them with: herald subscribers list"
            )
        if len(found) > 1:
            raise Refused(f"{address} subscribes on several platforms; add --platform NAME.")
        [channel] = found
        audit_store.create_audit_event(
            session=session,
            actor=ctx.actor.name,
            front_end=ctx.actor.front_end,
            action="subscriber_removed",
            at=ctx.now(),
            detail={"channel": channel.id, "platform": channel.platform.value},
        )
        shown = f"#{channel.id} {channel.platform.value}"
        store.delete_subscriber(session=session, channel=channel)
    return Reply(f"Removed subscriber {shown}: the address is deleted.", changed=True)
