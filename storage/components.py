"""Queries for components: the services customers recognise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import Component, IncidentComponent


def list_components(*, session: Session, include_removed: bool = False) -> Sequence[Component]:
    """Components in the order they were added."""
    query = select(Component).order_by(col(Component.id))
    if not include_removed:
        query = query.where(col(Component.removed_at).is_(None))
    return session.exec(query).all()


def get_component_by_key(*, session: Session, key: str) -> Component | None:
    """The live component with this key, or None."""
    query = select(Component).where(Component.key == key, col(Component.removed_at).is_(None))
    return session.exec(query).first()


def get_component_by_key_any(*, session: Session, key: str) -> Component | None:
    """The component with this key, removed or not (keys are unique forever)."""
    return session.exec(select(Component).where(Component.key == key)).first()


def create_component(*, session: Session, key: str, name: str) -> Component:
    """Add a component."""
    component = Component(key=key, name=name)
    session.add(component)
    session.flush()
    return component


def remove_component(*, session: Session, component: Component, at: datetime) -> None:
    """Retire a component; past incidents keep showing it."""
    component.removed_at = at
    session.add(component)


def list_components_of(*, session: Session, incident_id: int) -> Sequence[Component]:
    """The components an incident affects."""
    query = (
        select(Component)
        .join(IncidentComponent, col(IncidentComponent.component_id) == col(Component.id))
        .where(IncidentComponent.incident_id == incident_id)
        .order_by(col(Component.id))
    )
    return session.exec(query).all()


def set_components_of(
    *, session: Session, incident_id: int, components: Sequence[Component]
) -> None:
    """Replace the set of components an incident affects."""
    for link in session.exec(
        select(IncidentComponent).where(IncidentComponent.incident_id == incident_id)
    ):
        session.delete(link)
    session.flush()
    link_components(session=session, incident_id=incident_id, components=components)


def link_components(*, session: Session, incident_id: int, components: Sequence[Component]) -> None:
    """Add components to an incident that has none of them yet (one just opened)."""
    for component in components:
        assert component.id is not None
        session.add(IncidentComponent(incident_id=incident_id, component_id=component.id))


def list_component_keys_of(
    *, session: Session, incident_ids: Sequence[int]
) -> dict[int, list[str]]:
    """The component keys of many incidents in one query."""
    if not incident_ids:
        return {}
    rows = session.exec(
        select(IncidentComponent.incident_id, Component.key)
        .join(Component, col(Component.id) == col(IncidentComponent.component_id))
        .where(col(IncidentComponent.incident_id).in_(incident_ids))
        .order_by(col(Component.id))
    ).all()
    keys: dict[int, list[str]] = {incident_id: [] for incident_id in incident_ids}
    for incident_id, key in rows:
        keys[incident_id].append(key)
    return keys
