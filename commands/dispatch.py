"""Run a parsed command: check who may, call its handler, return the reply."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy.exc

from commands import verbs as v
from commands.channels import add_channel, change_channel, list_channels
from commands.components import add_component, list_components, remove_component, rename_component
from commands.context import Context, Reply
from commands.errors import NotAllowed
from commands.help import show_help
from commands.incidents import (
    add_note,
    edit_update,
    open_incident,
    post_update,
    reopen_incident,
    resolve_incident,
)
from commands.maintenance import extend_maintenance, schedule_maintenance, step_maintenance
from commands.parser import parse
from commands.queries import list_incidents, summarize
from commands.show import show_incident
from storage.audit import create_audit_event

log = logging.getLogger(__name__)

HANDLERS: dict[type[Any], Callable[[Any, Context], Reply]] = {
    v.OpenIncident: open_incident,
    v.PostUpdate: post_update,
    v.ResolveIncident: resolve_incident,
    v.ReopenIncident: reopen_incident,
    v.AddNote: add_note,
    v.EditUpdate: edit_update,
    v.ShowIncident: show_incident,
    v.ListIncidents: list_incidents,
    v.Summarize: summarize,
    v.ScheduleMaintenance: schedule_maintenance,
    v.StepMaintenance: step_maintenance,
    v.ExtendMaintenance: extend_maintenance,
    v.ListComponents: list_components,
    v.AddComponent: add_component,
    v.RenameComponent: rename_component,
    v.RemoveComponent: remove_component,
    v.ListChannels: list_channels,
    v.AddChannel: add_channel,
    v.ChangeChannel: change_channel,
    v.Help: show_help,
}


def execute(command: v.Command, ctx: Context) -> Reply:
    """Run a command for the context's actor; raise HeraldError to refuse."""
    if v.changes_state(command) and not ctx.actor.is_responder:
        audit_refusal(command, ctx)
        raise NotAllowed(
            f"Only responders can change incidents, components or channels; {ctx.grant_hint}. "
            "Anyone may use list, show, summary and help."
        )
    reply = HANDLERS[type(command)](command, ctx)
    if reply.changed and ctx.changed is not None:
        ctx.changed()
    return reply


def audit_refusal(command: v.Command, ctx: Context) -> None:
    """Record that someone who is not a responder tried to change something."""
    try:
        with ctx.sessions() as session, session.begin():
            create_audit_event(
                session=session,
                actor=ctx.actor.name,
                front_end=ctx.actor.front_end,
                action="refused",
                at=ctx.now(),
                incident_id=getattr(command, "incident_id", None),
                detail={"command": type(command).__name__},
            )
    except sqlalchemy.exc.SQLAlchemyError as error:
        # The refusal matters more than its record: the person still hears why.
        log.warning("refusal of %s not audited: %s", ctx.actor.name, type(error).__name__)


def run_text(text: str, ctx: Context) -> Reply:
    """Parse a chat message and run it."""
    return execute(parse(text, clock=ctx.clock()), ctx)
