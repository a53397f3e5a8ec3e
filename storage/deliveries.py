"""Queries for the delivery outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from storage.models import Channel, Delivery, DeliveryState, Owner, Update
from storage.types import UTCDateTime

OUTBOX_CHANNEL = "herald_outbox"
# A parameter per channel: under the 999 that older SQLite allows in one statement.
CHANNELS_PER_INSERT = 900


def create_deliveries(
    *,
    session: Session,
    update: Update,
    channels: Sequence[Channel],
    revision: int,
    at: datetime,
) -> int:
    """Queue one delivery of this revision of the update to each channel; how many were."""
    ids = []
    for channel in channels:
        assert channel.id is not None
        ids.append(channel.id)
    return sum(
        queue_deliveries(
            session=session,
            update=update,
            revision=revision,
            at=at,
            which=col(Channel.id).in_(ids[start : start + CHANNELS_PER_INSERT]),
        )
        for start in range(0, len(ids), CHANNELS_PER_INSERT)
    )


def queue_deliveries(
    *,
    session: Session,
    update: Update,
    revision: int,
    at: datetime,
    which: sa.ColumnElement[bool],
) -> int:
    """One delivery of this revision of the update per channel `which` selects, in one
    INSERT … SELECT (thousands of ORM objects would cost seconds); how many were written."""
    assert update.id is not None
    rows = sa.select(
        sa.literal(update.id),
        col(Channel.id),
        sa.literal(revision),
        sa.literal(DeliveryState.PENDING.value),
        sa.literal(0),
        sa.literal(at, type_=UTCDateTime()),
        sa.literal(at, type_=UTCDateTime()),
    ).where(which)
    columns = [
        "update_id",
        "channel_id",
        "revision",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
    ]
    # SQLAlchemy reads an INSERT's row count only when asked (psycopg's would read -1).
    result = session.execute(
        sa.insert(Delivery).from_select(columns, rows).execution_options(preserve_rowcount=True)
    )
    count = max(0, int(getattr(result, "rowcount", 0) or 0))
    if count and session.get_bind().dialect.name == "postgresql":
        # Delivered to listening workers when the transaction commits, not before.
        session.execute(sa.text(f"NOTIFY {OUTBOX_CHANNEL}"))
    return count


def list_deliveries_of_updates(
    *, session: Session, update_ids: Sequence[int]
) -> Sequence[Delivery]:
    """Every delivery of these updates to an operators' channel, oldest first."""
    if not update_ids:
        return []
    operators = select(Channel.id).where(Channel.owner == Owner.OPERATOR)
    query = (
        select(Delivery)
        .where(col(Delivery.update_id).in_(update_ids), col(Delivery.channel_id).in_(operators))
        .order_by(col(Delivery.id))
    )
    return session.exec(query).all()


def count_subscriber_deliveries(
    *, session: Session, update_ids: Sequence[int]
) -> dict[int, dict[DeliveryState, int]]:
    """Per update, its deliveries to subscribers by state (they are counted, never listed)."""
    if not update_ids:
        return {}
    subscribers = select(Channel.id).where(Channel.owner == Owner.SUBSCRIBER)
    rows = session.exec(
        select(Delivery.update_id, Delivery.state, func.count())
        .where(col(Delivery.update_id).in_(update_ids), col(Delivery.channel_id).in_(subscribers))
        .where(Delivery.revision == 0)
        .group_by(col(Delivery.update_id), col(Delivery.state))
    ).all()
    counts: dict[int, dict[DeliveryState, int]] = {}
    for update_id, state, count in rows:
        counts.setdefault(int(update_id), {})[DeliveryState(state)] = int(count)
    return counts


def list_channels_reached_by(
    *, session: Session, update_id: int, subscribers: bool = True
) -> Sequence[Channel]:
    """Channels that were given (any revision of) this update (operators' only, unless
    `subscribers`)."""
    query = select(Channel).where(
        col(Channel.id).in_(select(Delivery.channel_id).where(Delivery.update_id == update_id))
    )
    if not subscribers:
        query = query.where(Channel.owner == Owner.OPERATOR)
    return session.exec(query.order_by(col(Channel.id))).all()


def count_deliveries_by_state(*, session: Session) -> dict[DeliveryState, int]:
    """How many deliveries are in each state."""
    rows = session.exec(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
    return {DeliveryState(state): int(count) for state, count in rows}
