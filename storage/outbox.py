"""The worker's side of the outbox: claim due deliveries in order, record how they went."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, or_, select, update

from storage.models import Channel, Delivery, DeliveryState, Platform, Update

OPEN_STATES = (DeliveryState.PENDING, DeliveryState.FAILED)


def claim_deliveries(
    *,
    session: Session,
    now: datetime,
    limit: int,
    worker: str,
    lease: timedelta,
    platforms: Iterable[Platform] | None = None,
) -> list[Delivery]:
    """Lease up to `limit` due deliveries, each the oldest unfinished one of its channel,
    to channels of `platforms` only when given.

    Only the head of each channel's queue is ever claimable, so update n+1 is
    never sent before update n is sent or dead. On PostgreSQL the rows are locked
    with SKIP LOCKED, so concurrent workers claim disjoint sets.
    """
    earlier = aliased(Delivery)
    head = (
        select(func.min(earlier.id))
        .where(earlier.channel_id == Delivery.channel_id)
        .where(col(earlier.state).in_(OPEN_STATES))
        .scalar_subquery()
    )
    query = (
        select(Delivery)
        .join(Channel, col(Channel.id) == col(Delivery.channel_id))
        .where(col(Channel.enabled).is_(True))
        .where(col(Delivery.state).in_(OPEN_STATES))
        .where(col(Delivery.next_attempt_at) <= now)
        .where(or_(col(Delivery.claimed_until).is_(None), col(Delivery.claimed_until) < now))
        .where(col(Delivery.id) == head)
        .order_by(col(Delivery.id))
        .limit(limit)
    )
    if platforms is not None:
        query = query.where(col(Channel.platform).in_(list(platforms)))
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        query = query.with_for_update(of=Delivery, skip_locked=True)
    claimed = list(session.exec(query).all())
    for delivery in claimed:
        delivery.claimed_by = worker
        delivery.claimed_until = now + lease
        session.add(delivery)
    return claimed


def renew_leases(*, session: Session, delivery_ids: list[int], worker: str, until: datetime) -> int:
    """Extend this worker's claims on deliveries it is still sending; return how many."""
    if not delivery_ids:
        return 0
    result = session.connection().execute(
        update(Delivery)
        .where(col(Delivery.id).in_(delivery_ids))
        .where(col(Delivery.claimed_by) == worker)
        .where(col(Delivery.state).in_(OPEN_STATES))
        .values(claimed_until=until)
    )
    return result.rowcount


def _settled_elsewhere(delivery: Delivery, worker: str | None) -> bool:
    # A send that went out is never undone, and a claim another worker has since
    # taken over (or taken and given back) is no longer this worker's to record.
    if delivery.state == DeliveryState.SENT:
        return True
    return worker is not None and delivery.claimed_by != worker


def holds_claim(*, session: Session, delivery_id: int, worker: str) -> bool:
    """True while `worker` still holds its claim on an unsent delivery (row locked)."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    return delivery is not None and not _settled_elsewhere(delivery, worker)


def record_sent(
    *, session: Session, delivery_id: int, remote_ref: str | None, at: datetime
) -> bool:
    """Mark a delivery sent, keeping the platform's reference; False if it already was."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.state == DeliveryState.SENT:
        return False
    delivery.state = DeliveryState.SENT
    delivery.attempts += 1
    delivery.sent_at = at
    delivery.remote_ref = remote_ref
    delivery.last_error = None
    delivery.claimed_by = None
    delivery.claimed_until = None
    session.add(delivery)
    return True


def record_failure(
    *,
    session: Session,
    delivery_id: int,
    error: str,
    next_attempt_at: datetime,
    dead: bool = False,
    counts_as_attempt: bool = True,
    worker: str | None = None,
) -> None:
    """Mark a delivery failed (to be retried at next_attempt_at) or dead."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or _settled_elsewhere(delivery, worker):
        return
    delivery.state = DeliveryState.DEAD if dead else DeliveryState.FAILED
    delivery.attempts += 1 if counts_as_attempt else 0
    delivery.last_error = error[:2000]
    delivery.next_attempt_at = next_attempt_at
    delivery.claimed_by = None
    delivery.claimed_until = None
    session.add(delivery)


def release_delivery(
    *, session: Session, delivery_id: int, next_attempt_at: datetime, worker: str | None = None
) -> None:
    """Give a claimed delivery back untouched, to be tried at next_attempt_at."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or _settled_elsewhere(delivery, worker):
        return
    delivery.next_attempt_at = next_attempt_at
    delivery.claimed_by = None
    delivery.claimed_until = None
    session.add(delivery)


