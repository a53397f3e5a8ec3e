"""The command line reads the quotes the shell leaves in its arguments as chat reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from commands import verbs as v
from commands.errors import UsageError
from commands.parser import Clock, parse, parse_argv
from tests.commands.test_parser_properties import outcome

CLOCK = Clock(ZoneInfo("Europe/Rome"), datetime(2025, 1, 28, 13, 50, tzinfo=UTC))


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["open", '"Mail down"'], 'open "Mail down"'),
        (["open", "“Posta”"], "open “Posta”"),
        (["open", "“Mail", "down”"], "open “Mail down”"),
        (["open", "„Mail", "down“", "--sev", "2"], "open „Mail down“ --sev 2"),
        (["open", "«Mail", "down»"], "open «Mail down»"),
        (["open", "'Mail", "down'"], "open 'Mail down'"),
        (["open", "“L’attività", "dell'invio”"], "open “L’attività dell'invio”"),
        (
            ["open", "Il", "servizio", "“Posta”", "è", "tornato"],
            "open Il servizio “Posta” è tornato",
        ),
        (["open", "“Posta”", "è", "tornato"], "open “Posta” è tornato"),
        (
            ["open", "Mail", "--message", "“Stiamo", "verificando”"],
            "open Mail --message “Stiamo verificando”",
        ),
        (["update", "4", "“Tutto", "ok”"], "update 4 “Tutto ok”"),
        (["note", "4", "“--sev", "2”"], "note 4 “--sev 2”"),
        (["open", "“--sev”"], "open “--sev”"),
        (
            ["maintenance", "schedule", "X", "--start", "“22/05/2021", "10:00”", "--end", "23:00"],
            None,
        ),
        # `herald resolve 3 ""`: the shell leaves an empty argument where the quotes were.
        (["resolve", "3", ""], 'resolve 3 ""'),
        (["resolve", "3", "", ""], 'resolve 3 "" ""'),
        (["maintenance", "start", "18", ""], 'maintenance start 18 ""'),
        (["open", "X", "--message", ""], 'open X --message ""'),
        (["open", "Mail", "", "down"], 'open Mail "" down'),
        (["open", ""], 'open ""'),
    ],
)
def test_argv_and_chat_give_the_same_command(argv: list[str], text: str | None) -> None:
    if text is None:
        text = " ".join(argv)
    chat = outcome(lambda: parse(text, clock=CLOCK))
    assert outcome(lambda: parse_argv(argv, clock=CLOCK)) == chat


def test_argument_that_is_one_quoted_string_loses_its_quotes() -> None:
    assert parse_argv(["open", '"Mail down"'], clock=CLOCK) == v.OpenIncident("Mail down")
    assert parse_argv(["open", "“Posta”"], clock=CLOCK) == v.OpenIncident("Posta")


def test_argument_with_quotes_inside_keeps_them() -> None:
    # `herald note 4 'Il servizio "Posta" è tornato'`: the shell hands over one argument.
    command = parse_argv(["note", "4", 'Il servizio "Posta" è tornato'], clock=CLOCK)
    assert command == v.AddNote(4, 'Il servizio "Posta" è tornato')


def test_quoted_option_word_is_text_not_an_option() -> None:
    assert parse_argv(["open", "“--sev”", "2"], clock=CLOCK) == v.OpenIncident("“--sev” 2")


def test_argument_with_an_unclosed_quote_and_spaces_is_kept_as_typed() -> None:
    # The shell made it one word, so its quote is a letter, as it always was.
    command = parse_argv(["note", "4", "'90s style"], clock=CLOCK)
    assert command == v.AddNote(4, "'90s style")


def test_unclosed_typographic_quote_over_arguments_is_refused_as_in_chat() -> None:
    with pytest.raises(UsageError, match="never closed"):
        parse_argv(["open", "“Mail", "down"], clock=CLOCK)


@pytest.mark.parametrize(
    "argv",
    [
        ["resolve", "3", ""],
        ["reopen", "3", "", ""],
        ["maintenance", "start", "18", ""],
        ["maintenance", "cancel", "18", "", " "],
        ["open", "X", "--message", ""],
        ["maintenance", "schedule", "X", "--start", "10:00", "--end", "11:00", "--message", ""],
    ],
)
def test_empty_argument_is_a_text_given_but_empty(argv: list[str]) -> None:
    with pytest.raises(UsageError) as caught:
        parse_argv(argv, clock=CLOCK)
    message = caught.value.message
    assert "is empty once quotes and invisible characters are removed" in message
    assert len(message.splitlines()) == 1
