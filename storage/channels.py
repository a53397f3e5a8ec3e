"""Queries for channels, and the rule that decides which channels follow an incident."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from storage.models import (
    Audience,
    Channel,
    ChannelComponent,
    Component,
    Delivery,
    Incident,
    IncidentKind,
    Owner,
    Platform,
    Update,
)
from storage.platforms import PLATFORMS

# Slack's nudges go to the incident's thread in the incident channel; a Telegram chat where an
# incident was opened (an ops group, a responder's private chat) gets them on its own.
OPS_PLATFORMS = frozenset(p.value for p, one in PLATFORMS.items() if one.ops_chats)


def list_channels(*, session: Session, owner: Owner | None = None) -> Sequence[Channel]:
    """Every channel (of `owner`), enabled or not, in the order they were added."""
    query = select(Channel)
    if owner is not None:
        query = query.where(Channel.owner == owner)
    return session.exec(query.order_by(col(Channel.id))).all()


def get_channel(*, session: Session, channel_id: int) -> Channel | None:
    """The channel with this id, or None."""
    return session.get(Channel, channel_id)


def get_channel_by_address(
    *, session: Session, address: str, platform: Platform | None = None
) -> Sequence[Channel]:
    """Channels with this address (one per platform at most)."""
    query = select(Channel).where(Channel.address == address)
    if platform is not None:
        query = query.where(Channel.platform == platform)
    return session.exec(query).all()


def create_channel(
    *,
    session: Session,
    platform: Platform,
    address: str,
    locale: str,
    min_severity: int | None,
    components: Sequence[Component],
    secret: str | None = None,
) -> Channel:
    """Add a channel with its filters."""
    channel = Channel(
        platform=platform,
        address=address,
        locale=locale,
        min_severity=min_severity,
        secret=secret,
    )
    session.add(channel)
    session.flush()
    assert channel.id is not None
    for component in components:
        assert component.id is not None
        session.add(ChannelComponent(channel_id=channel.id, component_id=component.id))
    return channel


def delete_channel(*, session: Session, channel: Channel) -> None:
    """Remove a channel, its filters and its pending deliveries."""
    # Statements, not ORM deletes: with no relationships mapped, the unit of work may
    # delete the channel first, and the database's ON DELETE CASCADE then leaves the
    # ORM's own delivery deletes matching nothing (an SAWarning).
    session.execute(
        sa.delete(ChannelComponent).where(col(ChannelComponent.channel_id) == channel.id)
    )
    session.execute(sa.delete(Delivery).where(col(Delivery.channel_id) == channel.id))
    session.delete(channel)


def component_keys_by_channel(*, session: Session) -> dict[int, list[str]]:
    """The component filter of every channel, as component keys."""
    rows = session.exec(
        select(ChannelComponent.channel_id, Component.key)
        .join(Component, col(Component.id) == col(ChannelComponent.component_id))
        .order_by(col(Component.id))
    ).all()
    keys: dict[int, list[str]] = defaultdict(list)
    for channel_id, key in rows:
        keys[channel_id].append(key)
    return dict(keys)


def list_followers(
    *, session: Session, incident: Incident, component_ids: set[int], first: bool = False
) -> Sequence[Channel]:
    """Enabled operators' channels that get this incident's public updates (subscribers,
    who may be many thousands, are queued by one statement: queue_for_subscribers).

    The internal incident channel follows every incident; a responders' ops chat follows
    none (it gets only nudges, see ops_channel_of). A public channel follows
    when the incident touches one of its components (or it filters none) and is at
    least as severe as its minimum; maintenance has no severity and reaches every
    channel of its components. A channel that already received part of this incident
    keeps following it to the end, so customers never see an opening without its
    closing. `first`: this is the incident's first update, so no channel has had any.
    """
    channels = session.exec(
        select(Channel)
        .where(col(Channel.enabled).is_(True), Channel.owner == Owner.OPERATOR)
        .order_by(col(Channel.id))
    ).all()
    if not channels:
        return []
    filters: dict[int, set[int]] = defaultdict(set)
    for channel_id, component_id in session.exec(
        select(ChannelComponent.channel_id, ChannelComponent.component_id)
    ).all():
        filters[channel_id].add(component_id)
    already = (
        set()
        if first
        else set(
            session.exec(
                select(Delivery.channel_id)
                .join(Update, col(Update.id) == col(Delivery.update_id))
                .where(Update.incident_id == incident.id)
                .distinct()
            ).all()
        )
    )
    followers = []
    for channel in channels:
        assert channel.id is not None
        if channel.is_ops:
            continue  # a responders' chat gets nudges only, never the timeline
        if channel.id in already or channel.is_internal:
            followers.append(channel)
            continue
        wanted = filters.get(channel.id)
        if wanted and not wanted & component_ids:
            continue
        if (
            incident.kind == IncidentKind.INCIDENT
            and channel.min_severity is not None
            and incident.severity is not None
            and incident.severity > channel.min_severity
        ):
            continue
        followers.append(channel)
    return followers


def list_internal_channels(
    *, session: Session, platform: Platform | None = None
) -> Sequence[Channel]:
    """The responders' incident channels of `platform` (of all when None), oldest first."""
    query = select(Channel).where(Channel.audience == Audience.INTERNAL)
    if platform is not None:
        query = query.where(Channel.platform == platform)
    return session.exec(query.order_by(col(Channel.id))).all()


