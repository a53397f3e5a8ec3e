"""Handlers for the channels that follow incidents."""

from __future__ import annotations

import secrets

from sqlmodel import Session

from commands import verbs as v
from commands.context import Context, Reply
from commands.errors import HeraldError, Refused
from commands.lookup import get_components
from commands.subscriber_admin import counts_lines, subscriber_counts
from storage import audit as audit_store
from storage import channels as channel_store
from storage import subscribers as subscriber_store
from storage.models import Channel, Owner
from storage.platforms import PLATFORMS, spec

_PLATFORM_WIDTH = max(len(p.value) for p in PLATFORMS) + 1  # a column, a space after


class ProbeFailed(HeraldError):
    """A test message did not go through; the message says what the platform answered."""


def describe(channel: Channel, components: list[str]) -> str:
    """One line about a channel for engineers."""
    filters = [f"components {','.join(components)}"] if components else []
    if channel.min_severity is not None:
        filters.append(f"SEV{channel.min_severity} and worse")
    state = "enabled" if channel.enabled else f"DISABLED: {channel.disabled_reason or 'by hand'}"
    scope = "; ".join(filters) or "everything"
    if channel.is_internal:
        scope = "incident channel (internal: gets notes, never customers')"
    elif channel.is_ops:
        scope = "responders' chat (gets the nudges of incidents opened there, nothing else)"
    return (
        f"#{channel.id:<4} {channel.platform.value:<{_PLATFORM_WIDTH}} {channel.address} "
        f"[{channel.locale}] {scope} — {state}"
    )


def _audit(ctx: Context, session: Session, action: str, channel: Channel) -> None:
    audit_store.create_audit_event(
        session=session,
        actor=ctx.actor.name,
        front_end=ctx.actor.front_end,
        action=action,
        at=ctx.now(),
        detail={"channel": channel.id, "platform": channel.platform.value},
    )


def list_channels(command: v.ListChannels, ctx: Context) -> Reply:
    """Every channel with its filters and whether it is enabled."""
    with ctx.sessions() as session:
        channels = channel_store.list_channels(session=session, owner=Owner.OPERATOR)
        keys = channel_store.component_keys_by_channel(session=session)
    people = counts_lines(subscriber_counts(ctx))
    if not channels:
        return Reply(
            "\n".join(
                [
                    "No channels yet. Add one with: channels add telegram -1001234567890 --lang it",
                    *people,
                ]
            )
        )
    lines = [describe(c, keys.get(c.id or 0, [])) for c in channels]
    return Reply("\n".join(["Channels:", *lines, *people]))


def add_channel(command: v.AddChannel, ctx: Context) -> Reply:
    """Add a channel that follows incidents from now on."""
    with ctx.sessions() as session, session.begin():
        # An e-mail address whatever its case: one mailbox gets each mail once.
        if subscriber_store.get_subscriber(
            session=session, platform=command.platform, address=command.address
        ):
            raise Refused(
                f"{command.platform.value} {command.address} is already a channel; "
                "see: channels list"
            )
        components = get_components(session, command.components or ())
        secret = command.secret
        signed = spec(command.platform).signed
        if signed and secret is None:
            secret = secrets.token_urlsafe(24)
        channel = channel_store.create_channel(
            session=session,
            platform=command.platform,
            address=command.address,
            locale=command.locale or ctx.locale,
            min_severity=command.min_severity,
            components=components,
            secret=secret,
        )
        _audit(ctx, session, "channel_add", channel)
        text = "Added channel " + describe(channel, [c.key for c in components])
        if signed and command.secret is None:
            text += f"\nSigning secret (shown once, give it to the receiver): {secret}"
        return Reply(text, changed=True)


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 9


def find_channel(session: Session, target: str) -> Channel:
    """A channel named by `#id`, by its address, or by its bare id."""
    text = target.strip()
    # Subscribers are people, managed at the CLI (herald subscribers): a chat room never
    # names, tests or removes one, so no id walk there shows their addresses.
    if text.startswith("#") and _is_id(text[1:]):
        found = channel_store.get_channel(session=session, channel_id=int(text[1:]))
        if found is not None and not found.is_subscriber:
            return found
    else:
        matches = [
            c
            for c in channel_store.get_channel_by_address(session=session, address=text)
            if not c.is_subscriber
        ]
        if len(matches) > 1:
            raise Refused(f"{text} is a channel on several platforms; name it by its #id.")
        if matches:
            return matches[0]
        if _is_id(text):
            found = channel_store.get_channel(session=session, channel_id=int(text))
            if found is not None and not found.is_subscriber:
                return found
    raise Refused(f"There is no channel {text}; see the ids with: channels list")


def test_channel(command: v.ChangeChannel, ctx: Context) -> Reply:
    """Send a test message to a channel now, outside the outbox."""
    with ctx.sessions() as session:
        channel = find_channel(session, command.target)
    label = f"#{channel.id} {channel.platform.value} {channel.address}"
    if ctx.probe is None:
        raise Refused(
            f"This front-end cannot reach {channel.platform.value}; "
            f"try: herald channels test {channel.id}"
        )
    try:
        outcome = ctx.probe(channel)
    except ProbeFailed as error:
        raise Refused(f"Test message to {label} failed: {error.message}") from None
    return Reply(f"Test message to {label}: {outcome}.")


def change_channel(command: v.ChangeChannel, ctx: Context) -> Reply:
    """Remove, disable, enable or test a channel."""
    if command.action == "test":
        return test_channel(command, ctx)
    with ctx.sessions() as session, session.begin():
        channel = find_channel(session, command.target)
        _audit(ctx, session, f"channel_{command.action}", channel)
        label = f"#{channel.id} {channel.platform.value} {channel.address}"
        if command.action == "remove":
            channel_store.delete_channel(session=session, channel=channel)
            return Reply(f"Removed channel {label}.", changed=True)
        if command.action == "enable" and channel.is_internal:
            # An old incident channel gets notes; enabling it by hand could send them
            # somewhere customers read. Herald enables the configured one at start.
            raise Refused(
                f"Channel {label} is an incident channel (it gets internal notes); Herald "
                "enables the one SLACK_INCIDENT_CHANNEL names at start. To send customers "
                "there, remove it and add it again."
            )
        channel.enabled = command.action == "enable"
        channel.disabled_reason = None if channel.enabled else (command.reason or "by hand")
        session.add(channel)
        state = "enabled" if channel.enabled else "disabled"
        return Reply(f"Channel {label} is {state}.", changed=True)
