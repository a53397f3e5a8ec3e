"""Every verb of the command language through `/incident`, answered in HTML, on the shared core."""

from __future__ import annotations

from storage.models import IncidentKind, IncidentStatus, UpdateKind
from tests.factories import ROME
from tests.telegram.helpers import (
    ALICE,
    CUSTOMERS,
    OPS,
    PUBLIC_URL,
    TelegramWorld,
    assert_well_formed,
    button_labels,
    tomorrow,
)


def test_a_responder_opens_an_incident_in_the_ops_group(world: TelegramWorld) -> None:
    reply = world.command(OPS, "/incident open Problemi consegna posta --sev 2")
    assert reply.plain.startswith("Opened INC-1 “Problemi consegna posta” (SEV2, investigating")
    assert reply.parse_mode == "HTML"
    assert button_labels(reply) == ["Update", "Resolve", "Show"]
    assert f'<a href="{PUBLIC_URL}/incidents/1">INC-1 on the status page</a>' in reply.text
    [incident] = world.incidents()
    assert (incident.title, incident.severity) == ("Problemi consegna posta", 2)
    assert incident.opened_by == f"telegram:{ALICE} (Alice)"


def test_an_incident_goes_through_its_life_from_the_ops_group(world: TelegramWorld) -> None:
    world.command(OPS, "/incident components add posta Posta")
    world.command(OPS, "/incident open Posta giù --sev 2 --components posta")

    updated = world.command(OPS, "/incident update 1 --status identified Trovato il guasto")
    assert updated.plain.startswith("Posted update #2 on INC-1 (status investigating → identified)")
    assert button_labels(updated) == ["Update", "Resolve", "Show"]

    noted = world.command(OPS, "/incident note INC-1 il server mx2 è il colpevole")
    assert noted.plain.startswith("Noted on INC-1 as #3. Internal: not sent to customers.")
    assert noted.inline_keyboard == []

    edited = world.command(OPS, "/incident edit 1 Trovato il guasto al server di posta")
    assert edited.plain.startswith("Corrected update #2 of INC-1.")

    shown = world.command(OPS, "/incident show 1")
    assert "<pre>" in shown.text
    assert "Trovato il guasto al server di posta" in shown.plain
    assert "il server mx2 è il colpevole" in shown.plain

    listed = world.command(OPS, "/incident list")
    assert "INC-1 " in listed.plain
    assert "Posta giù" in listed.plain

    resolved = world.command(OPS, "/incident resolve 1 Tutto a posto")
    assert resolved.plain.startswith("Resolved INC-1 “Posta giù”.")
    assert world.incidents()[0].status == IncidentStatus.RESOLVED

    reopened = world.command(OPS, "/incident reopen 1 Di nuovo lento")
    assert reopened.plain.startswith("Reopened INC-1 “Posta giù”.")

    [incident] = world.incidents()
    assert incident.status != IncidentStatus.RESOLVED
    timeline = world.timeline(1)
    assert [(u.kind, u.public) for u in timeline][2] == (UpdateKind.NOTE, False)
    assert timeline[1].text == "Trovato il guasto al server di posta"
    assert timeline[1].revision == 1
    assert {u.front_end for u in timeline} == {"telegram"}
    assert [u.text for u in timeline[-2:]] == ["Tutto a posto", "Di nuovo lento"]


def test_a_maintenance_is_scheduled_started_extended_and_completed(world: TelegramWorld) -> None:
    day = tomorrow()
    scheduled = world.command(
        OPS,
        f'/incident maintenance schedule Aggiornamento posta --start "{day} 10:00" '
        f'--end "{day} 12:00"',
    )
    assert scheduled.plain.startswith("Scheduled INC-1 “Aggiornamento posta” from ")
    started = world.command(OPS, "/incident maintenance start 1")
    assert started.plain.startswith("Started INC-1")
    extended = world.command(OPS, f'/incident maintenance extend 1 --end "{day} 13:00"')
    assert extended.plain.startswith(f"INC-1 now ends {day[6:]}-{day[3:5]}")
    completed = world.command(OPS, "/incident maintenance complete 1 Fatto")
    assert completed.plain.startswith("Completed INC-1 “Aggiornamento posta”.")
    [maintenance] = world.incidents()
    assert maintenance.kind == IncidentKind.MAINTENANCE
    assert maintenance.status == IncidentStatus.COMPLETED
    assert maintenance.window_end is not None
    assert maintenance.window_end.astimezone(ROME).hour == 13


