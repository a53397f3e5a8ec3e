"""Ops chats: made on first use, found again whatever the case of an @username, never made of a
customer or incident channel, and never a follower of an incident."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from commands.context import Actor
from storage.channels import (
    ensure_internal_channel,
    ensure_ops_channel,
    list_followers,
    ops_channel_of,
)
from storage.models import Audience, Channel, Incident, Platform
from tests.factories import FakeClock, make_channel, make_context, make_incident


def ops(sessions: sessionmaker[Session], address: str) -> tuple[int | None, str] | None:
    """ensure_ops_channel in its own transaction: the channel's (id, address), or None."""
    with sessions() as session, session.begin():
        channel = ensure_ops_channel(
            session=session, platform=Platform.TELEGRAM, address=address, locale="it"
        )
        return None if channel is None else (channel.id, channel.address)


def test_an_ops_chat_is_made_once_and_found_again(sessions: sessionmaker[Session]) -> None:
    first = ops(sessions, "-1001")
    assert first is not None
    assert ops(sessions, "-1001") == first
    named = ops(sessions, "@Acme_Ops")
    assert ops(sessions, "@acme_ops") == named
    with sessions() as session:
        rows = session.exec(select(Channel.address, Channel.audience)).all()
    assert sorted(rows) == [("-1001", Audience.OPS), ("@Acme_Ops", Audience.OPS)]


def test_a_customer_or_incident_channel_is_never_made_an_ops_chat(
    sessions: sessionmaker[Session],
) -> None:
    make_channel(make_context(sessions), "-1002")
    with sessions() as session, session.begin():
        ensure_internal_channel(
            session=session, platform=Platform.TELEGRAM, address="@Incidents", locale="it"
        )
    assert ops(sessions, "-1002") is None
    assert ops(sessions, "@incidents") is None
    with sessions() as session:
        audiences = sorted(session.exec(select(Channel.audience)).all())
    assert audiences == [Audience.INTERNAL, Audience.PUBLIC]


def test_a_chat_added_meanwhile_is_looked_up_again(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another transaction adds the chat after this one looked for it: the insert fails in a
    # savepoint, the row is looked up again and this transaction carries on.
    with sessions() as session, session.begin():
        session.add(Channel(platform=Platform.TELEGRAM, address="-1003", audience=Audience.OPS))
    with sessions() as session, session.begin():
        looks = []
        original = session.exec

        def first_look_misses(statement: Any, **kwargs: Any) -> Any:
            looks.append(statement)
            found = original(statement, **kwargs)
            return found if len(looks) > 1 else _Nothing()

        monkeypatch.setattr(session, "exec", first_look_misses)
        channel = ensure_ops_channel(
            session=session, platform=Platform.TELEGRAM, address="-1003", locale="it"
        )
        monkeypatch.undo()
        assert len(looks) == 2
        assert channel is not None
        assert channel.address == "-1003"
        assert session.exec(select(Channel)).all() == [channel]


class _Nothing:
    """A result that found no row."""

    def first(self) -> None:
        return None


def test_an_ops_chat_follows_no_incident_and_only_telegram_counts(
    sessions: sessionmaker[Session],
) -> None:
    clock = FakeClock()
    ctx = make_context(sessions, clock, actor=Actor("t", "telegram", place="telegram:-1004"))
    make_incident(ctx)
    slack = make_context(sessions, clock, actor=Actor("s", "slack", place="slack:C0OPS"))
    make_incident(slack, "Another")
    with sessions() as session, session.begin():
        first, second = session.exec(select(Incident).order_by(col(Incident.id))).all()
        assert (first.opened_in, second.opened_in) == ("telegram:-1004", "slack:C0OPS")
        channel = ops_channel_of(session=session, incident=first, locale="it")
        assert channel is not None
        assert channel.is_ops
        assert ops_channel_of(session=session, incident=second, locale="it") is None
        assert list(list_followers(session=session, incident=first, component_ids=set())) == []
        channel.enabled = False
        session.add(channel)
        assert ops_channel_of(session=session, incident=first, locale="it") is None
