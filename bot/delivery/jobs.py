"""Everything a sender needs to deliver one outbox row, loaded in one short transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, func, select

from commands.email_subscriptions import KEY_NAME, link_token
from commands.wording import PublicPost, display_title, render_update, status_label
from storage import components as component_store
from storage import outbox, site_keys
from storage.models import (
    Audience,
    Channel,
    Delivery,
    Incident,
    IncidentKind,
    IncidentStatus,
    Platform,
    Update,
    UpdateKind,
)
from storage.platforms import spec
from storage.updates import ROOT_REFRESH


@dataclass(frozen=True)
class Destination:
    """A channel as a sender sees it."""

    channel_id: int
    platform: Platform
    address: str
    locale: str
    secret: str | None = None
    audience: Audience = Audience.PUBLIC
    subscriber: bool = False  # a person's own address: never in logs or alerts

    @property
    def is_internal(self) -> bool:
        """True for the responders' incident channel."""
        return self.audience == Audience.INTERNAL

    @property
    def is_ops(self) -> bool:
        """True for a responders' chat that gets the nudges of incidents opened there."""
        return self.audience == Audience.OPS

    @property
    def label(self) -> str:
        """`#3 webhook https://hooks.example/…`, for logs and alerts: a webhook's path and
        query often carry its credential (Slack, Teams and Discord incoming webhooks do)."""
        shown = "subscriber" if self.subscriber else spec(self.platform).address.shown(self.address)
        return f"#{self.channel_id} {self.platform.value} {shown}"


@dataclass(frozen=True)
class IncidentFacts:
    """What responders see beside the customer post: severity, components, who and when.

    Loaded for responders' channels only (the incident channel, an ops chat); customer
    channels never get them.
    """

    kind: IncidentKind
    severity: int | None
    status: IncidentStatus
    components: tuple[str, ...]
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    update_number: int
    update_author: str
    update_public: bool
    update_severity: int | None


@dataclass(frozen=True)
class RootView:
    """The thread's first message, as it should read now: current title and status."""

    post: PublicPost
    title: str
    status: str
    ref: str | None
    update_id: int


@dataclass(frozen=True)
class DeliveryJob:
    """One delivery to make: the post, where it goes, and the thread it belongs to."""

    delivery_id: int
    attempts: int
    revision: int
    queued_at: datetime
    destination: Destination
    incident_id: int
    incident_status: str
    severity: int | None
    update_id: int
    update_kind: UpdateKind
    update_status: str
    public_number: int
    post: PublicPost
    root: RootView
    is_root: bool
    own_ref: str | None
    resolved: bool
    # The parts of a long post an earlier attempt already posted: its retry goes on after them.
    progress: str | None = None
    facts: IncidentFacts | None = None
    # For a correction: a later edit of the same update is queued for this channel (its
    # message will carry the final text), and anything at all is queued behind this one.
    superseded: bool = False
    others_waiting: bool = False
    # A subscriber's own links (manage, one-click unsubscribe), signed; None for others.
    list_token: str | None = None

    @property
    def is_correction(self) -> bool:
        """True when this delivery edits a message already posted with corrected text."""
        return self.revision > 0

    @property
    def is_root_refresh(self) -> bool:
        """True when this delivery edits the thread's first message to show the status."""
        return self.revision == ROOT_REFRESH

    @property
    def edited_update_id(self) -> int:
        """The update whose messages an edit rewrites: the thread's root, or this update."""
        return self.root.update_id if self.is_root_refresh or self.is_root else self.update_id


def _started_at(session: Session, incident_id: int) -> datetime | None:
    return session.exec(
        select(Update.at)
        .where(Update.incident_id == incident_id)
        .where(Update.kind == UpdateKind.MAINTENANCE_STARTED)
        .order_by(col(Update.number).desc())
    ).first()


def _public_number(session: Session, update: Update) -> int:
    """The update's position among the public ones: notes leave no gaps customers can count."""
    return int(
        session.exec(
            select(func.count())
            .select_from(Update)
            .where(Update.incident_id == update.incident_id, col(Update.public).is_(True))
            .where(col(Update.number) <= update.number)
        ).one()
    )


def load_job(
    sessions: sessionmaker[Session], delivery_id: int, zone: ZoneInfo
) -> DeliveryJob | None:
    """Load a claimed delivery with its post rendered in the channel's locale."""
    with sessions() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            return None
        update = session.get(Update, delivery.update_id)
        channel = session.get(Channel, delivery.channel_id)
        assert update is not None
        assert channel is not None
        assert channel.id is not None
        incident = session.get(Incident, update.incident_id)
        assert incident is not None
        assert incident.id is not None
        assert update.id is not None
        names = [
            c.name
            for c in component_store.list_components_of(session=session, incident_id=incident.id)
        ]
        started = _started_at(session, incident.id)
        post = render_update(
            incident, update, locale=channel.locale, zone=zone, components=names, started_at=started
        )
        root = outbox.get_thread_root(
            session=session, channel_id=channel.id, incident_id=incident.id
        )
        root_update = update if root is None else session.get(Update, root[0])
        assert root_update is not None
        assert root_update.id is not None
        root_post = render_update(
            incident,
            root_update,
            locale=channel.locale,
            zone=zone,
            components=names,
            started_at=started,
        )
        own_ref = None
        superseded = others_waiting = False
        if delivery.revision > 0:
            own_ref = outbox.get_sent_ref(
                session=session, channel_id=channel.id, update_id=update.id
            )
            superseded, others_waiting = outbox.waiting_behind(session=session, delivery=delivery)
        return DeliveryJob(
            delivery_id=delivery_id,
            attempts=delivery.attempts,
            revision=delivery.revision,
            queued_at=delivery.created_at,
            destination=Destination(
                channel_id=channel.id,
                platform=Platform(channel.platform),
                address=channel.address,
                locale=post.locale,
                secret=channel.secret,
                audience=Audience(channel.audience),
                subscriber=channel.is_subscriber,
            ),
            incident_id=incident.id,
            incident_status=str(incident.status),
            severity=incident.severity,
            update_id=update.id,
            update_kind=UpdateKind(update.kind),
            update_status=str(update.status),
            public_number=_public_number(session, update),
            post=post,
            root=RootView(
                post=root_post,
                title=display_title(incident, locale=post.locale),
                status=status_label(incident.status, locale=post.locale),
                ref=None if root is None else root[1],
                update_id=root_update.id,
            ),
            is_root=root is None or root[0] == update.id,
            own_ref=own_ref,
            superseded=superseded,
            others_waiting=others_waiting,
            list_token=_list_token(session, channel),
            resolved=incident.status.is_closed,
            progress=delivery.remote_ref if delivery.revision == 0 else None,
            facts=_facts(incident, update, names)
            if channel.is_internal or channel.is_ops
            else None,
        )


def _list_token(session: Session, channel: Channel) -> str | None:
    if not channel.is_subscriber or channel.platform != Platform.EMAIL:
        return None
    key = site_keys.existing_site_key(session=session, name=KEY_NAME)
    return None if key is None else link_token(key, channel)


def _facts(incident: Incident, update: Update, components: list[str]) -> IncidentFacts:
    return IncidentFacts(
        kind=IncidentKind(incident.kind),
        severity=incident.severity,
        status=IncidentStatus(incident.status),
        components=tuple(components),
        opened_by=incident.opened_by,
        opened_at=incident.opened_at,
        closed_at=incident.closed_at,
        window_start=incident.window_start,
        window_end=incident.window_end,
        update_number=update.number,
        update_author=update.author,
        update_public=update.public,
        update_severity=update.severity,
    )
