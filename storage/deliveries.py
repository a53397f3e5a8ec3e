"""Queries for the delivery outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from storage.models import Channel, Delivery, DeliveryState, Update

OUTBOX_CHANNEL = "herald_outbox"


def create_deliveries(
    *,
    session: Session,
    update: Update,
    channels: Sequence[Channel],
    revision: int,
    at: datetime,
) -> list[Delivery]:
    """Queue one delivery of this revision of the update to each channel."""
    assert update.id is not None
    deliveries = []
    for channel in channels:
        assert channel.id is not None
        delivery = Delivery(
            update_id=update.id,
            channel_id=channel.id,
            revision=revision,
            state=DeliveryState.PENDING,
            next_attempt_at=at,
            created_at=at,
        )
        session.add(delivery)
        deliveries.append(delivery)
    if deliveries and session.get_bind().dialect.name == "postgresql":
        # Delivered to listening workers when the transaction commits, not before.
        session.execute(sa.text(f"NOTIFY {OUTBOX_CHANNEL}"))
    return deliveries


def list_deliveries_of_updates(
    *, session: Session, update_ids: Sequence[int]
) -> Sequence[Delivery]:
    """Every delivery of these updates, oldest first."""
    if not update_ids:
        return []
    query = (
        select(Delivery).where(col(Delivery.update_id).in_(update_ids)).order_by(col(Delivery.id))
    )
    return session.exec(query).all()


def list_channels_reached_by(*, session: Session, update_id: int) -> Sequence[Channel]:
    """Channels that were given (any revision of) this update."""
    query = (
        select(Channel)
        .where(
            col(Channel.id).in_(select(Delivery.channel_id).where(Delivery.update_id == update_id))
        )
        .order_by(col(Channel.id))
    )
    return session.exec(query).all()


def count_deliveries_by_state(*, session: Session) -> dict[DeliveryState, int]:
    """How many deliveries are in each state."""
    rows = session.exec(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
    return {DeliveryState(state): int(count) for state, count in rows}
