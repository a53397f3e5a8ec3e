"""What customers see on the status page right now, as data for a chat front-end's `/status`."""

from __future__ import annotations

from dataclasses import dataclass

from commands.context import Context
from commands.public_view import (
    ComponentStatus,
    Overall,
    PublicIncident,
    PublicView,
    component_statuses,
    overall_of,
)
from commands.wording import pick_locale
from storage.models import IncidentStatus


@dataclass(frozen=True)
class CurrentStatus:
    """The page's banner, each component's state, and what is open or in maintenance."""

    locale: str
    overall: Overall
    components: tuple[ComponentStatus, ...]
    incidents: tuple[PublicIncident, ...]
    maintenance: tuple[PublicIncident, ...]


def current_status(ctx: Context, *, locale: str | None = None) -> CurrentStatus:
    """The public status now, worded in `locale` (the context's by default)."""
    chosen = pick_locale(locale or ctx.locale)
    with ctx.sessions() as session:
        view = PublicView(session, locale=chosen, zone=ctx.zone)
        active = view.active()
        return CurrentStatus(
            locale=chosen,
            overall=overall_of(active),
            components=component_statuses(view.live_components(), active),
            incidents=tuple(i for i in active if not i.is_maintenance),
            maintenance=tuple(
                i
                for i in active
                if i.is_maintenance
                and i.status in (IncidentStatus.IN_PROGRESS, IncidentStatus.SCHEDULED)
            ),
        )
