"""What a modal is filled with: the component registry and an incident's current state."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from commands.lookup import get_incident
from storage import components as component_store
from storage import updates as update_store
from storage.models import IncidentKind, IncidentStatus, UpdateKind


@dataclass(frozen=True)
class ComponentChoice:
    """One option of the components multi-select."""

    key: str
    name: str


@dataclass(frozen=True)
class LastUpdate:
    """The update `Edit last update` corrects."""

    number: int
    kind: UpdateKind
    text: str


@dataclass(frozen=True)
class IncidentForm:
    """An incident as the Update, Resolve, Note and Edit modals show it."""

    incident_id: int
    title: str
    kind: IncidentKind
    status: IncidentStatus
    severity: int | None
    components: tuple[str, ...]
    last_public: LastUpdate | None


def load_components(sessions: sessionmaker[Session]) -> list[ComponentChoice]:
    """The live components, in the order they were added."""
    with sessions() as session:
        return [
            ComponentChoice(c.key, c.name) for c in component_store.list_components(session=session)
        ]


def load_incident_form(
    sessions: sessionmaker[Session], incident_id: int
) -> tuple[IncidentForm, list[ComponentChoice]]:
    """The incident (or a Refused naming `list`) and the component registry."""
    with sessions() as session:
        incident = get_incident(session, incident_id)
        assert incident.id is not None
        keys = tuple(
            c.key
            for c in component_store.list_components_of(session=session, incident_id=incident.id)
        )
        last = update_store.get_last_public_update(session=session, incident_id=incident.id)
        choices = [
            ComponentChoice(c.key, c.name) for c in component_store.list_components(session=session)
        ]
        form = IncidentForm(
            incident_id=incident.id,
            title=incident.title,
            kind=IncidentKind(incident.kind),
            status=IncidentStatus(incident.status),
            severity=incident.severity,
            components=keys,
            last_public=None
            if last is None
            else LastUpdate(last.number, UpdateKind(last.kind), last.text),
        )
    return form, choices