def ensure_internal_channel(
    *, session: Session, platform: Platform, address: str, locale: str
) -> tuple[Channel, list[Channel]]:
    """Make `address` the platform's one enabled incident channel; return it and those retired.

    Each platform has its own incident channel: responders on Slack and on Telegram
    each get the notes where they work, so only the same platform's one is retired.
    A customer channel at the same address becomes the incident channel. An incident
    channel at another address is disabled rather than moved, so its threads stay where
    they are; a new address starts new threads.
    """
    current = session.exec(
        select(Channel).where(Channel.platform == platform, Channel.address == address)
    ).first()
    if current is None:
        current = Channel(
            platform=platform, address=address, locale=locale, audience=Audience.INTERNAL
        )
    current.audience = Audience.INTERNAL
    current.owner = Owner.OPERATOR  # a subscriber's chat made the incident chat is theirs no more
    session.add(current)
    session.flush()
    retired = [
        c
        for c in list_internal_channels(session=session, platform=platform)
        if c.id != current.id and c.enabled
    ]
    for channel in retired:
        channel.enabled = False
        channel.disabled_reason = f"replaced by the incident channel {address}"
        session.add(channel)
    return current, retired


def retire_internal_channels(
    *, session: Session, reason: str, platform: Platform | None = None
) -> list[Channel]:
    """Disable the incident channels of `platform` (all when None); return those disabled."""
    retired = [c for c in list_internal_channels(session=session, platform=platform) if c.enabled]
    for channel in retired:
        channel.enabled = False
        channel.disabled_reason = reason
        session.add(channel)
    return retired


def ensure_ops_channel(
    *, session: Session, platform: Platform, address: str, locale: str
) -> Channel | None:
    """The responders' ops chat at `address`, created on first use; None when that chat is
    already a customer channel or an incident channel, which must not become one.

    Telegram's @usernames ignore case, so an address is matched regardless of case.
    """
    query = select(Channel).where(
        Channel.platform == platform, func.lower(Channel.address) == address.lower()
    )
    current = session.exec(query).first()
    if current is None:
        try:
            # A savepoint: a chat added at the same moment by someone else is looked up again
            # instead of failing the caller's transaction.
            with session.begin_nested():
                current = Channel(
                    platform=platform, address=address, locale=locale, audience=Audience.OPS
                )
                session.add(current)
        except sa.exc.IntegrityError:
            current = session.exec(query).first()
    if current is None or not current.is_ops:
        return None
    return current


def ops_channel_of(*, session: Session, incident: Incident, locale: str) -> Channel | None:
    """The enabled ops chat that gets `incident`'s nudges: the chat it was opened in, unless
    that is the incident channel (which gets them in the incident's thread)."""
    platform, _, address = (incident.opened_in or "").partition(":")
    if platform not in OPS_PLATFORMS or not address:
        return None
    channel = ensure_ops_channel(
        session=session, platform=Platform(platform), address=address, locale=locale
    )
    return channel if channel is not None and channel.enabled else None
