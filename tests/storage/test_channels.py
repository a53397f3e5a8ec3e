"""Incident channels: one enabled per platform, retired per platform or all at once."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from storage.channels import (
    ensure_internal_channel,
    list_internal_channels,
    retire_internal_channels,
)
from storage.models import Platform


def ensure(sessions: sessionmaker[Session], platform: Platform, address: str) -> list[str]:
    """Make `address` the platform's incident channel; the addresses retired."""
    with sessions() as session, session.begin():
        _, retired = ensure_internal_channel(
            session=session, platform=platform, address=address, locale="it"
        )
        return [c.address for c in retired]


def enabled(sessions: sessionmaker[Session], platform: Platform | None = None) -> list[str]:
    """Addresses of the enabled incident channels of `platform` (of all when None)."""
    with sessions() as session:
        channels = list_internal_channels(session=session, platform=platform)
        return [c.address for c in channels if c.enabled]


def test_each_platform_keeps_its_own_incident_channel(sessions: sessionmaker[Session]) -> None:
    assert ensure(sessions, Platform.SLACK, "C0OLDINC1") == []
    assert ensure(sessions, Platform.TELEGRAM, "-1001") == []
    assert enabled(sessions) == ["C0OLDINC1", "-1001"]
    assert ensure(sessions, Platform.SLACK, "C0NEWINC1") == ["C0OLDINC1"]
    assert ensure(sessions, Platform.TELEGRAM, "-1002") == ["-1001"]
    assert enabled(sessions, Platform.SLACK) == ["C0NEWINC1"]
    assert enabled(sessions, Platform.TELEGRAM) == ["-1002"]
    with sessions() as session:
        every = list_internal_channels(session=session, platform=Platform.SLACK)
    assert [c.address for c in every] == ["C0OLDINC1", "C0NEWINC1"]


def test_retiring_one_platform_leaves_the_others(sessions: sessionmaker[Session]) -> None:
    ensure(sessions, Platform.SLACK, "C0INC0001")
    ensure(sessions, Platform.TELEGRAM, "-1001")
    with sessions() as session, session.begin():
        retired = retire_internal_channels(
            session=session, reason="SLACK_INCIDENT_CHANNEL is not set", platform=Platform.SLACK
        )
        assert [(c.address, c.disabled_reason) for c in retired] == [
            ("C0INC0001", "SLACK_INCIDENT_CHANNEL is not set")
        ]
    assert enabled(sessions) == ["-1001"]
    with sessions() as session, session.begin():
        retired = retire_internal_channels(session=session, reason="gone")
        assert [c.address for c in retired] == ["-1001"]
    assert enabled(sessions) == []
