"""Incident lifecycle rules: open, update, resolve, reopen, note, edit."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from commands.context import Context
from commands.errors import NotAllowed, Refused, UsageError
from storage.components import list_component_keys_of
from storage.models import AuditEvent, Incident, IncidentStatus, Update, UpdateKind
from tests.factories import (
    VIEWER,
    FakeClock,
    make_channel,
    make_context,
    make_incident,
    run,
)


def timeline(sessions: sessionmaker[Session], incident_id: int) -> list[Update]:
    with sessions() as session:
        return list(
            session.exec(
                select(Update).where(Update.incident_id == incident_id).order_by(Update.number)  # type: ignore[arg-type]
            ).all()
        )


def incident(sessions: sessionmaker[Session], incident_id: int) -> Incident:
    with sessions() as session:
        found = session.get(Incident, incident_id)
        assert found is not None
        return found


def test_open_saves_incident_components_and_opening(
    ctx: Context, sessions: sessionmaker[Session]
) -> None:
    reply = run(ctx, "open “Problemi consegna posta” --sev 2 --components posta,web --message Ciao")
    assert reply.changed
    assert reply.incident_id is not None
    assert reply.text.startswith(f"Opened INC-{reply.incident_id} “Problemi consegna posta”")
    saved = incident(sessions, reply.incident_id)
    assert (saved.severity, saved.status) == (2, IncidentStatus.INVESTIGATING)
    [opening] = timeline(sessions, reply.incident_id)
    assert (opening.kind, opening.text, opening.author) == (UpdateKind.OPENED, "Ciao", "alice")


def test_open_defaults_to_sev3_and_takes_an_initial_status(
    ctx: Context, sessions: sessionmaker[Session]
) -> None:
    reply = run(ctx, "open DNS lento --status identified")
    assert reply.incident_id is not None
    saved = incident(sessions, reply.incident_id)
    assert (saved.severity, saved.status) == (3, IncidentStatus.IDENTIFIED)


def test_unknown_component_is_refused_listing_the_known_ones(ctx: Context) -> None:
    with pytest.raises(Refused, match=r"Unknown component dns\. Known: posta, web"):
        run(ctx, "open Guasto --components dns")


def test_components_match_by_name_too(ctx: Context, sessions: sessionmaker[Session]) -> None:
    reply = run(ctx, "open Guasto --components Posta")
    assert reply.incident_id is not None
    assert "posta" in reply.text


def test_same_open_twice_within_a_minute_creates_one_incident(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    first = run(ctx, "open Posta lenta --sev 2")
    clock.advance(seconds=30)
    second = run(ctx, "open Posta lenta --sev 2")
    assert second.incident_id == first.incident_id
    assert not second.changed
    assert "nothing new was posted" in second.text
    clock.advance(seconds=61)
    third = run(ctx, "open Posta lenta --sev 2")
    assert third.incident_id != first.incident_id


def test_update_changes_status_severity_and_components(
    ctx: Context, sessions: sessionmaker[Session]
) -> None:
    incident_id = make_incident(ctx, sev=3, components="posta")
    reply = run(
        ctx, f"update INC-{incident_id} --status identified --sev 1 --components web Nodo escluso"
    )
    assert "status investigating → identified" in reply.text
    assert "SEV3 → SEV1" in reply.text
    saved = incident(sessions, incident_id)
    assert (saved.status, saved.severity) == (IncidentStatus.IDENTIFIED, 1)
    update = timeline(sessions, incident_id)[-1]
    assert (update.number, update.status, update.severity) == (2, IncidentStatus.IDENTIFIED, 1)


def test_no_update_to_a_resolved_incident_without_reopen(ctx: Context) -> None:
    incident_id = make_incident(ctx)
    run(ctx, f"resolve {incident_id}")
    with pytest.raises(Refused, match=f"reopen it first: reopen INC-{incident_id}"):
        run(ctx, f"update {incident_id} ancora qui")
    with pytest.raises(Refused):
        run(ctx, f"resolve {incident_id}")
    reply = run(ctx, f"reopen {incident_id} Il problema si è ripresentato")
    assert reply.changed
    run(ctx, f"update {incident_id} ancora qui")


def test_resolve_closes_and_reopen_clears_the_closing_time(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = make_incident(ctx)
    clock.advance(hours=1, minutes=40)
    run(ctx, f"resolve #{incident_id} Tutto ok")
    saved = incident(sessions, incident_id)
    assert saved.status == IncidentStatus.RESOLVED
    assert saved.closed_at == clock.current
    run(ctx, f"reopen {incident_id}")
    reopened = incident(sessions, incident_id)
    assert (reopened.status, reopened.closed_at) == (IncidentStatus.INVESTIGATING, None)


def test_reopen_only_a_resolved_incident(ctx: Context) -> None:
    incident_id = make_incident(ctx)
    with pytest.raises(Refused, match="not resolved"):
        run(ctx, f"reopen {incident_id}")


def test_notes_are_internal(ctx: Context, sessions: sessionmaker[Session]) -> None:
    incident_id = make_incident(ctx)
    reply = run(ctx, f"note {incident_id} riavviato il nodo 3")
    assert "Internal" in reply.text
    note = timeline(sessions, incident_id)[-1]
    assert (note.kind, note.public) == (UpdateKind.NOTE, False)


def test_edit_corrects_the_last_public_update_by_default(
    ctx: Context, sessions: sessionmaker[Session]
) -> None:
    incident_id = make_incident(ctx, message="Testo con refuso")
    run(ctx, f"update {incident_id} Secondo testo")
    run(ctx, f"note {incident_id} nota interna")
    run(ctx, f"edit {incident_id} Secondo testo, corretto")
    updates = timeline(sessions, incident_id)
    assert [u.text for u in updates] == [
        "Testo con refuso",
        "Secondo testo, corretto",
        "nota interna",
    ]
    assert updates[1].revision == 1
    run(ctx, f"edit {incident_id} --update 1 Testo senza refuso")
    assert timeline(sessions, incident_id)[0].text == "Testo senza refuso"
    with sessions() as session:
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "edit")).all()
    assert json.loads(audit[0].detail)["previous"] == "Secondo testo"


def test_edit_of_a_missing_update_number_is_refused(ctx: Context) -> None:
    incident_id = make_incident(ctx)
    with pytest.raises(Refused, match="has no update #9"):
        run(ctx, f"edit {incident_id} --update 9 testo")


def test_unknown_incident_is_refused_pointing_at_list(ctx: Context) -> None:
    with pytest.raises(Refused, match=r"There is no INC-404; type `list --all`"):
        run(ctx, "update INC-404 testo")


def test_viewers_may_read_but_not_change(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = make_incident(ctx)
    viewer = make_context(sessions, clock, actor=VIEWER)
    assert "INC-" in run(viewer, "list").text
    assert run(viewer, f"show {incident_id}").incident_id == incident_id
    run(viewer, "summary today")
    run(viewer, "help")
    for text in (
        f"update {incident_id} x",
        f"resolve {incident_id}",
        "components add dns DNS",
        "channels add telegram -100",
        "open Nuovo",
    ):
        with pytest.raises(NotAllowed, match="Only responders"):
            run(viewer, text)
    with sessions() as session:
        refused = session.exec(select(AuditEvent).where(AuditEvent.action == "refused")).all()
    assert [json.loads(e.detail)["command"] for e in refused] == [
        "PostUpdate",
        "ResolveIncident",
        "AddComponent",
        "AddChannel",
        "OpenIncident",
    ]
    assert {(e.actor, e.front_end) for e in refused} == {(VIEWER.name, VIEWER.front_end)}
    assert refused[0].incident_id == incident_id


def test_every_change_is_audited_with_who_and_where(
    ctx: Context, sessions: sessionmaker[Session]
) -> None:
    incident_id = make_incident(ctx)
    run(ctx, f"update {incident_id} x")
    run(ctx, f"resolve {incident_id}")
    with sessions() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.incident_id == incident_id)).all()
    assert [e.action for e in events] == ["opened", "update", "resolved"]
    assert {(e.actor, e.front_end) for e in events} == {("alice", "cli")}


def test_usage_errors_save_nothing(ctx: Context, sessions: sessionmaker[Session]) -> None:
    with pytest.raises(UsageError):
        run(ctx, "open Titolo --sev 7")
    with sessions() as session:
        assert session.exec(select(Incident)).all() == []


def test_an_opening_reads_back_nothing_it_just_wrote(
    ctx: Context, engine: sa.Engine, sessions: sessionmaker[Session]
) -> None:
    make_channel(ctx, "-1001234567890", options="--components posta")
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        reply = run(ctx, "open Posta lenta --sev 2 --components posta,web")
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    # The duplicate check, the components named, the channels and their filters: nothing
    # else is read. An opening once also read back its component links, its update
    # numbers, an earlier status and its deliveries, at twice the CPU.
    reads = [s.split(" FROM ")[1].split()[0] for s in statements if s.startswith("SELECT")]
    assert reads == ["incident", "component", "channel", "channel_component"]
    assert reply.text.endswith("Queued for 1 channel.")
    assert reply.incident_id is not None
    [opening] = timeline(sessions, reply.incident_id)
    assert opening.number == 1
    with sessions() as session:
        keys = list_component_keys_of(session=session, incident_ids=[reply.incident_id])
    assert keys == {reply.incident_id: ["posta", "web"]}


def test_at_before_the_opening_is_refused(ctx: Context, clock: FakeClock) -> None:
    incident_id = make_incident(ctx)
    with pytest.raises(
        Refused, match=r"--at is before INC-\d+ was opened \(2025-01-28 14:50 CET\)"
    ):
        run(ctx, f'resolve {incident_id} --at "27/01/2025 10:00"')
    with pytest.raises(Refused, match="give a later time"):
        run(ctx, f'update {incident_id} --at "28/01/2025 14:00" testo')


def test_reach_counts_channels_not_the_edits_of_their_first_message(ctx: Context) -> None:
    make_channel(ctx, "-1001234567890")
    make_channel(ctx, "C0123ABCD", platform="slack")
    make_channel(ctx, "https://example.com/hook", platform="webhook")
    incident_id = make_incident(ctx)
    # A new status also queues an edit of the first message on Telegram and Slack.
    reply = run(ctx, f"update {incident_id} --status identified Trovato il guasto")
    assert reply.text.endswith("Queued for 3 channels.")
    assert run(ctx, f"resolve {incident_id}").text.endswith("Queued for 3 channels.")
