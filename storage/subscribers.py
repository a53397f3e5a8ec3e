"""Queries for subscribers: channels people added for themselves, counted for operators."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from storage.deliveries import create_deliveries, queue_deliveries
from storage.models import (
    CLOSED_STATUSES,
    Audience,
    Channel,
    ChannelComponent,
    Component,
    Delivery,
    DeliveryState,
    Incident,
    IncidentComponent,
    IncidentKind,
    Owner,
    Platform,
    Update,
)

# storage.updates.ROOT_REFRESH, which imports this module.
ROOT_REFRESH_REVISION = -1


def get_subscriber(*, session: Session, platform: Platform, address: str) -> Channel | None:
    """The channel at this address (a subscriber's or not), or None; an e-mail address
    matched whatever its case, since mailboxes ignore it."""
    query = select(Channel).where(Channel.platform == platform)
    if platform == Platform.EMAIL:
        query = query.where(func.lower(Channel.address) == address.lower())
    else:
        query = query.where(Channel.address == address)
    return session.exec(query.order_by(col(Channel.id))).first()


def get_subscriber_by_id(*, session: Session, channel_id: int) -> Channel | None:
    """The subscriber's channel with this id; None if it is gone or not a subscriber's."""
    channel = session.get(Channel, channel_id)
    return channel if channel is not None and channel.is_subscriber else None


def followed_components(*, session: Session, channel_id: int) -> list[Component]:
    """The components a channel filters on, in their order; empty: it follows them all."""
    return list(
        session.exec(
            select(Component)
            .join(ChannelComponent, col(ChannelComponent.component_id) == col(Component.id))
            .where(ChannelComponent.channel_id == channel_id)
            .order_by(col(Component.id))
        ).all()
    )


def set_followed_components(
    *, session: Session, channel_id: int, components: Sequence[Component]
) -> None:
    """Replace a channel's component filter (none: every component)."""
    session.execute(
        sa.delete(ChannelComponent).where(col(ChannelComponent.channel_id) == channel_id)
    )
    for component in components:
        assert component.id is not None
        session.add(ChannelComponent(channel_id=channel_id, component_id=component.id))


def create_subscriber(
    *, session: Session, platform: Platform, address: str, locale: str
) -> Channel:
    """A new subscriber's channel, following every component until told otherwise; one
    made at the same moment by another request is the one returned."""
    try:
        with session.begin_nested():
            channel = Channel(
                platform=platform, address=address, locale=locale, owner=Owner.SUBSCRIBER
            )
            session.add(channel)
    except sa.exc.IntegrityError:
        found = get_subscriber(session=session, platform=platform, address=address)
        assert found is not None
        return found
    return channel


def count_subscribers(*, session: Session) -> dict[tuple[str, str | None], int]:
    """Enabled subscribers by (platform, component key); None counts those following all."""
    followers = select(ChannelComponent.channel_id)
    rows = session.exec(
        select(Channel.platform, Component.key, func.count())
        .select_from(Channel)
        .join(ChannelComponent, col(ChannelComponent.channel_id) == col(Channel.id))
        .join(Component, col(Component.id) == col(ChannelComponent.component_id))
        .where(Channel.owner == Owner.SUBSCRIBER, col(Channel.enabled).is_(True))
        .group_by(Channel.platform, Component.key)
    ).all()
    counts: Counter[tuple[str, str | None]] = Counter()
    for platform, key, count in rows:
        counts[(str(platform), key)] += int(count)
    everything = session.exec(
        select(Channel.platform, func.count())
        .where(Channel.owner == Owner.SUBSCRIBER, col(Channel.enabled).is_(True))
        .where(col(Channel.id).not_in(followers))
        .group_by(Channel.platform)
    ).all()
    for platform, count in everything:
        counts[(str(platform), None)] += int(count)
    return dict(counts)


def count_enabled_subscribers(*, session: Session, enabled: bool = True) -> dict[str, int]:
    """Subscribers receiving updates (or, not `enabled`, stopped: blocked or bounced), by
    platform."""
    rows = session.exec(
        select(Channel.platform, func.count())
        .where(Channel.owner == Owner.SUBSCRIBER, col(Channel.enabled).is_(enabled))
        .group_by(Channel.platform)
    ).all()
    return {str(platform): int(count) for platform, count in rows}


def list_subscribers(*, session: Session, platform: Platform | None = None) -> Sequence[Channel]:
    """Every subscriber, oldest first (for operators' export, never for a public page)."""
    query = select(Channel).where(Channel.owner == Owner.SUBSCRIBER)
    if platform is not None:
        query = query.where(Channel.platform == platform)
    return session.exec(query.order_by(col(Channel.id))).all()


def delete_subscriber(*, session: Session, channel: Channel) -> None:
    """Forget a subscriber: the address itself, its filter and whatever waited for it."""
    session.execute(
        sa.delete(ChannelComponent).where(col(ChannelComponent.channel_id) == channel.id)
    )
    session.execute(sa.delete(Delivery).where(col(Delivery.channel_id) == channel.id))
    session.delete(channel)


def come_back(*, session: Session, channel: Channel, now: datetime) -> int:
    """A subscriber who had blocked the bot is back: what waited meanwhile is dropped, and
    the latest public update of each open incident they follow is queued, as it stands."""
    assert channel.id is not None
    channel.enabled = True
    channel.disabled_reason = None
    session.add(channel)
    session.execute(
        sa.delete(Delivery).where(
            col(Delivery.channel_id) == channel.id,
            col(Delivery.state).in_([DeliveryState.PENDING, DeliveryState.FAILED]),
        )
    )
    wanted = {c.id for c in followed_components(session=session, channel_id=channel.id)}
    latest: list[Update] = []
    # Locked, as a change to an incident locks it: an update saved meanwhile is either
    # seen here as the latest, or queued for this subscriber, now enabled, by its own.
    for incident in session.exec(
        select(Incident)
        .where(col(Incident.status).not_in(list(CLOSED_STATUSES)))
        .order_by(col(Incident.id))
        .with_for_update()
    ).all():
        touched = set(
            session.exec(
                select(IncidentComponent.component_id).where(
                    IncidentComponent.incident_id == incident.id
                )
            ).all()
        )
        if wanted and not wanted & touched:
            continue
        update = session.exec(
            select(Update)
            .where(Update.incident_id == incident.id, col(Update.public).is_(True))
            .order_by(col(Update.number).desc())
        ).first()
        if update is None:
            continue
        already = session.exec(
            select(Delivery.id).where(
                Delivery.update_id == update.id,
                Delivery.channel_id == channel.id,
                Delivery.revision == 0,
            )
        ).first()
        if already is None:
            latest.append(update)
    return sum(
        create_deliveries(session=session, update=update, channels=[channel], revision=0, at=now)
        for update in latest
    )


def _following(incident: Incident, component_ids: set[int]) -> sa.ColumnElement[bool]:
    """Subscribers who get this incident's public updates: the rule of list_followers,
    as SQL, so thousands are queued by one statement."""
    filtered = sa.exists().where(col(ChannelComponent.channel_id) == col(Channel.id))
    touched = sa.exists().where(
        col(ChannelComponent.channel_id) == col(Channel.id),
        col(ChannelComponent.component_id).in_(sorted(component_ids)),
    )
    already = col(Channel.id).in_(
        select(Delivery.channel_id)
        .join(Update, col(Update.id) == col(Delivery.update_id))
        .where(Update.incident_id == incident.id)
    )
    wanted: sa.ColumnElement[bool] = sa.or_(~filtered, touched)
    if incident.kind == IncidentKind.INCIDENT and incident.severity is not None:
        severe = sa.or_(
            col(Channel.min_severity).is_(None), col(Channel.min_severity) >= incident.severity
        )
        wanted = sa.and_(wanted, severe)
    return sa.and_(
        col(Channel.owner) == Owner.SUBSCRIBER,
        col(Channel.audience) == Audience.PUBLIC,
        col(Channel.enabled).is_(True),
        sa.or_(already, wanted),
    )


def queue_for_subscribers(
    *,
    session: Session,
    update: Update,
    incident: Incident,
    component_ids: set[int],
    at: datetime,
    refresh_platforms: Sequence[Platform],
) -> int:
    """Queue a public update for every subscriber who follows its incident, and the edit
    of their thread's first message on `refresh_platforms`; in the update's transaction,
    so it is never saved without all of them. Returns how many got the update."""
    count = queue_deliveries(
        session=session, update=update, revision=0, at=at, which=_following(incident, component_ids)
    )
    if refresh_platforms:
        # Exactly those just given the update: one who subscribed in between gets neither.
        given = col(Channel.id).in_(
            select(Delivery.channel_id).where(
                Delivery.update_id == update.id, Delivery.revision == 0
            )
        )
        editable = sa.and_(
            col(Channel.owner) == Owner.SUBSCRIBER,
            given,
            col(Channel.platform).in_(list(refresh_platforms)),
        )
        queue_deliveries(
            session=session, update=update, revision=ROOT_REFRESH_REVISION, at=at, which=editable
        )
    return count


def queue_correction_for_subscribers(*, session: Session, update: Update, at: datetime) -> int:
    """Queue a public update's correction for every subscriber it reached."""
    reached = col(Channel.id).in_(
        select(Delivery.channel_id).where(Delivery.update_id == update.id, Delivery.revision == 0)
    )
    which = sa.and_(col(Channel.owner) == Owner.SUBSCRIBER, col(Channel.enabled).is_(True), reached)
    return queue_deliveries(
        session=session, update=update, revision=update.revision, at=at, which=which
    )
