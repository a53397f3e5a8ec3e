"""Handlers for the component registry."""

from __future__ import annotations

from sqlmodel import Session

from commands import verbs as v
from commands.context import Context, Reply
from commands.errors import Refused
from storage import audit as audit_store
from storage import components as component_store
from storage import incidents as incident_store


def _audit(ctx: Context, session: Session, action: str, key: str, name: str = "") -> None:
    audit_store.create_audit_event(
        session=session,
        actor=ctx.actor.name,
        front_end=ctx.actor.front_end,
        action=action,
        at=ctx.now(),
        detail={"component": key, "name": name},
    )


def list_components(command: v.ListComponents, ctx: Context) -> Reply:
    """The components customers see."""
    with ctx.sessions() as session:
        components = component_store.list_components(session=session)
    if not components:
        return Reply("No components yet. Add one with: components add posta Posta")
    lines = [f"{c.key:<16} {c.name}" for c in components]
    return Reply("Components:\n" + "\n".join(lines))


def add_component(command: v.AddComponent, ctx: Context) -> Reply:
    """Add a component (or bring back a removed one with the same key)."""
    with ctx.sessions() as session, session.begin():
        existing = component_store.get_component_by_key_any(session=session, key=command.key)
        if existing is not None and existing.removed_at is None:
            raise Refused(
                f"Component {command.key} exists already as “{existing.name}”; "
                f"to change its name: components rename {command.key} NAME"
            )
        if existing is not None:
            existing.removed_at = None
            existing.name = command.name
            session.add(existing)
        else:
            component_store.create_component(session=session, key=command.key, name=command.name)
        _audit(ctx, session, "component_add", command.key, command.name)
    return Reply(f"Added component {command.key} “{command.name}”.", changed=True)


def rename_component(command: v.RenameComponent, ctx: Context) -> Reply:
    """Change the name customers see; the key stays."""
    with ctx.sessions() as session, session.begin():
        component = component_store.get_component_by_key(session=session, key=command.key)
        if component is None:
            raise Refused(f"There is no component {command.key}; see: components list")
        old = component.name
        component.name = command.name
        session.add(component)
        _audit(ctx, session, "component_rename", command.key, command.name)
    return Reply(f"Renamed {command.key} from “{old}” to “{command.name}”.", changed=True)


def remove_component(command: v.RemoveComponent, ctx: Context) -> Reply:
    """Retire a component that no open incident uses."""
    with ctx.sessions() as session, session.begin():
        component = component_store.get_component_by_key(session=session, key=command.key)
        if component is None:
            raise Refused(f"There is no component {command.key}; see: components list")
        for incident in incident_store.list_incidents(session=session):
            assert incident.id is not None
            keys = {
                c.key
                for c in component_store.list_components_of(
                    session=session, incident_id=incident.id
                )
            }
            if command.key in keys:
                raise Refused(
                    f"{command.key} is affected by open INC-{incident.id}; "
                    "resolve or complete it first."
                )
        component_store.remove_component(session=session, component=component, at=ctx.now())
        _audit(ctx, session, "component_remove", command.key)
    return Reply(f"Removed component {command.key}; past incidents still show it.", changed=True)
