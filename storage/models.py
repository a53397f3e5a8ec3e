"""Herald's tables: incidents, timeline, components, channels, deliveries, audit, chat state."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.platforms import Platform
from storage.types import UTCDateTime

__all__ = ["Platform"]  # it lives in the platform registry; most code finds it here


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class IncidentKind(enum.StrEnum):
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"


class IncidentStatus(enum.StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def is_closed(self) -> bool:
        """True for the final states: nothing more happens without a reopen."""
        return self in CLOSED_STATUSES


CLOSED_STATUSES = frozenset(
    {IncidentStatus.RESOLVED, IncidentStatus.COMPLETED, IncidentStatus.CANCELLED}
)
OPEN_INCIDENT_STATUSES = (
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
)


class UpdateKind(enum.StrEnum):
    OPENED = "opened"
    UPDATE = "update"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    NOTE = "note"
    MAINTENANCE_SCHEDULED = "maintenance_scheduled"
    MAINTENANCE_STARTED = "maintenance_started"
    MAINTENANCE_COMPLETED = "maintenance_completed"
    MAINTENANCE_CANCELLED = "maintenance_cancelled"
    MAINTENANCE_EXTENDED = "maintenance_extended"
    MAINTENANCE_RESCHEDULED = "maintenance_rescheduled"
    MAINTENANCE_REMINDER = "maintenance_reminder"
    # Herald telling responders that customers have heard nothing for a while; internal.
    NUDGE = "nudge"


class Audience(enum.StrEnum):
    """Who reads a channel: customers, the responders' incident channel, or a responders' chat.

    An ops channel is a Telegram chat where responders opened incidents (an ops group, a
    responder's private chat with the bot): it gets the nudges of those incidents, nothing
    else, and follows no incident.
    """

    PUBLIC = "public"
    INTERNAL = "internal"
    OPS = "ops"


class Owner(enum.StrEnum):
    """Who a channel belongs to: the operators (added with `channels add`, or set up by
    Herald), or one person who subscribed themselves, whose address is theirs alone."""

    OPERATOR = "operator"
    SUBSCRIBER = "subscriber"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"


def _enum_column(enum_type: type[enum.StrEnum], **kwargs: Any) -> Any:
    """A VARCHAR column holding the enum's values (no native PostgreSQL enum to migrate)."""
    return sa.Column(
        sa.Enum(
            enum_type,
            native_enum=False,
            create_constraint=False,
            length=24,
            values_callable=lambda members: [m.value for m in members],
        ),
        **kwargs,
    )


class Component(SQLModel, table=True):
    """A service customers recognise, such as "Posta" or "DNS"."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=40, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IncidentComponent(SQLModel, table=True):
    """Which components an incident or maintenance affects."""

    __tablename__ = "incident_component"
    __table_args__ = (sa.Index("ix_incident_component_component", "component_id"),)

    incident_id: int = Field(foreign_key="incident.id", primary_key=True, ondelete="CASCADE")
    component_id: int = Field(foreign_key="component.id", primary_key=True)


class Incident(SQLModel, table=True):
    """An incident or a scheduled maintenance, with its current state."""

    id: int | None = Field(default=None, primary_key=True)
    kind: IncidentKind = Field(sa_column=_enum_column(IncidentKind, nullable=False))
    title: str = Field(max_length=200)
    severity: int | None = Field(default=None)
    status: IncidentStatus = Field(sa_column=_enum_column(IncidentStatus, nullable=False))
    opened_by: str = Field(max_length=120)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    changed_at: datetime = Field(sa_type=UTCDateTime, index=True)
    window_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    window_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    auto_transitions: bool = Field(default=True)
    # How long before the window customers are reminded; None sends no reminder.
    remind_before_seconds: int | None = Field(default=None)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The last nudge to responders; a public update after it starts a new quiet period.
    nudged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Where the incident was opened, as `platform:address` (`telegram:-1001234567890`), when
    # a chat says so: its nudges go there too. None from the CLI, Slack and the scheduler.
    opened_in: str | None = Field(default=None, max_length=80)

    __table_args__ = (
        sa.Index("ix_incident_status_opened", "status", "opened_at"),
        sa.Index("ix_incident_opened_id", "opened_at", "id"),
        sa.Index("ix_incident_kind_window", "kind", "window_start"),
    )


class Update(SQLModel, table=True):
    """One entry of an incident's timeline; public unless it is a note."""

    __tablename__ = "incident_update"
    __table_args__ = (sa.UniqueConstraint("incident_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    number: int
    kind: UpdateKind = Field(sa_column=_enum_column(UpdateKind, nullable=False))
    status: IncidentStatus = Field(sa_column=_enum_column(IncidentStatus, nullable=False))
    severity: int | None = Field(default=None)
    text: str = Field(default="", sa_type=sa.Text)
    public: bool = Field(default=True)
    author: str = Field(max_length=120)
    front_end: str = Field(max_length=20)
    at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revision: int = Field(default=0)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A maintenance's window as this update announced it: a later move of the window
    # must not reword what customers were told before it.
    window_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    window_end: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ChannelComponent(SQLModel, table=True):
    """The components a channel follows; none means every component."""

    __tablename__ = "channel_component"

    channel_id: int = Field(foreign_key="channel.id", primary_key=True, ondelete="CASCADE")
    component_id: int = Field(foreign_key="component.id", primary_key=True)


class Channel(SQLModel, table=True):
    """A destination that follows incidents: a customer channel, or the incident channel.

    An internal channel (the responders' incident channel) follows every incident and
    also receives internal notes; public channels never do.
    """

    __table_args__ = (sa.UniqueConstraint("platform", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: Platform = Field(sa_column=_enum_column(Platform, nullable=False))
    address: str = Field(max_length=500)
    locale: str = Field(default="it", max_length=8)
    min_severity: int | None = Field(default=None)
    enabled: bool = Field(default=True)
    disabled_reason: str | None = Field(default=None, max_length=500)
    secret: str | None = Field(default=None, max_length=200, repr=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    audience: Audience = Field(
        default=Audience.PUBLIC,
        sa_column=_enum_column(Audience, nullable=False, server_default=Audience.PUBLIC.value),
    )
    owner: Owner = Field(
        default=Owner.OPERATOR,
        sa_column=_enum_column(Owner, nullable=False, server_default=Owner.OPERATOR.value),
    )

    @property
    def is_internal(self) -> bool:
        """True for the responders' incident channel."""
        return Audience(self.audience) == Audience.INTERNAL

    @property
    def is_ops(self) -> bool:
        """True for a responders' chat that gets only the nudges of incidents opened there."""
        return Audience(self.audience) == Audience.OPS

    @property
    def is_subscriber(self) -> bool:
        """True for a person's own subscription, counted, never listed, for operators."""
        return Owner(self.owner) == Owner.SUBSCRIBER


class Delivery(SQLModel, table=True):
    """The outbox: one row per (update, channel, revision) to be sent by the worker."""

    __table_args__ = (
        sa.UniqueConstraint("update_id", "channel_id", "revision"),
        sa.Index("ix_delivery_due", "state", "next_attempt_at"),
        sa.Index("ix_delivery_channel_queue", "channel_id", "state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    update_id: int = Field(foreign_key="incident_update.id", ondelete="CASCADE")
    channel_id: int = Field(foreign_key="channel.id", index=True, ondelete="CASCADE")
    revision: int = Field(default=0)
    state: DeliveryState = Field(sa_column=_enum_column(DeliveryState, nullable=False))
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    remote_ref: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=80)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """Who did what, when, and through which front-end."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=120)
    front_end: str = Field(max_length=20)
    action: str = Field(max_length=60)
    incident_id: int | None = Field(default=None, index=True)
    detail: str = Field(default="{}", sa_type=sa.Text)


class HandledRequest(SQLModel, table=True):
    """A chat platform's request already run, so a retry or a second process skips it."""

    __tablename__ = "handled_request"

    source: str = Field(max_length=40, primary_key=True)
    key: str = Field(max_length=120, primary_key=True)
    handled_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # Set once the request has been run and answered; a claim left unfinished belongs to
    # a process that died, and its author is told to check before sending it again.
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Where to tell them: the chat and the message that carried the request.
    reply_chat: int | None = Field(default=None, sa_type=sa.BigInteger)
    reply_to: int | None = Field(default=None, sa_type=sa.BigInteger)


class Cursor(SQLModel, table=True):
    """How far a front-end has read a platform's stream, such as Telegram's update ids."""

    name: str = Field(max_length=80, primary_key=True)
    # Telegram update ids exceed 2**31.
    position: int = Field(sa_type=sa.BigInteger)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Lease(SQLModel, table=True):
    """A job only one process may run at a time, held by `holder` until `expires_at`."""

    name: str = Field(max_length=80, primary_key=True)
    holder: str = Field(max_length=120)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class RateBudget(SQLModel, table=True):
    """A 429's pause on a bot token or a chat, honoured by whichever process sends next.

    Times are seconds since the epoch by the database's clock, so processes on
    machines whose clocks disagree still agree on when a pause ends.
    """

    __tablename__ = "rate_budget"

    name: str = Field(max_length=520, primary_key=True)
    paused_until: float | None = None


class ScheduledRun(SQLModel, table=True):
    """One firing of a scheduled job, such as the digest of 9:00 on a Monday.

    The row is the claim: whoever inserts it fires the job, so a firing is neither
    repeated by a second process nor by a restart, and a missed one is found and caught up.
    """

    __tablename__ = "scheduled_run"

    job: str = Field(max_length=80, primary_key=True)
    due_at: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    claimed_at: datetime = Field(sa_type=UTCDateTime)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str = Field(default="", sa_type=sa.Text)


class SiteKey(SQLModel, table=True):
    """A random key made once and shared by every process through the database: it signs
    the links in subscription mails, so no setting has to be kept in step by hand."""

    __tablename__ = "site_key"

    name: str = Field(max_length=40, primary_key=True)
    value: str = Field(max_length=200, repr=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MailRequest(SQLModel, table=True):
    """A confirmation mail asked for, counted per address and per client (both hashed) to
    keep the subscribe form from being used to flood someone's inbox."""

    __tablename__ = "mail_request"
    __table_args__ = (sa.Index("ix_mail_request_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
