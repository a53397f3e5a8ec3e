"""Queries for the timeline; every public update queues its deliveries here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlmodel import Session, col, func, select

from storage.channels import list_followers, ops_channel_of
from storage.deliveries import create_deliveries, list_channels_reached_by
from storage.models import Channel, Incident, IncidentStatus, Platform, Update, UpdateKind
from storage.platforms import PLATFORMS, spec
from storage.subscribers import queue_correction_for_subscribers, queue_for_subscribers

# A delivery with this revision edits the thread's first message to show the current
# status; being an outbox row, it is retried, ordered and never lost like any other.
ROOT_REFRESH = -1
ROOT_STATUS_KINDS = frozenset(
    {
        UpdateKind.RESOLVED,
        UpdateKind.REOPENED,
        UpdateKind.MAINTENANCE_STARTED,
        UpdateKind.MAINTENANCE_COMPLETED,
        UpdateKind.MAINTENANCE_CANCELLED,
        UpdateKind.MAINTENANCE_EXTENDED,
    }
)


class Posted(NamedTuple):
    """An update just added, and how many channels it was queued for (each counted once,
    though a thread's first message may also be queued for an edit)."""

    update: Update
    reached: int


def create_update(
    *,
    session: Session,
    incident: Incident,
    kind: UpdateKind,
    text: str,
    author: str,
    front_end: str,
    at: datetime,
    component_ids: set[int],
    public: bool = True,
    locale: str = "en",
    recorded_at: datetime | None = None,
    first: bool = False,
) -> Posted:
    """Append an update to the timeline and queue it for every channel that gets it.

    A public update goes to every follower; an internal one (a note) only to the
    internal incident channel, and a nudge also to the Telegram chat the incident was
    opened in, unless that is the incident chat (an ops channel in `locale` is made for
    it on first use). The caller holds the incident locked
    (get_incident(for_change=True)), so the numbering is safe, and commits the update
    and its deliveries together. `first` says the incident was opened in this
    transaction: the update is its number 1, and no earlier status is looked up.
    """
    assert incident.id is not None
    last = (
        0
        if first
        else session.exec(
            select(func.max(Update.number)).where(Update.incident_id == incident.id)
        ).one()
    )
    update = Update(
        incident_id=incident.id,
        number=(last or 0) + 1,
        kind=kind,
        status=IncidentStatus(incident.status),
        severity=incident.severity,
        text=text,
        public=public,
        author=author,
        front_end=front_end,
        at=at,
        window_start=incident.window_start,
        window_end=incident.window_end,
    )
    if recorded_at is not None:
        update.recorded_at = recorded_at
    session.add(update)
    if public:
        # Notes and nudges change nothing customers see, so no public "updated at" either.
        incident.changed_at = max(incident.changed_at, at)
    session.add(incident)
    session.flush()
    followers = list_followers(
        session=session, incident=incident, component_ids=component_ids, first=first
    )
    if not public:
        internal = [c for c in followers if c.is_internal]
        ops = None
        if kind == UpdateKind.NUDGE:
            ops = ops_channel_of(session=session, incident=incident, locale=locale)
        if ops is not None:
            internal.append(ops)
        reached = create_deliveries(
            session=session, update=update, channels=internal, revision=0, at=at
        )
        return Posted(update, reached)
    reached = create_deliveries(
        session=session, update=update, channels=followers, revision=0, at=at
    )
    status_changed = not first and _changes_the_root(session, update)
    reached += queue_for_subscribers(
        session=session,
        update=update,
        incident=incident,
        component_ids=component_ids,
        at=at,
        refresh_platforms=[p for p in PLATFORMS if _can_edit_opening(p)] if status_changed else [],
    )
    # The incident channel's first message also shows severity and components, which any
    # public update may change; customers' first messages show only the status.
    threads = [
        c
        for c in followers
        if _edits_its_opening(c) and (status_changed or (c.is_internal and update.number > 1))
    ]
    create_deliveries(
        session=session, update=update, channels=threads, revision=ROOT_REFRESH, at=at
    )
    return Posted(update, reached)


def _edits_its_opening(channel: Channel) -> bool:
    """True where an incident's first message can be edited to show its new status."""
    return _can_edit_opening(Platform(channel.platform))


def _can_edit_opening(platform: Platform) -> bool:
    can = spec(platform).can
    return can.threads and can.edits


def _changes_the_root(session: Session, update: Update) -> bool:
    """True when the thread's first message must be edited to show a new status."""
    previous = session.exec(
        select(Update.status)
        .where(Update.incident_id == update.incident_id, col(Update.public).is_(True))
        .where(col(Update.number) < update.number)
        .order_by(col(Update.number).desc())
    ).first()
    if previous is None:
        return False
    return str(previous) != str(update.status) or update.kind in ROOT_STATUS_KINDS


def correct_update(*, session: Session, update: Update, text: str, at: datetime) -> Update:
    """Replace an update's text and queue the correction wherever it was posted."""
    update.text = text
    update.revision += 1
    update.edited_at = at
    session.add(update)
    session.flush()
    assert update.id is not None
    channels = list_channels_reached_by(session=session, update_id=update.id, subscribers=False)
    if update.public:
        queue_correction_for_subscribers(session=session, update=update, at=at)
    create_deliveries(
        session=session,
        update=update,
        # A note only ever reached the incident channel, a nudge also an ops chat, and a
        # public update never an ops chat; checked again, never assumed.
        channels=[
            c
            for c in channels
            if c.enabled
            and (
                c.is_internal
                or (c.is_ops and update.kind == UpdateKind.NUDGE)
                or (update.public and not c.is_ops)
            )
        ],
        revision=update.revision,
        at=at,
    )
    return update


def list_updates(
    *, session: Session, incident_id: int, public_only: bool = False
) -> Sequence[Update]:
    """An incident's timeline, oldest first."""
    query = select(Update).where(Update.incident_id == incident_id)
    if public_only:
        query = query.where(col(Update.public).is_(True))
    return session.exec(query.order_by(col(Update.number))).all()


def get_update_by_number(*, session: Session, incident_id: int, number: int) -> Update | None:
    """The update with this number in an incident's timeline."""
    query = select(Update).where(Update.incident_id == incident_id, Update.number == number)
    return session.exec(query).first()


def get_last_public_update(*, session: Session, incident_id: int) -> Update | None:
    """The newest public update of an incident."""
    query = (
        select(Update)
        .where(Update.incident_id == incident_id, col(Update.public).is_(True))
        .order_by(col(Update.number).desc())
    )
    return session.exec(query).first()
