"""Everything a sender needs to deliver one outbox row, loaded in one short transaction."""

from __future__ import annotations

from collections.abc import Sequence
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
    return load_jobs(sessions, [delivery_id], zone).get(delivery_id)


# A parameter per delivery: under the 999 that older SQLite allows in one statement.
DELIVERIES_PER_QUERY = 900


def load_jobs(
    sessions: sessionmaker[Session], delivery_ids: Sequence[int], zone: ZoneInfo
) -> dict[int, DeliveryJob]:
    """Load claimed deliveries, by id, each with its post rendered in its channel's locale.

    A fan-out claims many deliveries of one update: what they share (the update, its
    incident, the rendered posts) is read and rendered once for all of them.
    """
    jobs: dict[int, DeliveryJob] = {}
    with sessions() as session:
        shared = _Shared(session, zone)
        for start in range(0, len(delivery_ids), DELIVERIES_PER_QUERY):
            chosen = delivery_ids[start : start + DELIVERIES_PER_QUERY]
            rows = session.exec(
                select(Delivery, Channel)
                .join(Channel, col(Channel.id) == col(Delivery.channel_id))
                .where(col(Delivery.id).in_(chosen))
            ).all()
            for delivery, channel in rows:
                assert delivery.id is not None
                jobs[delivery.id] = _job(session, shared, delivery, channel)
    return jobs


class _Shared:
    """What the deliveries of one batch share, read and rendered once per update and locale."""

    def __init__(self, session: Session, zone: ZoneInfo) -> None:
        self.session = session
        self.zone = zone
        self._about: dict[int, tuple[Update, Incident, list[str], datetime | None]] = {}
        self._posts: dict[tuple[int, str], PublicPost] = {}
        self._numbers: dict[int, int] = {}
        self._key: tuple[str | None] | None = None

    def about(self, update_id: int) -> tuple[Update, Incident, list[str], datetime | None]:
        """The update, its incident, the incident's components and its maintenance start."""
        found = self._about.get(update_id)
        if found is None:
            update = self.session.get(Update, update_id)
            assert update is not None
            incident = self.session.get(Incident, update.incident_id)
            assert incident is not None
            assert incident.id is not None
            names = [
                c.name
                for c in component_store.list_components_of(
                    session=self.session, incident_id=incident.id
                )
            ]
            found = (update, incident, names, _started_at(self.session, incident.id))
            self._about[update_id] = found
        return found

    def post(self, update_id: int, locale: str) -> PublicPost:
        """The update's post in `locale`."""
        post = self._posts.get((update_id, locale))
        if post is None:
            update, incident, names, started = self.about(update_id)
            post = render_update(
                incident,
                update,
                locale=locale,
                zone=self.zone,
                components=names,
                started_at=started,
            )
            self._posts[(update_id, locale)] = post
        return post

    def public_number(self, update: Update) -> int:
        """The update's position among its incident's public updates."""
        assert update.id is not None
        if update.id not in self._numbers:
            self._numbers[update.id] = _public_number(self.session, update)
        return self._numbers[update.id]

    def site_key(self) -> str | None:
        """The key subscribers' links are signed with, if one was made."""
        if self._key is None:
            self._key = (site_keys.existing_site_key(session=self.session, name=KEY_NAME),)
        return self._key[0]


def _job(session: Session, shared: _Shared, delivery: Delivery, channel: Channel) -> DeliveryJob:
    update, incident, names, _ = shared.about(delivery.update_id)
    assert channel.id is not None
    assert incident.id is not None
    assert update.id is not None
    post = shared.post(update.id, channel.locale)
    root = outbox.get_thread_root(session=session, channel_id=channel.id, incident_id=incident.id)
    root_update_id = update.id if root is None else root[0]
    root_post = shared.post(root_update_id, channel.locale)
    own_ref = None
    superseded = others_waiting = False
    if delivery.revision > 0:
        own_ref = outbox.get_sent_ref(session=session, channel_id=channel.id, update_id=update.id)
        superseded, others_waiting = outbox.waiting_behind(session=session, delivery=delivery)
    assert delivery.id is not None
    return DeliveryJob(
        delivery_id=delivery.id,
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
        public_number=shared.public_number(update),
        post=post,
        root=RootView(
            post=root_post,
            title=display_title(incident, locale=post.locale),
            status=status_label(incident.status, locale=post.locale),
            ref=None if root is None else root[1],
            update_id=root_update_id,
        ),
        is_root=root is None or root[0] == update.id,
        own_ref=own_ref,
        superseded=superseded,
        others_waiting=others_waiting,
        list_token=_list_token(shared, channel),
        resolved=incident.status.is_closed,
        progress=delivery.remote_ref if delivery.revision == 0 else None,
        facts=_facts(incident, update, names) if channel.is_internal or channel.is_ops else None,
    )


def _list_token(shared: _Shared, channel: Channel) -> str | None:
    if not channel.is_subscriber or channel.platform != Platform.EMAIL:
        return None
    key = shared.site_key()
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
