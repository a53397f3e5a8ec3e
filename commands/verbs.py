"""The commands Herald understands, as typed values the handlers act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.models import IncidentStatus, Platform


@dataclass(frozen=True)
class OpenIncident:
    title: str
    severity: int | None = None
    components: tuple[str, ...] | None = None
    status: IncidentStatus | None = None
    message: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class PostUpdate:
    incident_id: int
    text: str
    status: IncidentStatus | None = None
    severity: int | None = None
    components: tuple[str, ...] | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class ResolveIncident:
    incident_id: int
    text: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class ReopenIncident:
    incident_id: int
    text: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class AddNote:
    incident_id: int
    text: str
    at: datetime | None = None


@dataclass(frozen=True)
class EditUpdate:
    incident_id: int
    text: str
    number: int | None = None


@dataclass(frozen=True)
class ShowIncident:
    incident_id: int


@dataclass(frozen=True)
class ListIncidents:
    include_closed: bool = False
    since: datetime | None = None


@dataclass(frozen=True)
class Summarize:
    period: str = "week"
    share: bool = False


@dataclass(frozen=True)
class ScheduleMaintenance:
    title: str
    start: datetime
    end: datetime
    components: tuple[str, ...] | None = None
    message: str = ""
    manual: bool = False
    at: datetime | None = None
    # How long before the window customers are reminded; None takes the configured default.
    remind: timedelta | None = None


@dataclass(frozen=True)
class StepMaintenance:
    """Start, complete or cancel a maintenance."""

    action: str
    incident_id: int
    text: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class ExtendMaintenance:
    """Move a maintenance window: its end, or its start too while it has not begun."""

    incident_id: int
    end: datetime
    text: str = ""
    start: datetime | None = None


@dataclass(frozen=True)
class ListComponents:
    pass


@dataclass(frozen=True)
class AddComponent:
    key: str
    name: str


@dataclass(frozen=True)
class RenameComponent:
    key: str
    name: str


@dataclass(frozen=True)
class RemoveComponent:
    key: str


@dataclass(frozen=True)
class ListChannels:
    pass


@dataclass(frozen=True)
class AddChannel:
    platform: Platform
    address: str
    locale: str | None = None
    components: tuple[str, ...] | None = None
    min_severity: int | None = None
    secret: str | None = None


@dataclass(frozen=True)
class ChangeChannel:
    """Remove, disable or enable a channel named by id or address."""

    action: str
    target: str
    reason: str = ""


@dataclass(frozen=True)
class Help:
    verb: str | None = None


Command = (
    OpenIncident
    | PostUpdate
    | ResolveIncident
    | ReopenIncident
    | AddNote
    | EditUpdate
    | ShowIncident
    | ListIncidents
    | Summarize
    | ScheduleMaintenance
    | StepMaintenance
    | ExtendMaintenance
    | ListComponents
    | AddComponent
    | RenameComponent
    | RemoveComponent
    | ListChannels
    | AddChannel
    | ChangeChannel
    | Help
)

CHANGING = (
    OpenIncident,
    PostUpdate,
    ResolveIncident,
    ReopenIncident,
    AddNote,
    EditUpdate,
    ScheduleMaintenance,
    StepMaintenance,
    ExtendMaintenance,
    AddComponent,
    RenameComponent,
    RemoveComponent,
    AddChannel,
    ChangeChannel,
)


def changes_state(command: Command) -> bool:
    """True for commands only responders may run."""
    return isinstance(command, CHANGING)