def test_components_and_channels_are_added_and_listed(world: TelegramWorld) -> None:
    added = world.command(OPS, "/incident components add posta Posta elettronica")
    assert added.plain == "Added component posta “Posta elettronica”."
    listed = world.command(OPS, "/incident components list")
    assert "Posta elettronica" in listed.plain

    channel = world.command(OPS, f"/incident channels add telegram {CUSTOMERS} --lang en")
    assert channel.plain.startswith("Added channel #")
    channels = world.command(OPS, "/incident channels list")
    assert f"telegram  {CUSTOMERS} [en]" in channels.plain
    assert [(c.address, c.locale) for c in world.channels()] == [(str(CUSTOMERS), "en")]


def test_help_lists_every_form_and_one_verb_in_full(world: TelegramWorld) -> None:
    overview = world.command(OPS, "/incident help")
    assert "maintenance extend ID --end WHEN" in overview.plain
    assert "channels add telegram CHAT" in overview.plain
    one = world.command(OPS, "/incident help open")
    assert "open an incident and post its opening to customers" in one.plain
    bare = world.command(OPS, "/incident")
    assert "Herald commands" in bare.plain
    assert_well_formed([overview, one, bare])


def test_a_mistyped_command_says_what_is_wrong_and_changes_nothing(world: TelegramWorld) -> None:
    reply = world.command(OPS, "/incident opne Posta giù")
    assert "opne" in reply.plain
    reply = world.command(OPS, "/incident update 7 Ancora giù")
    assert "INC-7" in reply.plain
    assert world.incidents() == []


def test_the_command_addressed_to_herald_by_name_runs(world: TelegramWorld) -> None:
    reply = world.command(OPS, "/incident@herald_test_bot open Posta giù --sev 3")
    assert reply.plain.startswith("Opened INC-1 “Posta giù”")
    assert [i.severity for i in world.incidents()] == [3]


def test_a_command_addressed_to_another_bot_is_ignored(world: TelegramWorld) -> None:
    other = world.say(OPS, "/incident@other_bot open Posta giù")
    world.settle()
    assert world.fake.replies_to(OPS, other) == []
    assert world.incidents() == []


def test_summary_through_incident_and_as_its_own_command(world: TelegramWorld) -> None:
    world.command(OPS, "/incident open Posta giù --sev 1")
    world.command(OPS, "/incident resolve 1")
    through = world.command(OPS, "/incident summary")
    own = world.command(OPS, "/summary")
    month = world.command(OPS, "/summary month")
    for reply in (through, own, month):
        assert reply.plain.startswith("Summary: ")
        assert "Incidents opened: 1 (SEV1 1" in reply.plain
        assert "Resolved: 1" in reply.plain
        assert "Longest: INC-1 Posta giù" in reply.plain
    assert through.plain.splitlines()[0] == own.plain.splitlines()[0]
    assert own.plain.splitlines()[0] != month.plain.splitlines()[0]
    wrong = world.command(OPS, "/summary fortnight")
    assert "fortnight" in wrong.plain
    assert not wrong.plain.startswith("Summary")


def test_an_answer_waits_out_telegrams_429_instead_of_being_dropped(world: TelegramWorld) -> None:
    world.fake.fail_next(2, status=429, retry_after=1, method="sendMessage")
    reply = world.command(OPS, "/incident open Posta giù --sev 1")
    assert reply.plain.startswith("Opened INC-1")
    assert [c.status for c in world.fake.calls("sendMessage")][:3] == [429, 429, 200]
