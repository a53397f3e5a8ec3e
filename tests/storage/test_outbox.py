"""A delivery row per public update and following channel, written with the update."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from commands.context import Context
from commands.errors import Refused
from storage.deliveries import create_deliveries
from storage.models import Channel, Delivery, DeliveryState, Update
from tests.factories import (
    FakeClock,
    make_channel,
    make_component,
    make_context,
    make_incident,
    run,
)


def deliveries_by_channel(
    sessions: sessionmaker[Session], incident_id: int
) -> dict[str, list[int]]:
    """Channel address -> update numbers queued for it, in order."""
    with sessions() as session:
        rows = session.exec(
            select(Channel.address, Update.number)
            .join(Delivery, col(Delivery.channel_id) == col(Channel.id))
            .join(Update, col(Update.id) == col(Delivery.update_id))
            .where(Update.incident_id == incident_id, Delivery.revision == 0)
            .order_by(col(Delivery.id))
        ).all()
    found: dict[str, list[int]] = {}
    for address, number in rows:
        found.setdefault(address, []).append(number)
    return found


@pytest.fixture
def ctx(sessions: sessionmaker[Session], clock: FakeClock) -> Context:
    context = make_context(sessions, clock)
    make_component(context, "posta", "Posta")
    make_component(context, "web", "Web")
    make_channel(context, "-1001", options="--lang it")
    make_channel(context, "-1002", options="--lang en --components web")
    make_channel(context, "-1003", options="--min-sev 1")
    make_channel(context, "C0123ABCD", platform="slack", options="--components posta --min-sev 2")
    return context


def test_each_public_update_queues_one_delivery_per_following_channel(
    ctx: Context,
    sessions: sessionmaker[Session],
) -> None:
    incident_id = make_incident(ctx, sev=2, components="posta")
    run(ctx, f"update {incident_id} Stiamo verificando")
    run(ctx, f"note {incident_id} solo per noi")
    run(ctx, f"resolve {incident_id}")
    queued = deliveries_by_channel(sessions, incident_id)
    # -1002 follows only web, -1003 only SEV1: neither gets a SEV2 posta incident.
    assert queued == {"-1001": [1, 2, 4], "C0123ABCD": [1, 2, 4]}
    with sessions() as session:
        states = set(session.exec(select(Delivery.state)).all())
    assert states == {DeliveryState.PENDING}


def test_severity_and_component_filters(ctx: Context, sessions: sessionmaker[Session]) -> None:
    critical_web = make_incident(ctx, "Sito irraggiungibile", sev=1, components="web")
    minor_posta = make_incident(ctx, "Ritardi posta", sev=3, components="posta")
    assert set(deliveries_by_channel(sessions, critical_web)) == {"-1001", "-1002", "-1003"}
    assert set(deliveries_by_channel(sessions, minor_posta)) == {"-1001"}


def test_a_channel_that_got_the_opening_keeps_following_after_a_downgrade(
    ctx: Context,
    sessions: sessionmaker[Session],
) -> None:
    incident_id = make_incident(ctx, sev=1, components="posta")
    run(ctx, f"update {incident_id} --sev 4 --components web Impatto ridotto")
    queued = deliveries_by_channel(sessions, incident_id)
    assert queued["-1003"] == [1, 2]
    assert queued["C0123ABCD"] == [1, 2]
    # -1002 follows web: it joins from the update that made web affected.
    assert queued["-1002"] == [2]


def test_disabled_channels_get_nothing(ctx: Context, sessions: sessionmaker[Session]) -> None:
    run(ctx, "channels disable -1001 bot was blocked")
    incident_id = make_incident(ctx, sev=1, components="posta")
    assert "-1001" not in deliveries_by_channel(sessions, incident_id)


def test_maintenance_reaches_channels_whatever_their_minimum_severity(
    ctx: Context,
    sessions: sessionmaker[Session],
) -> None:
    reply = run(
        ctx,
        'maintenance schedule Aggiornamento --start "2025-02-01 10:00" '
        '--end "2025-02-01 12:00" --components posta',
    )
    assert reply.incident_id is not None
    assert set(deliveries_by_channel(sessions, reply.incident_id)) == {
        "-1001",
        "-1003",
        "C0123ABCD",
    }


def test_a_correction_is_queued_where_the_update_went(
    ctx: Context, sessions: sessionmaker[Session]
) -> None:
    incident_id = make_incident(ctx, sev=2, components="posta", message="Testo sbagliato")
    run(ctx, f"edit {incident_id} Testo corretto")
    with sessions() as session:
        corrections = session.exec(
            select(Channel.address).join(Delivery).where(Delivery.revision == 1)
        ).all()
    assert sorted(corrections) == ["-1001", "C0123ABCD"]


def test_a_failed_command_leaves_no_update_and_no_delivery(
    ctx: Context,
    sessions: sessionmaker[Session],
) -> None:
    with pytest.raises(Refused):
        run(ctx, 'open "Mezzo salvato" --components posta,nonexistent')
    with sessions() as session:
        assert session.exec(select(Update)).all() == []
        assert session.exec(select(Delivery)).all() == []


def test_queueing_counts_only_the_rows_written(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    # Thousands of rows go in one statement each few hundred channels; what it returns
    # is what was written, not what was asked for.
    make_channel(ctx, "-1009001")
    make_channel(ctx, "-1009002")
    incident_id = make_incident(ctx)
    with sessions() as session, session.begin():
        update = session.exec(select(Update).where(Update.incident_id == incident_id)).one()
        kept, gone = session.exec(
            select(Channel)
            .where(col(Channel.address).in_(["-1009001", "-1009002"]))
            .order_by(col(Channel.address).desc())
        ).all()
        session.delete(gone)
        session.flush()
        queued = create_deliveries(
            session=session, update=update, channels=[kept, gone], revision=1, at=clock()
        )
        nothing = create_deliveries(
            session=session, update=update, channels=[], revision=2, at=clock()
        )
    assert (queued, nothing) == (1, 0)
    with sessions() as session:
        corrections = session.exec(select(Delivery).where(Delivery.revision == 1)).all()
    assert [(d.channel_id, d.state) for d in corrections] == [(kept.id, DeliveryState.PENDING)]
