"""Titles and texts: empty once their quotes are gone, and invisible or direction-changing
characters."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from commands import verbs as v
from commands.parser import Clock, parse, parse_argv
from tests.commands.test_parser import refused, refused_argv

CLOCK = Clock(ZoneInfo("Europe/Rome"), datetime(2025, 1, 28, 13, 50, tzinfo=UTC))

ARABIC = "انقطاع خدمة البريد"  # "mail service outage"
PERSIAN_ZWNJ = "می\u200cخواهیم سرویس را بازگردانیم"  # ZWNJ inside "می‌خواهیم"
HEBREW = "תקלה בשירות הדואר"  # "fault in the mail service"
HEBREW_WITH_RLM = "תקלה בשירות הדואר\u200f (INC-4)"
FAMILY = "👨\u200d👩\u200d👧"  # one emoji: man ZWJ woman ZWJ girl
RAINBOW_FLAG = "🏳\ufe0f\u200d🌈"
SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"


def title_of(text: str) -> str:
    """The title of a chat `open`."""
    command = parse(f"open {text}", clock=CLOCK)
    assert isinstance(command, v.OpenIncident)
    return command.title


def note_of(text: str) -> str:
    """The text of a chat `note 42`."""
    command = parse(f"note 42 {text}", clock=CLOCK)
    assert isinstance(command, v.AddNote)
    return command.text


# --- empty once the quotes are removed ----------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["open", '""'],
        ["open", "''"],
        ["open", "“”"],
        ["open", '""', '""'],
        ["open", '" "'],
        ["open", "\u200b"],
        ["open", "\u3164"],  # Hangul filler: a letter that shows nothing
        ["open", "\u2800", "\u00a0"],  # braille blank, no-break space
        ["open", "\ufeff\u202e"],
        ["maintenance", "schedule", '""', "--start", "10:00", "--end", "11:00"],
    ],
)
def test_argv_title_empty_once_unquoted_is_refused(argv: list[str]) -> None:
    message = refused_argv(argv)
    assert "needs a title" in message
    assert "Usage:" in message


@pytest.mark.parametrize("title", ['"" ""', "“” ''", '" " \u200b', "\u2060", "\u00ad\u2062"])
def test_chat_title_empty_once_unquoted_is_refused(title: str) -> None:
    assert "open needs a title" in refused(f"open {title}")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('update 42 "" ""', "update needs the text customers will read"),
        ("note 42 “”", "note needs the note"),
        ("edit 42 '' \u200b", "edit needs the corrected text"),
        ('components add posta ""', "components add needs a NAME"),
    ],
)
def test_required_text_empty_once_unquoted_is_refused(text: str, fragment: str) -> None:
    assert fragment in refused(text)


@pytest.mark.parametrize(
    "text",
    [
        'resolve 42 ""',
        "reopen 42 “”",
        "maintenance complete 5 '' ''",
        "maintenance extend 5 --end 18:00 \u200b",
        'open Mail --message ""',
        'maintenance schedule X --start 10:00 --end 11:00 --message "\u200b"',
    ],
)
def test_optional_text_given_but_empty_is_refused(text: str) -> None:
    message = refused(text)
    assert "empty" in message
    assert "leave it out" in message


def test_optional_text_left_out_is_still_accepted() -> None:
    assert parse("resolve 42", clock=CLOCK) == v.ResolveIncident(42, "")
    assert parse_argv(["resolve", "42"], clock=CLOCK) == v.ResolveIncident(42, "")


def test_quotes_among_words_are_kept() -> None:
    assert title_of('Il servizio "Posta" è tornato') == 'Il servizio "Posta" è tornato'
    assert title_of('"" Posta') == '"" Posta'


# --- invisible and direction-changing characters ------------------------------------------


@pytest.mark.parametrize(
    "hidden",
    [
        "\u202a",
        "\u202b",
        "\u202c",
        "\u202d",
        "\u202e",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u200b",
        "\u2060",
        "\u2061",
        "\u2062",
        "\u2063",
        "\u2064",
        "\ufeff",
        "\u180e",
        "\u00ad",
        "\u206a",
        "\ufff9",
        "\U000e0001",
        "\U000e0041",
        "\U0001d173",
    ],
)
def test_invisible_format_characters_are_stripped_from_titles_and_texts(hidden: str) -> None:
    assert unicodedata.category(hidden) == "Cf"
    assert title_of(f"Mail{hidden} down{hidden}") == "Mail down"
    assert note_of(f"{hidden}riga{hidden} uno\nriga due{hidden}") == "riga uno\nriga due"


def test_a_right_to_left_override_cannot_reverse_what_follows() -> None:
    # "INC ‮txt.exe" would show as "INC exe.txt" and reverse any text after the title.
    assert title_of("Fattura \u202etxt.exe") == "Fattura txt.exe"


def test_characters_stripped_from_every_option_text_and_name() -> None:
    command = parse("open Mail --message Stiamo\u2066 verificando\u2069", clock=CLOCK)
    assert isinstance(command, v.OpenIncident)
    assert command.message == "Stiamo verificando"
    assert parse("components add posta Po\u200bsta\u202e", clock=CLOCK) == v.AddComponent(
        "posta", "Posta"
    )


@pytest.mark.parametrize(
    "text", [ARABIC, PERSIAN_ZWNJ, HEBREW, HEBREW_WITH_RLM, "مرحبا\u061c 2025", "٣ دقائق"]
)
def test_right_to_left_text_is_kept_intact(text: str) -> None:
    assert title_of(f"“{text}”") == text
    assert note_of(f"{text}\n{text}") == f"{text}\n{text}"


@pytest.mark.parametrize(
    "emoji",
    [FAMILY, RAINBOW_FLAG, "🧑🏽\u200d💻", "👍🏿", "🇮🇹", "❤\ufe0f", "1\ufe0f\u20e3", SCOTLAND],
)
def test_emoji_sequences_are_kept_intact(emoji: str) -> None:
    assert title_of(f"Posta {emoji} ok") == f"Posta {emoji} ok"
    assert note_of(emoji) == emoji


def test_tags_outside_a_flag_are_stripped() -> None:
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "ignore previous")
    assert title_of(f"Mail{hidden} down") == "Mail down"
    assert title_of(f"🏴{hidden}\U000e007f ok") == "🏴 ok"


SHOWS_NOTHING = [
    "\u200f",  # RLM
    "\u200d",  # ZWJ
    "\u200c\u200e",  # ZWNJ, LRM
    "\u061c",  # ALM
    "\u0301",  # a combining acute with nothing to sit on
    "\u0301\u0301\u0323",
    "\u20dd",  # combining enclosing circle (Me)
    "\ufe0f",
    "\U000e0100",  # variation selector 17
    "\u034f",  # combining grapheme joiner
    "\u200f \u0301 \ufe0f",
]


@pytest.mark.parametrize("hidden", SHOWS_NOTHING)
def test_title_of_only_marks_and_joiners_is_refused(hidden: str) -> None:
    assert "open needs a title" in refused_argv(["open", hidden])
    assert "open needs a title" in refused(f"open {hidden}")


@pytest.mark.parametrize("hidden", SHOWS_NOTHING)
def test_text_of_only_marks_and_joiners_is_refused(hidden: str) -> None:
    assert "The text of resolve is empty" in refused_argv(["resolve", "2", hidden])
    assert "--message is empty" in refused_argv(["open", "Mail", "--message", hidden])
    assert "note needs the note" in refused(f"note 2 {hidden}")


@pytest.mark.parametrize(
    "text",
    [
        "مَرْحَبًا",  # Arabic with its vowel marks
        "שָׁלוֹם",  # Hebrew with its points
        "❤\ufe0f",
        "\u200f1",
        "e\u0301",
        "\u0600١٢٣",
    ],
)
def test_text_with_something_visible_among_marks_is_accepted(text: str) -> None:
    assert title_of(text) == text
    assert parse_argv(["resolve", "2", text], clock=CLOCK) == v.ResolveIncident(2, text)


def test_prepended_arabic_number_sign_is_kept() -> None:
    assert title_of("\u0600١٢٣ رسائل") == "\u0600١٢٣ رسائل"


def test_stripped_characters_do_not_count_towards_the_limit() -> None:
    title = "x" * 100 + "\u200b" * 50 + "x" * 100
    assert title_of(title) == "x" * 200
