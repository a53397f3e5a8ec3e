"""The responders' incident channel of a platform: a Channel row kept in step with its setting."""

from __future__ import annotations

import logging

import sqlalchemy.exc

from bot.database import Database
from storage import channels as channel_store
from storage.models import Platform

log = logging.getLogger(__name__)


def ensure_incident_channel(
    database: Database, *, platform: Platform, address: str | None, locale: str, setting: str
) -> None:
    """Make the platform's incident channel exist (again) at `address`, or retire it when unset."""
    for attempt in (1, 2):
        try:
            _ensure(database, platform, address, locale, setting)
            return
        except sqlalchemy.exc.IntegrityError:
            # Another process created it at the same moment: look again.
            if attempt == 2:
                raise


def _ensure(
    database: Database, platform: Platform, address: str | None, locale: str, setting: str
) -> None:
    with database.sessions() as session, session.begin():
        if not address:
            for channel in channel_store.retire_internal_channels(
                session=session, reason=f"{setting} is not set", platform=platform
            ):
                log.info(
                    "incident channel #%s %s disabled: no %s", channel.id, channel.address, setting
                )
            return
        channel, retired = channel_store.ensure_internal_channel(
            session=session, platform=platform, address=address, locale=locale
        )
        for old in retired:
            log.info("incident channel #%s %s retired: now %s", old.id, old.address, address)
        if not channel.enabled:
            log.warning(
                "incident channel #%s %s is disabled (%s); its updates wait. Fix it, then: "
                "herald channels enable #%s",
                channel.id,
                channel.address,
                channel.disabled_reason or "by hand",
                channel.id,
            )
        else:
            name = platform.value.capitalize()
            log.info("%s incident channel %s (channel #%s)", name, address, channel.id)
