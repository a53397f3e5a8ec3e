"""Tests for commands.parser: every verb and form, ids, options and one-line usage errors."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commands import verbs as v
from commands.errors import UsageError
from commands.grammar import FORMS, GROUPS, VERBS
from commands.parser import TEXT_LIMIT, TITLE_LIMIT, Clock, parse, parse_argv, parse_ref
from storage.models import IncidentStatus, Platform

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2025, 1, 28, 13, 50, tzinfo=UTC)  # 14:50 in Rome
CLOCK = Clock(ROME, NOW)

# Words that show a message tells the person what to type instead.
ADVICE = (
    "usage:",
    "use ",
    "use:",
    "type",
    "give",
    "leave it out",
    "keep it",
    "did you mean",
    "commands:",
    "options:",
    "takes",
    "like",
    "check",
    "see `",
    "example:",
    "close it",
)


def p(text: str) -> v.Command:
    """Parse chat text against the fixed clock."""
    return parse(text, clock=CLOCK)


def assert_good_message(error: UsageError) -> None:
    """One line, raw and as shown, that says what to do instead."""
    assert "\n" not in str(error), str(error)
    assert "\r" not in str(error)
    assert len(error.message.splitlines()) == 1
    assert error.message.strip() == error.message
    assert error.message
    lowered = error.message.lower()
    assert any(word in lowered for word in ADVICE), error.message


def refused(text: str) -> str:
    """The message of the UsageError that parsing text raises."""
    with pytest.raises(UsageError) as caught:
        p(text)
    assert_good_message(caught.value)
    return caught.value.message


def refused_argv(argv: list[str]) -> str:
    """The message of the UsageError that parsing argv raises."""
    with pytest.raises(UsageError) as caught:
        parse_argv(argv, clock=CLOCK)
    assert len(caught.value.message.splitlines()) == 1
    return caught.value.message


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A moment in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- one valid example of every form ---------------------------------------------

EVERY_FORM: dict[str, tuple[str, v.Command]] = {
    "open": (
        'open "Problemi consegna posta" --sev 2 --components posta',
        v.OpenIncident("Problemi consegna posta", severity=2, components=("posta",)),
    ),
    "update": (
        "update INC-1 --status identified Il nodo è stato escluso dal cluster",
        v.PostUpdate(1, "Il nodo è stato escluso dal cluster", status=IncidentStatus.IDENTIFIED),
    ),
    "resolve": (
        "resolve INC-1 Tutti i sistemi sono tornati pienamente operativi",
        v.ResolveIncident(1, "Tutti i sistemi sono tornati pienamente operativi"),
    ),
    "reopen": (
        "reopen #7 Il problema si è ripresentato",
        v.ReopenIncident(7, "Il problema si è ripresentato"),
    ),
    "note": ("note 42 Chiamato il fornitore", v.AddNote(42, "Chiamato il fornitore")),
    "edit": ("edit INC-42 --update 3 Testo corretto", v.EditUpdate(42, "Testo corretto", 3)),
    "show": ("show INC-42", v.ShowIncident(42)),
    "list": ("list --all", v.ListIncidents(include_closed=True)),
    "summary": ("summary month", v.Summarize("month")),
    "maintenance schedule": (
        'maintenance schedule Aggiornamento server di posta --start "22/05/2021 10:00" '
        '--end "22/05/2021 12:00" --components posta',
        v.ScheduleMaintenance(
            "Aggiornamento server di posta",
            start=utc(2021, 5, 22, 8, 0),
            end=utc(2021, 5, 22, 10, 0),
            components=("posta",),
        ),
    ),
    "maintenance start": ("maintenance start INC-5", v.StepMaintenance("start", 5)),
    "maintenance complete": (
        "maintenance complete 5 Lavori terminati",
        v.StepMaintenance("complete", 5, "Lavori terminati"),
    ),
    "maintenance cancel": (
        "maintenance cancel #5 Rinviata",
        v.StepMaintenance("cancel", 5, "Rinviata"),
    ),
    "maintenance extend": (
        'maintenance extend 5 --end "22/05/2021 14:00" Serve più tempo',
        v.ExtendMaintenance(5, utc(2021, 5, 22, 12, 0), "Serve più tempo"),
    ),
    "components list": ("components list", v.ListComponents()),
    "components add": (
        "components add posta Posta elettronica",
        v.AddComponent("posta", "Posta elettronica"),
    ),
    "components rename": ("components rename posta Mail", v.RenameComponent("posta", "Mail")),
    "components remove": ("components remove posta", v.RemoveComponent("posta")),
    "channels list": ("channels list", v.ListChannels()),
    "channels add": (
        "channels add telegram -1001234567890 --lang it --components posta --min-sev 2",
        v.AddChannel(Platform.TELEGRAM, "-1001234567890", "it", ("posta",), 2),
    ),
    "channels remove": ("channels remove C0123456789", v.ChangeChannel("remove", "C0123456789")),
    "channels disable": (
        "channels disable @statusfeed Il cliente ha chiesto una pausa",
        v.ChangeChannel("disable", "@statusfeed", "Il cliente ha chiesto una pausa"),
    ),
    "channels enable": ("channels enable 3", v.ChangeChannel("enable", "3")),
    "channels test": ("channels test #3", v.ChangeChannel("test", "#3")),
    "help": ("help maintenance", v.Help("maintenance")),
}


def test_every_form_of_the_grammar_has_an_example_here() -> None:
    assert set(EVERY_FORM) == set(FORMS)


@pytest.mark.parametrize("name", sorted(EVERY_FORM))
def test_every_form_parses_from_chat(name: str) -> None:
    text, expected = EVERY_FORM[name]
    assert p(text) == expected


@pytest.mark.parametrize("name", sorted(EVERY_FORM))
def test_every_form_parses_the_same_from_argv(name: str) -> None:
    text, expected = EVERY_FORM[name]
    assert parse_argv(shlex.split(text), clock=CLOCK) == expected


@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_usage_line_starts_with_its_form(name: str) -> None:
    assert FORMS[name].usage.startswith(name + " ") or FORMS[name].usage == name


def test_every_verb_has_forms_and_every_form_a_verb() -> None:
    assert {name.split()[0] for name in FORMS} == set(VERBS)
    for group, subs in GROUPS.items():
        assert {f"{group} {sub}" for sub in subs} == {n for n in FORMS if n.startswith(group + " ")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("OPEN Mail down", v.OpenIncident("Mail down")),
        ("/open Mail down", v.OpenIncident("Mail down")),
        ("Maintenance START 5", v.StepMaintenance("start", 5)),
        ("  \n open Mail down", v.OpenIncident("Mail down")),
    ],
)
def test_verbs_ignore_case_a_leading_slash_and_leading_whitespace(
    text: str, expected: v.Command
) -> None:
    assert p(text) == expected


# --- incident ids ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "number"),
    [
        ("INC-42", 42),
        ("inc-42", 42),
        ("Inc-42", 42),
        ("INC42", 42),
        ("#42", 42),
        ("42", 42),
        (" 42 ", 42),
        ("INC-007", 7),
        ("999999999", 999999999),
    ],
)
def test_parse_ref(word: str, number: int) -> None:
    assert parse_ref(word) == number


@pytest.mark.parametrize(
    "word", ["", "INC-", "#", "INC-x", "42a", "-42", "INC--42", "#INC-42", "1234567890", "4 2"]
)
def test_parse_ref_refuses_other_words(word: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_ref(word)
    assert_good_message(caught.value)
    assert "INC-42, #42 or 42" in caught.value.message


@pytest.mark.parametrize("ref", ["INC-42", "#42", "42", "inc42"])
@pytest.mark.parametrize("verb", ["show", "resolve", "reopen", "maintenance start"])
def test_every_id_form_is_read_by_every_verb(verb: str, ref: str) -> None:
    command = p(f"{verb} {ref}")
    assert isinstance(
        command, v.ShowIncident | v.ResolveIncident | v.ReopenIncident | v.StepMaintenance
    )
    assert command.incident_id == 42


@pytest.mark.parametrize(
    "text",
    [
        "update",
        "update --status identified",
        "resolve",
        "reopen",
        "note",
        "edit",
        "show",
        "maintenance start",
        "maintenance complete",
        "maintenance cancel",
        'maintenance extend --end "22/05/2021 14:00"',
    ],
)
def test_a_missing_id_is_refused_with_usage(text: str) -> None:
    message = refused(text)
    assert "needs ID" in message
    assert "Usage:" in message


@pytest.mark.parametrize("text", ["update INC-x text", "resolve Mail", "show INC-", "note ## x"])
def test_a_bad_id_is_refused(text: str) -> None:
    assert "not an incident id" in refused(text)


# --- open ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "open Mail delivery delayed --sev 2",
        "open --sev 2 Mail delivery delayed",
        "open Mail --sev 2 delivery delayed",
        "open Mail delivery delayed —sev 2",
        "open Mail delivery delayed –sev 2",
        "open Mail delivery delayed --sev=2",
        "open Mail delivery delayed —sev=2",
        "open Mail delivery delayed --SEV 2",
        'open "Mail delivery delayed" --sev 2',
        "open “Mail delivery delayed” —sev 2",
        "open ‘Mail delivery delayed’ --sev 2",
        "open «Mail delivery delayed» --sev 2",
        "open „Mail delivery delayed“ --sev 2",
        "open Mail\tdelivery   delayed --sev 2",
    ],
)
def test_open_title_and_severity_in_any_order_and_spelling(text: str) -> None:
    assert p(text) == v.OpenIncident("Mail delivery delayed", severity=2)


@pytest.mark.parametrize(
    ("value", "severity"),
    [("1", 1), ("2", 2), ("3", 3), ("4", 4), ("SEV2", 2), ("sev1", 1), ("Sev4", 4), (" 3 ", 3)],
)
def test_open_severity(value: str, severity: int) -> None:
    command = parse_argv(["open", "Mail", "--sev", value], clock=CLOCK)
    assert command == v.OpenIncident("Mail", severity=severity)


@pytest.mark.parametrize(
    "value", ["0", "5", "SEV5", "SEV0", "two", "2.0", "02", "-1", "sev-2", "S2"]
)
def test_open_refuses_other_severities(value: str) -> None:
    message = refused(f"open Mail --sev {value}")
    assert "1 to 4" in message
    assert repr(value) in message


def test_open_without_severity_leaves_it_unset() -> None:
    command = p("open Mail down")
    assert isinstance(command, v.OpenIncident)
    assert command.severity is None
    assert command.components is None
    assert command.status is None
    assert command.message == ""
    assert command.at is None


@pytest.mark.parametrize(
    ("value", "components"),
    [
        ("posta", ("posta",)),
        ("posta,web", ("posta", "web")),
        ("Posta,WEB", ("posta", "web")),
        ("posta,,web,", ("posta", "web")),
        ('"posta, web dns"', ("posta", "web", "dns")),
    ],
)
def test_open_components(value: str, components: tuple[str, ...]) -> None:
    assert p(f"open Mail --components {value}") == v.OpenIncident("Mail", components=components)


@pytest.mark.parametrize("value", [",", '" , "', '""'])
def test_open_refuses_empty_components(value: str) -> None:
    assert "--components posta,web" in refused(f"open Mail --components {value}")


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("investigating", IncidentStatus.INVESTIGATING),
        ("identified", IncidentStatus.IDENTIFIED),
        ("monitoring", IncidentStatus.MONITORING),
        ("Identified", IncidentStatus.IDENTIFIED),
        ("MONITORING", IncidentStatus.MONITORING),
    ],
)
def test_open_status(value: str, status: IncidentStatus) -> None:
    assert p(f"open Mail --status {value}") == v.OpenIncident("Mail", status=status)


@pytest.mark.parametrize("verb", ["open Mail", "update 42 text"])
@pytest.mark.parametrize("value", ["fixed", "scheduled", "in_progress", "completed", "cancelled"])
def test_bad_status_lists_the_statuses(verb: str, value: str) -> None:
    message = refused(f"{verb} --status {value}")
    assert f"{value!r} is not a status" in message
    assert "investigating, identified, monitoring" in message


@pytest.mark.parametrize("verb", ["open Mail", "update 42 text"])
def test_misspelt_status_suggests_the_right_one(verb: str) -> None:
    assert "Did you mean 'identified'?" in refused(f"{verb} --status identifed")


@pytest.mark.parametrize("verb", ["open Mail", "update 42 text"])
@pytest.mark.parametrize("value", ["resolved", "Resolved", "RESOLVED"])
def test_status_resolved_points_to_resolve(verb: str, value: str) -> None:
    message = refused(f"{verb} --status {value}")
    assert "resolve ID" in message


def test_open_message_option() -> None:
    command = p('open Mail down --message "Stiamo verificando il problema"')
    assert command == v.OpenIncident("Mail down", message="Stiamo verificando il problema")


def test_open_message_keeps_line_breaks() -> None:
    command = p('open Mail --message "Riga uno\nRiga due"')
    assert isinstance(command, v.OpenIncident)
    assert command.message == "Riga uno\nRiga due"


def test_option_value_that_looks_like_an_option_when_quoted() -> None:
    assert p('open Mail --message "--sev 2"') == v.OpenIncident("Mail", message="--sev 2")


@pytest.mark.parametrize("text", ["open", "open --sev 2", 'open ""', "open “”", "open \x07 \x1b"])
def test_open_without_a_title_is_refused(text: str) -> None:
    message = refused(text)
    assert "open needs a title" in message
    assert "Usage: open TITLE" in message


def test_title_of_exactly_the_limit_is_accepted() -> None:
    title = "x" * TITLE_LIMIT
    assert p(f"open {title}") == v.OpenIncident(title)


def test_title_over_the_limit_is_refused() -> None:
    assert TITLE_LIMIT == 200
    message = refused("open " + "x" * (TITLE_LIMIT + 1))
    assert "201 characters" in message
    assert "200 or fewer" in message


def test_title_limit_counts_the_cleaned_title() -> None:
    # 200 visible characters plus control characters that are stripped.
    title = "x" * 100 + "\x07" * 50 + "x" * 100
    assert p(f"open {title}") == v.OpenIncident("x" * 200)


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ('open "Mail\ndown"', "Mail down"),
        ('open "Mail\r\ndown"', "Mail down"),
        ("open Mail\x07 down\x1b", "Mail down"),
        ("open Ma\x07il\x7f down", "Mail down"),
        ("open Mail\x1fdown", "Mail down"),
        ('open "  Mail   down  "', "Mail down"),
        ("open Ritardo dell'invio posta", "Ritardo dell'invio posta"),
        ("open L’attività è sospesa", "L’attività è sospesa"),
        ("open “L’attività dell'invio”", "L’attività dell'invio"),
    ],
)
def test_title_is_one_clean_line(text: str, title: str) -> None:
    assert p(text) == v.OpenIncident(title)


@pytest.mark.parametrize(
    "text",
    [
        "open Mail\x00down",
        'open Mail --message "a\x00b"',
        "update 42 testo\x00",
        "note 42 \x00",
        "resolve 42 fine\x00",
        "edit 42 testo\x00",
        "maintenance start 5 via\x00",
        "components add posta Po\x00sta",
        "channels disable 3 motivo\x00",
        "channels add webhook https://example.com/hook --secret s\x00",
    ],
)
def test_nul_is_refused(text: str) -> None:
    assert "NUL" in refused(text)


# --- --at -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("14:00", utc(2025, 1, 28, 13, 0)),
        ('"28/01/2025 ore 14:50"', NOW),
        ('"28/01/2025 10:00"', utc(2025, 1, 28, 9, 0)),
        ("2025-01-28T13:50Z", NOW),
        ("now", NOW),
    ],
)
def test_at_backfills(value: str, moment: datetime) -> None:
    assert p(f"open Mail --at {value}") == v.OpenIncident("Mail", at=moment)


@pytest.mark.parametrize("value", ["14:51", '"29/01/2025 10:00"', "2025-01-28T13:51Z"])
@pytest.mark.parametrize(
    "verb",
    [
        "open Mail",
        "update 42 testo",
        "resolve 42",
        "reopen 42",
        "note 42 testo",
        "maintenance start 5",
        "maintenance complete 5",
        "maintenance cancel 5",
    ],
)
def test_at_in_the_future_is_refused(verb: str, value: str) -> None:
    assert "cannot be in the future" in refused(f"{verb} --at {value}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("resolve 42 --at 14:00", v.ResolveIncident(42, at=utc(2025, 1, 28, 13, 0))),
        ("reopen 42 --at 14:00", v.ReopenIncident(42, at=utc(2025, 1, 28, 13, 0))),
        ("note 42 x --at 14:00", v.AddNote(42, "x", at=utc(2025, 1, 28, 13, 0))),
        (
            "maintenance cancel 5 --at 14:00",
            v.StepMaintenance("cancel", 5, at=utc(2025, 1, 28, 13, 0)),
        ),
    ],
)
def test_at_on_other_verbs(text: str, expected: v.Command) -> None:
    assert p(text) == expected


def test_at_with_a_nonexistent_local_time_is_refused_and_its_hint_accepted() -> None:
    message = refused('open Mail --at "31/03/2024 02:30"')
    assert "does not exist" in message
    suggestion = message.removesuffix(".").rsplit(" ", 1)[-1]
    assert suggestion == "2024-03-31T02:30+01:00"
    assert p(f"open Mail --at {suggestion}") == v.OpenIncident("Mail", at=utc(2024, 3, 31, 1, 30))


def test_schedule_at_a_repeated_autumn_time_is_refused_and_its_offsets_accepted() -> None:
    text = 'maintenance schedule X --start "{}" --end "26/10/2025 04:00"'
    assert "happens twice" in refused(text.format("26/10/2025 02:30"))
    command = p(text.format("2025-10-26T02:30+01:00"))
    assert isinstance(command, v.ScheduleMaintenance)
    assert command.start == utc(2025, 10, 26, 1, 30)


# --- options in general ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "open Mail --sev 2 --sev 3",
        "open Mail --sev 2 —sev 3",
        "open Mail --sev=2 --SEV 3",
        "list --all --all",
        "update 42 x --status identified --status monitoring",
    ],
)
def test_duplicate_option_is_refused(text: str) -> None:
    message = refused(text)
    assert "is given twice" in message
    assert "Usage:" in message


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("open Mail --sevv 2", "--sev"),
        ("open Mail --se 2", "--sev"),
        ("open Mail --componets posta", "--components"),
        ("open Mail --stauts identified", "--status"),
        ("update 42 x --sttus identified", "--status"),
        ("list --al", "--all"),
        ("channels add slack C0123456789 --min-sv 2", "--min-sev"),
        ("maintenance extend 5 --ned 10:00", "--end"),
    ],
)
def test_unknown_option_suggests_the_closest(text: str, hint: str) -> None:
    message = refused(text)
    assert "Unknown option" in message
    assert f"Did you mean {hint}?" in message
    assert "Options: --" in message


def test_unknown_option_lists_the_options_of_the_form() -> None:
    message = refused("open Mail --xyz 2")
    assert "Did you mean" not in message
    assert "Options: --sev, --components, --status, --message, --at." in message


@pytest.mark.parametrize("text", ["show 42 --all", "components list --all", "channels --all"])
def test_option_on_a_form_without_options(text: str) -> None:
    assert "takes no options" in refused(text)


@pytest.mark.parametrize(
    "text",
    [
        "open Mail --sev",
        "open Mail --sev --components posta",
        "list --since",
        # A bare -- ends the options, so it is never an option's value.
        "open T2 --message --",
        "open --message -- --sev 2 Title",
        "open Mail --message=--",
        "open Mail --sev -- 2",
        "maintenance extend 5 --end -- 18:00",
    ],
)
def test_option_without_its_value_is_refused(text: str) -> None:
    message = refused(text)
    assert "needs a value" in message
    assert refused_argv(text.split()) == message


def test_double_dash_ends_the_words_of_message() -> None:
    command = p("open Mail --message Stiamo verificando -- --sev 2")
    assert command == v.OpenIncident("Mail --sev 2", message="Stiamo verificando")


def test_quoted_double_dash_is_a_value_like_any_word() -> None:
    assert p('open Mail --message "--"') == v.OpenIncident("Mail", message="--")


def test_flag_with_a_value_is_refused() -> None:
    assert "--all takes no value" in refused("list --all=yes")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("open -- --sev is wrong", v.OpenIncident("--sev is wrong")),
        ("open Mail --sev 2 -- —status", v.OpenIncident("Mail —status", severity=2)),
        ("open -- a -- b", v.OpenIncident("a -- b")),
        # Quotes among other words are part of the text customers read.
        ('open "--sev" broken', v.OpenIncident('"--sev" broken')),
        ("open “—sev” broken", v.OpenIncident("“—sev” broken")),
        ('open "--sev"', v.OpenIncident("--sev")),
        (
            "update 42 -- --status means nothing here",
            v.PostUpdate(42, "--status means nothing here"),
        ),
    ],
)
def test_double_dash_and_quotes_end_options(text: str, expected: v.Command) -> None:
    assert p(text) == expected


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("open Posta — consegna lenta", "Posta — consegna lenta"),
        ("open Posta – consegna lenta", "Posta – consegna lenta"),
        ("open Posta —2 giorni", "Posta —2 giorni"),
        ("open Posta -lenta", "Posta -lenta"),
    ],
)
def test_dashes_that_are_not_options_stay_in_the_title(text: str, title: str) -> None:
    assert p(text) == v.OpenIncident(title)


def test_em_dash_followed_by_a_word_is_read_as_an_option() -> None:
    assert "Unknown option --lenta" in refused("open Posta —lenta")


def test_empty_option_value_after_equals() -> None:
    assert "1 to 4" in refused("open Mail --sev=")


# --- update and free text --------------------------------------------------------------


def test_update_with_every_option() -> None:
    command = p("update INC-42 --status monitoring --sev SEV1 --components dns,web Fix applicato")
    assert command == v.PostUpdate(
        42,
        "Fix applicato",
        status=IncidentStatus.MONITORING,
        severity=1,
        components=("dns", "web"),
    )


@pytest.mark.parametrize(
    ("text", "body"),
    [
        ("update 42 Prima riga\nSeconda riga", "Prima riga\nSeconda riga"),
        ("update 42 Prima\n\nSeconda", "Prima\n\nSeconda"),
        ("update 42 Prima\n\n\n\nSeconda", "Prima\n\nSeconda"),
        ("update 42 Prima\r\nSeconda", "Prima\nSeconda"),
        ("update 42 Prima \n Seconda", "Prima\nSeconda"),
        ('update 42 "Prima\nSeconda"', "Prima\nSeconda"),
        ("update 42\nPrima riga\nSeconda", "Prima riga\nSeconda"),
        ("update 42 Prima\n--status identified\nSeconda", "Prima\nSeconda"),
        ("update 42 a\x07b\nc", "ab\nc"),
        ("update 42 a\tb", "a b"),
        (
            "update 42 Ritardo dell'invio. L’attività riprende",
            "Ritardo dell'invio. L’attività riprende",
        ),
    ],
)
def test_update_text_keeps_line_breaks(text: str, body: str) -> None:
    command = p(text)
    assert isinstance(command, v.PostUpdate)
    assert command.text == body


def test_multi_line_text_through_argv() -> None:
    command = parse_argv(["note", "42", "riga uno\nriga due"], clock=CLOCK)
    assert command == v.AddNote(42, "riga uno\nriga due")


@pytest.mark.parametrize("text", ["update 42", "update 42 --status identified", 'update 42 ""'])
def test_update_without_text_is_refused(text: str) -> None:
    assert "update needs the text customers will read" in refused(text)


def test_note_without_text_is_refused() -> None:
    assert "note needs the note" in refused("note 42")


def test_text_of_exactly_the_limit_is_accepted() -> None:
    assert TEXT_LIMIT == 4000
    command = p("note 42 " + "x" * TEXT_LIMIT)
    assert isinstance(command, v.AddNote)
    assert len(command.text) == TEXT_LIMIT


@pytest.mark.parametrize("verb", ["update 42", "note 42", "resolve 42", "edit 42"])
def test_text_over_the_limit_is_refused(verb: str) -> None:
    message = refused(f"{verb} " + "x" * (TEXT_LIMIT + 1))
    assert "4001 characters" in message
    assert "4000 or fewer" in message


def test_message_option_over_the_limit_is_refused() -> None:
    message = refused(f"open Mail --message {'x' * (TEXT_LIMIT + 1)}")
    assert "--message text" in message
    assert "4000 or fewer" in message


def test_text_limit_counts_words_and_their_spaces() -> None:
    words = " ".join(["abcd"] * 800)  # 800 * 5 - 1 = 3999 characters
    assert len(words) == 3999
    assert isinstance(p(f"note 42 {words}"), v.AddNote)
    assert "4004 characters" in refused(f"note 42 {words} abcd")


# --- resolve, reopen, note, edit, show -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("resolve 42", v.ResolveIncident(42)),
        ("resolve INC-42 Risolto", v.ResolveIncident(42, "Risolto")),
        ("reopen 42", v.ReopenIncident(42)),
        ("reopen #42 Di nuovo giù", v.ReopenIncident(42, "Di nuovo giù")),
        ("note 42 Solo per noi", v.AddNote(42, "Solo per noi")),
    ],
)
def test_resolve_reopen_note(text: str, expected: v.Command) -> None:
    assert p(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("edit 42 Testo corretto", v.EditUpdate(42, "Testo corretto")),
        ("edit 42 --update 3 Testo", v.EditUpdate(42, "Testo", 3)),
        ("edit 42 --update #3 Testo", v.EditUpdate(42, "Testo", 3)),
        ("edit 42 --update=3 Testo", v.EditUpdate(42, "Testo", 3)),
        ("edit 42 Testo\nsu due righe", v.EditUpdate(42, "Testo\nsu due righe")),
    ],
)
def test_edit(text: str, expected: v.Command) -> None:
    assert p(text) == expected


@pytest.mark.parametrize("value", ["abc", "3a", "-1", "#", "3.0"])
def test_edit_refuses_a_bad_update_number(value: str) -> None:
    assert "--update takes the update's number" in refused(f"edit 42 --update {value} Testo")


def test_edit_without_text_is_refused() -> None:
    assert "edit needs the corrected text" in refused("edit 42 --update 3")


def test_show_takes_one_id() -> None:
    assert "show takes one id" in refused("show 42 43")


# --- list and summary ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("list", v.ListIncidents()),
        ("list --all", v.ListIncidents(include_closed=True)),
        ("list --since 7d", v.ListIncidents(True, NOW - timedelta(days=7))),
        ("list --since 24h", v.ListIncidents(True, NOW - timedelta(hours=24))),
        ("list --since 2w", v.ListIncidents(True, NOW - timedelta(weeks=2))),
        ("list --since 2025-01-21", v.ListIncidents(True, utc(2025, 1, 20, 23, 0))),
        ('list --since "21/01/2025 10:00"', v.ListIncidents(True, utc(2025, 1, 21, 9, 0))),
        ("list --all --since 7d", v.ListIncidents(True, NOW - timedelta(days=7))),
    ],
)
def test_list(text: str, expected: v.Command) -> None:
    assert p(text) == expected


def test_list_refuses_a_bad_since() -> None:
    assert "neither a duration nor a date" in refused("list --since yesterday")


def test_list_refuses_words() -> None:
    assert "list takes nothing more than its options" in refused("list open ones")


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("summary", "week"),
        ("summary today", "today"),
        ("summary week", "week"),
        ("summary Month", "month"),
        ("summary 2025-01", "2025-01"),
        ("summary oggi", "oggi"),
    ],
)
def test_summary(text: str, period: str) -> None:
    assert p(text) == v.Summarize(period)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("summary 2025-13", "no month 13"),
        ("summary yesterday", "not a period"),
        ("summary week month", "summary takes one period"),
    ],
)
def test_summary_refuses(text: str, fragment: str) -> None:
    assert fragment in refused(text)


# --- maintenance -----------------------------------------------------------------------

SCHEDULE = 'maintenance schedule Aggiornamento --start "22/05/2021 10:00" --end "22/05/2021 12:00"'


def test_schedule_with_every_option() -> None:
    command = p(
        'maintenance schedule Aggiornamento server --start "22/05/2021 10:00" '
        '--end "22/05/2021 ore 12:30" --components posta,web --message "Breve disservizio" '
        "--manual --at 14:00"
    )
    assert command == v.ScheduleMaintenance(
        "Aggiornamento server",
        start=utc(2021, 5, 22, 8, 0),
        end=utc(2021, 5, 22, 10, 30),
        components=("posta", "web"),
        message="Breve disservizio",
        manual=True,
        at=utc(2025, 1, 28, 13, 0),
    )


def test_schedule_with_typographic_quotes_and_dashes() -> None:
    command = p(
        "maintenance schedule Aggiornamento —start “22/05/2021 10:00” —end “22/05/2021 12:00”"
    )
    assert command == v.ScheduleMaintenance(
        "Aggiornamento", start=utc(2021, 5, 22, 8, 0), end=utc(2021, 5, 22, 10, 0)
    )


def test_schedule_with_iso_times() -> None:
    command = p(
        "maintenance schedule Aggiornamento --start 2025-02-01T22:00+01:00 --end 2025-02-02T02:00Z"
    )
    assert command == v.ScheduleMaintenance(
        "Aggiornamento", start=utc(2025, 2, 1, 21, 0), end=utc(2025, 2, 2, 2, 0)
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("22/05/2021 12:00", "22/05/2021 10:00"),
        ("22/05/2021 10:00", "22/05/2021 10:00"),
        ("2021-05-22T10:00+02:00", "22/05/2021 10:00"),  # the same moment, written twice
    ],
)
def test_maintenance_must_end_after_it_starts(start: str, end: str) -> None:
    message = refused(f'maintenance schedule X --start "{start}" --end "{end}"')
    assert "must end after it starts" in message


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ('maintenance schedule X --end "22/05/2021 12:00"', "--start"),
        ('maintenance schedule X --start "22/05/2021 12:00"', "--end"),
        ("maintenance schedule X", "--start"),
        ("maintenance extend 5 Più tempo", "--end"),
    ],
)
def test_maintenance_required_options(text: str, option: str) -> None:
    message = refused(text)
    assert f"needs {option} WHEN" in message
    assert "Usage: maintenance" in message


def test_schedule_without_a_title_is_refused() -> None:
    assert "maintenance schedule needs a title" in refused(SCHEDULE.replace(" Aggiornamento", ""))


@pytest.mark.parametrize("start", ['"30/03/2025 02:30"', "domani", '"31/02/2025 10:00"', "25:00"])
def test_schedule_refuses_a_bad_start(start: str) -> None:
    refused(f'maintenance schedule X --start {start} --end "31/03/2025 10:00"')


def test_schedule_refuses_a_future_at() -> None:
    assert "cannot be in the future" in refused(SCHEDULE + " --at 15:00")


def test_manual_flag_takes_no_value() -> None:
    assert "--manual takes no value" in refused(SCHEDULE + " --manual=yes")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("maintenance", "maintenance needs one of: schedule, start, complete, cancel, extend"),
        ("maintenance --start 10:00", "maintenance needs one of"),
        ("maintenance foo 5", "Unknown maintenance command 'foo'"),
        ("maintenance strat 5", "Did you mean 'start'?"),
        ("maintenance schedlue X", "Did you mean 'schedule'?"),
        ("components foo", "Use one of: list, add, rename, remove"),
        ("channels ad telegram 1", "Did you mean 'add'?"),
    ],
)
def test_group_sub_verbs(text: str, fragment: str) -> None:
    assert fragment in refused(text)


# --- components ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("components", v.ListComponents()),
        ("components list", v.ListComponents()),
        ("components add POSTA Posta elettronica", v.AddComponent("posta", "Posta elettronica")),
        ("components add web-1_a Sito web", v.AddComponent("web-1_a", "Sito web")),
        ('components add dns "DNS  autoritativi"', v.AddComponent("dns", "DNS autoritativi")),
        ("components rename dns Risoluzione\nnomi", v.RenameComponent("dns", "Risoluzione nomi")),
    ],
)
def test_components(text: str, expected: v.Command) -> None:
    assert p(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("components add", "components add needs KEY"),
        ("components add posta", "components add needs a NAME"),
        ("components rename posta", "components rename needs a NAME"),
        ("components add po.sta Posta", "is not a component key"),
        ("components add -posta Posta", "is not a component key"),
        ("components add àèì Posta", "is not a component key"),
        ("components add " + "a" * 41 + " Posta", "is not a component key"),
        ("components remove", "components remove needs KEY"),
        ("components remove posta web", "components remove takes one KEY"),
        ("components list extra", "takes nothing more"),
        ("components add posta " + "x" * 81, "80 or fewer"),
    ],
)
def test_components_refuse(text: str, fragment: str) -> None:
    assert fragment in refused(text)


# --- channels --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "address"),
    [
        ("telegram", "-1001234567890"),
        ("telegram", "123456789"),
        ("telegram", "@channelname"),
        ("telegram", "@Status_Feed1"),
        ("slack", "C0123456789"),
        ("slack", "G0ABCDEF1"),
        ("slack", "#incidents"),
        ("slack", "#status-clienti_1"),
        ("webhook", "https://example.com/hook"),
        ("webhook", "http://hooks.example.com:8080/a/b?x=1&y=2"),
        ("webhook", "HTTPS://example.com"),
        ("Telegram", "-1001234567890"),
    ],
)
def test_channels_add_addresses(platform: str, address: str) -> None:
    expected = v.AddChannel(Platform(platform.lower()), address)
    assert p(f"channels add {platform} {address}") == expected
    assert parse_argv(["channels", "add", platform, address], clock=CLOCK) == expected


def test_telegram_chat_id_is_a_plain_argument_not_an_option() -> None:
    command = p("channels add telegram -1001234567890 --min-sev SEV2 --lang EN")
    assert command == v.AddChannel(Platform.TELEGRAM, "-1001234567890", locale="en", min_severity=2)


@pytest.mark.parametrize("secret", ['""', "“ ”", "\u200b"])
def test_channels_add_webhook_with_an_empty_secret_is_refused(secret: str) -> None:
    # An empty secret would sign every event with an empty HMAC key.
    text = f"channels add webhook https://example.com/hook --secret {secret}"
    assert "--secret is empty" in refused(text)
    argv = ["channels", "add", "webhook", "https://example.com/hook", "--secret", ""]
    assert "--secret is empty" in refused_argv(argv)


def test_channels_add_webhook_with_secret_and_components() -> None:
    command = p(
        "channels add webhook https://example.com/hook --secret s3cr3t --components posta,web"
    )
    assert command == v.AddChannel(
        Platform.WEBHOOK, "https://example.com/hook", components=("posta", "web"), secret="s3cr3t"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("channels add telegram @ab", "is not a Telegram chat"),
        ("channels add telegram channelname", "is not a Telegram chat"),
        ("channels add telegram -100abc", "is not a Telegram chat"),
        ("channels add slack general", "is not a Slack channel"),
        ("channels add slack c0123456789", "is not a Slack channel"),
        ("channels add slack #Incidents", "is not a Slack channel"),
        ("channels add webhook ftp://example.com/hook", "is not a URL"),
        ("channels add webhook example.com/hook", "is not a URL"),
        ("channels add webhook https://", "is not a URL"),
        ("channels add telegarm -1001234567890", "Did you mean 'telegram'?"),
        ("channels add fax 0612345678", "Use one of: telegram, slack, webhook, email"),
        ("channels add telegram", "needs a platform and an address"),
        ("channels add", "needs a platform and an address"),
        ("channels add telegram 1 2", "needs a platform and an address"),
        ("channels add telegram -1001234567890 --lang de", "--lang takes it or en"),
        ("channels add telegram -1001234567890 --min-sev 5", "--min-sev takes 1 to 4"),
        ("channels add telegram -1001234567890 --secret x", "only for webhook"),
        ("channels add slack C0123456789 --secret x", "only for webhook"),
        ("channels remove", "needs a channel id or address"),
        ("channels enable", "needs a channel id or address"),
        ("channels disable", "needs a channel id or address"),
        ("channels remove 1 2", "channels remove takes one channel"),
        ("channels enable 1 2", "channels enable takes one channel"),
        ("channels list extra", "takes nothing more"),
    ],
)
def test_channels_refuse(text: str, fragment: str) -> None:
    assert fragment in refused(text)


def test_channels_alone_lists_them() -> None:
    assert p("channels") == v.ListChannels()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "channels remove https://example.com/hook",
            v.ChangeChannel("remove", "https://example.com/hook"),
        ),
        ("channels enable -1001234567890", v.ChangeChannel("enable", "-1001234567890")),
        ("channels disable #incidents", v.ChangeChannel("disable", "#incidents")),
        (
            "channels disable 3 Il cliente\nha chiesto una pausa",
            v.ChangeChannel("disable", "3", "Il cliente ha chiesto una pausa"),
        ),
    ],
)
def test_channel_changes(text: str, expected: v.Command) -> None:
    assert p(text) == expected


# --- help, unknown verbs, empty input ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("help", v.Help()),
        ("help open", v.Help("open")),
        ("help OPEN", v.Help("open")),
        ("help maintenance schedule", v.Help("maintenance schedule")),
        ("help maintenance schedule now", v.Help("maintenance schedule")),
        ("help frobnicate", v.Help("frobnicate")),
    ],
)
def test_help(text: str, expected: v.Command) -> None:
    assert p(text) == expected


@pytest.mark.parametrize(
    ("verb", "suggestion"),
    [("opne", "open"), ("updte", "update"), ("reslove", "resolve"), ("maintenace", "maintenance")],
)
def test_unknown_verb_suggests_and_lists_the_verbs(verb: str, suggestion: str) -> None:
    message = refused(f"{verb} 42 x")
    assert f"Unknown command {verb!r}" in message
    assert f"Did you mean {suggestion!r}?" in message
    assert "Commands: " + ", ".join(VERBS) + "." in message


def test_unknown_verb_without_a_close_match_still_lists_the_verbs() -> None:
    message = refused("frobnicate 42")
    assert "Did you mean" not in message
    assert "Commands: open, update" in message


@pytest.mark.parametrize("text", ["", "   ", "\n\n", '""'])
def test_empty_input_is_refused(text: str) -> None:
    if text == '""':
        assert "Unknown command ''" in refused(text)
    else:
        assert "Type a command" in refused(text)


def test_empty_argv_is_refused() -> None:
    assert "Type a command" in refused_argv([])
    assert "Unknown command ''" in refused_argv(["", ""])  # as `"" ""` in chat


# --- argv ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["open", "Mail down", "--sev", "2"], v.OpenIncident("Mail down", severity=2)),
        (["open", "Mail", "", "down"], v.OpenIncident('Mail "" down')),  # as `open Mail "" down`
        (["open", "--", "--sev"], v.OpenIncident("--sev")),
        (["open", "Mail", "--sev=SEV3"], v.OpenIncident("Mail", severity=3)),
        (["open", "“Mail”"], v.OpenIncident("Mail")),  # the shell leaves typographic quotes
        (
            ["channels", "add", "telegram", "-1001234567890"],
            v.AddChannel(Platform.TELEGRAM, "-1001234567890"),
        ),
        (["update", "INC-3", "riga\n\nriga"], v.PostUpdate(3, "riga\n\nriga")),
    ],
)
def test_parse_argv(argv: list[str], expected: v.Command) -> None:
    assert parse_argv(argv, clock=CLOCK) == expected


def test_argv_separate_words_are_joined_with_spaces() -> None:
    command = parse_argv(["note", "42", "uno", "due"], clock=CLOCK)
    assert command == v.AddNote(42, "uno due")


# --- every refusal is one line that says what to do ------------------------------------

REFUSED = [
    "",
    "opne Mail",
    "open",
    "open Mail --sev 9",
    "open Mail --sev",
    "open Mail --sev 1 --sev 2",
    "open Mail --sevv 1",
    "open Mail --status resolved",
    "open Mail --status fixed",
    "open Mail --components ,",
    "open Mail --at 23:00",
    'open "Mail',
    "open Mail\x00",
    "open " + "x" * 201,
    "update",
    "update x y",
    "update 42",
    "update 42 " + "x" * 4001,
    "note 42",
    "edit 42 --update x y",
    "show",
    "show 1 2",
    "list x",
    "list --all=1",
    "list --since ieri",
    "summary x",
    "summary 2025-13",
    "summary a b",
    "maintenance",
    "maintenance x",
    "maintenance schedule X",
    'maintenance schedule X --start "22/05/2021 10:00" --end "22/05/2021 09:00"',
    'maintenance schedule X --start "30/03/2025 02:30" --end "30/03/2025 04:00"',
    "maintenance extend 5",
    "components add",
    "components add Po.sta X",
    "components add posta",
    "components remove a b",
    "components list --x",
    "channels add",
    "channels add fax 1",
    "channels add telegram x",
    "channels add slack x",
    "channels add webhook x",
    "channels add webhook https://e.com --lang fr",
    "channels add telegram 1 --secret s",
    "channels remove",
    "channels enable 1 2",
    "help --x",
]


@pytest.mark.parametrize("text", REFUSED)
def test_every_refusal_is_one_line_that_says_what_to_type(text: str) -> None:
    refused(text)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["open"],
        ["open", "Mail", "--sev", "9"],
        ["update", "42"],
        ["channels", "add", "telegram", "nope"],
        ["summary", "2025-13"],
        ["list", "--since", "a\nb"],
        ["open", "Mail", "--status", "resolved\n"],
        ["open", "Mail", "--bad\nname", "x"],  # the shell lets a newline into an option
        ["open", "Mail", "--sev\n", "2", "--sev\n", "3"],
    ],
)
def test_argv_refusals_are_one_line(argv: list[str]) -> None:
    refused_argv(argv)


# --- bugs -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "3²", "①"])
def test_edit_update_number_with_non_decimal_digits_is_a_usage_error(value: str) -> None:
    refused(f"edit 42 --update {value} Testo")


@pytest.mark.parametrize(
    "text",
    [
        "list --since 0001-01-01",
        "open Mail --at 0001-01-01T00:10",
        "open Mail --at 9999-12-31T23:59-01:00",
        "maintenance extend 5 --end 9999-12-31T23:59-01:00",
    ],
)
def test_out_of_range_dates_are_usage_errors(text: str) -> None:
    refused(text)


@pytest.mark.parametrize("period", ["0000-01", "0001-01", "9999-12"])
def test_summary_of_an_out_of_range_month_is_a_usage_error(period: str) -> None:
    refused(f"summary {period}")


@pytest.mark.parametrize(
    "argv",
    [
        ["components", "add", "posta\n", "Posta"],
        ["components", "remove", "posta\n"],
        ["channels", "add", "telegram", "-1001234567890\n"],
        ["channels", "add", "slack", "C0123456789\n"],
        ["channels", "add", "webhook", "https://example.com/hook\n"],
    ],
)
def test_trailing_newline_in_a_key_or_address_is_refused(argv: list[str]) -> None:
    refused_argv(argv)


@pytest.mark.parametrize(
    "text",
    [
        'open Mail --components "posta\x00"',
        "update 42 testo --components web\x00",
        "channels add webhook https://example.com/ho\x00ok",
        "channels remove C0123\x00",
    ],
)
def test_nul_in_components_and_addresses_is_refused(text: str) -> None:
    assert "NUL" in refused(text)


def test_message_takes_every_word_up_to_the_next_option() -> None:
    command = p("open Mail down --message Stiamo verificando il problema --sev 2")
    assert command == v.OpenIncident(
        "Mail down", severity=2, message="Stiamo verificando il problema"
    )


def test_unquoted_date_and_time_make_one_moment() -> None:
    command = p(
        "maintenance schedule Aggiornamento --start 22/05/2021 22:00 --end 23/05/2021 ore 02:00"
    )
    assert isinstance(command, v.ScheduleMaintenance)
    assert command.title == "Aggiornamento"
    assert command.start == datetime(2021, 5, 22, 20, 0, tzinfo=UTC)
    assert command.end == datetime(2021, 5, 23, 0, 0, tzinfo=UTC)


def test_quoted_words_inside_a_text_keep_their_quotes() -> None:
    assert p('update 42 Il servizio "Posta" è tornato') == v.PostUpdate(
        42, 'Il servizio "Posta" è tornato'
    )
    assert p('update 42 "Il servizio è tornato"') == v.PostUpdate(42, "Il servizio è tornato")