def save_progress(*, session: Session, delivery_id: int, ref: str, worker: str) -> None:
    """Keep the messages a half-sent post already went out in, so its retry goes on from there."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or _settled_elsewhere(delivery, worker):
        return
    delivery.remote_ref = ref
    session.add(delivery)


def set_message_ref(*, session: Session, channel_id: int, update_id: int, ref: str) -> None:
    """Record that an update now lives in other messages on a channel (a longer correction)."""
    delivery = session.exec(
        select(Delivery)
        .where(Delivery.channel_id == channel_id, Delivery.update_id == update_id)
        .where(Delivery.revision == 0, Delivery.state == DeliveryState.SENT)
        .with_for_update()
    ).first()
    if delivery is not None:
        delivery.remote_ref = ref
        session.add(delivery)


def get_thread_root(
    *, session: Session, channel_id: int, incident_id: int
) -> tuple[int, str | None] | None:
    """The first sent update of an incident on a channel: (update id, remote ref)."""
    row = session.exec(
        select(Delivery.update_id, Delivery.remote_ref)
        .join(Update, col(Update.id) == col(Delivery.update_id))
        .where(Update.incident_id == incident_id)
        .where(Delivery.channel_id == channel_id, Delivery.revision == 0)
        .where(Delivery.state == DeliveryState.SENT)
        .order_by(col(Delivery.id))
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def get_sent_ref(*, session: Session, channel_id: int, update_id: int) -> str | None:
    """The remote reference of the message that first carried an update on a channel."""
    return session.exec(
        select(Delivery.remote_ref)
        .where(Delivery.channel_id == channel_id, Delivery.update_id == update_id)
        .where(Delivery.revision == 0, Delivery.state == DeliveryState.SENT)
    ).first()


def waiting_behind(*, session: Session, delivery: Delivery) -> tuple[bool, bool]:
    """What waits after this delivery on its channel: (a later revision of the same
    update, anything at all)."""
    behind = (
        select(Delivery.id)
        .where(Delivery.channel_id == delivery.channel_id, col(Delivery.id) > delivery.id)
        .where(col(Delivery.state).in_(OPEN_STATES))
    )
    newer = behind.where(
        Delivery.update_id == delivery.update_id, col(Delivery.revision) > delivery.revision
    )
    row = session.exec(select(behind.exists(), newer.exists())).one()
    return bool(row[1]), bool(row[0])


def disable_channel(*, session: Session, channel_id: int, reason: str) -> Channel | None:
    """Stop sending to a channel; its queue waits until it is enabled again."""
    channel = session.get(Channel, channel_id, with_for_update=True)
    if channel is None:
        return None
    channel.enabled = False
    channel.disabled_reason = reason[:500]
    session.add(channel)
    return channel


def move_channel(*, session: Session, channel_id: int, address: str) -> Channel | None:
    """Follow a chat to its new address (a Telegram group upgraded to a supergroup).

    Parts of a half-sent post stay in the old chat: its retry starts afresh.
    """
    channel = session.get(Channel, channel_id, with_for_update=True)
    if channel is None:
        return None
    channel.address = address
    session.add(channel)
    session.connection().execute(
        update(Delivery)
        .where(col(Delivery.channel_id) == channel_id)
        .where(col(Delivery.state).in_(OPEN_STATES))
        .values(remote_ref=None)
    )
    return channel


def queue_depth(*, session: Session) -> tuple[int, datetime | None]:
    """How many deliveries wait to be sent, and when the oldest of them was queued."""
    count, oldest = session.exec(
        select(func.count(), func.min(Delivery.created_at)).where(
            col(Delivery.state).in_(OPEN_STATES)
        )
    ).one()
    if isinstance(oldest, str):  # SQLite hands back text for aggregates of typed columns
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return int(count), oldest
