"""Property tests: whatever anyone types, the parser answers with a command or a usage error."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from typing import get_args
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from commands import verbs as v
from commands.errors import UsageError
from commands.grammar import FORMS
from commands.parser import TITLE_LIMIT, Clock, parse, parse_argv
from commands.tokens import CLOSERS

CLOCK = Clock(ZoneInfo("Europe/Rome"), datetime(2025, 1, 28, 13, 50, tzinfo=UTC))
COMMAND_TYPES: tuple[type, ...] = get_args(v.Command)
SETTINGS = settings(max_examples=300, deadline=None)

# Characters that the tokenizer and the parser treat specially, mixed into any text.
SPECIAL = list("\"'“”‘’„«»—–-=#@/\\,.:\x00\x07\x1b\x7f\n\r\t \u00a0\u2028٣")
CHARS = st.one_of(st.characters(), st.sampled_from(SPECIAL))

# Pieces of real commands, so generated text reaches deep into each verb.
OPTION_WORDS = sorted(
    {
        f"{dash}{o.name}"
        for form in FORMS.values()
        for o in form.options
        for dash in ("--", "—", "–")
    }
)
VALUES = [
    "1",
    "SEV2",
    "5",
    "INC-42",
    "#42",
    "42",
    "-1001234567890",
    "@channelname",
    "C0123456789",
    "#incidents",
    "https://example.com/hook",
    "telegram",
    "slack",
    "webhook",
    "posta,web",
    "identified",
    "resolved",
    "it",
    "en",
    "7d",
    "24h",
    "2w",
    "14:50",
    '"22/05/2021 10:00"',
    '"28/01/2025 ore 14:50"',
    '"30/03/2025 02:30"',
    "2021-05-22T10:00+02:00",
    "2025-01-28T10:00Z",
    "now",
    "today",
    "week",
    "2025-01",
    "2025-13",
    "--",
    '""',
    "“”",
    "dell'invio",
    "L’attività",
]
LEADS = [*sorted(FORMS), "maintenance", "components", "channels", "opne", "/open", "OPEN", ""]
PIECES = st.one_of(
    st.sampled_from(OPTION_WORDS),
    st.sampled_from(VALUES),
    st.builds(lambda o, val: f"{o}={val}", st.sampled_from(OPTION_WORDS), st.sampled_from(VALUES)),
    st.text(CHARS, max_size=12),
)
SEPARATORS = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", " \r\n"])


@st.composite
def command_like(draw: st.DrawFn) -> list[str]:
    """A known verb or sub-verb followed by a mix of option words, values and noise."""
    lead = draw(st.sampled_from(LEADS))
    return [lead, *draw(st.lists(PIECES, max_size=8))]


@st.composite
def command_text(draw: st.DrawFn) -> str:
    """command_like words joined by assorted whitespace, as a chat message."""
    words = draw(command_like())
    out = words[0]
    for word in words[1:]:
        out += draw(SEPARATORS) + word
    return out


def check(call_result: object) -> None:
    """A parsed command is one of the commands Herald knows."""
    assert isinstance(call_result, COMMAND_TYPES), call_result


def check_refusal(error: UsageError, *, chat: bool = False) -> None:
    """A refusal is one non-empty line; from chat, even before whitespace is tidied."""
    assert error.message
    assert len(error.message.splitlines()) == 1
    if chat:
        assert "\n" not in str(error)


@SETTINGS
@given(st.text(CHARS, max_size=200))
def test_any_text_parses_or_is_a_usage_error(text: str) -> None:
    try:
        check(parse(text, clock=CLOCK))
    except UsageError as error:
        check_refusal(error, chat=True)


@SETTINGS
@given(command_text())
def test_command_like_text_parses_or_is_a_usage_error(text: str) -> None:
    try:
        check(parse(text, clock=CLOCK))
    except UsageError as error:
        check_refusal(error, chat=True)


@SETTINGS
@given(st.lists(st.text(CHARS, max_size=30), max_size=8))
def test_any_argv_parses_or_is_a_usage_error(argv: list[str]) -> None:
    try:
        check(parse_argv(argv, clock=CLOCK))
    except UsageError as error:
        check_refusal(error)


@SETTINGS
@given(command_like())
def test_command_like_argv_parses_or_is_a_usage_error(argv: list[str]) -> None:
    try:
        check(parse_argv([w.strip('"“”') for w in argv], clock=CLOCK))
    except UsageError as error:
        check_refusal(error)


# --- round trip of a valid `open` ---------------------------------------------------------

WORD_CHARS = st.characters(
    categories=("Lu", "Ll", "Nd"), include_characters="àèéìòùÀÈÉ.,:;!?()%&+", codec="utf-8"
)
PLAIN = st.text(WORD_CHARS, min_size=1, max_size=10).filter(lambda w: w[0] not in CLOSERS)


@st.composite
def title_word(draw: st.DrawFn) -> str:
    """A word, sometimes with an apostrophe inside (dell'invio, L’attività)."""
    word = draw(PLAIN)
    if draw(st.booleans()):
        word += draw(st.sampled_from(["'", "’"])) + draw(PLAIN)
    return word


SEVERITY_SPELLINGS = {
    1: ["1", "SEV1", "sev1"],
    2: ["2", "SEV2"],
    3: ["3", "Sev3"],
    4: ["4", "sev4"],
}


@st.composite
def open_command(draw: st.DrawFn) -> tuple[str, list[str], str, int]:
    """A valid `open`: its chat text, its argv, the title and the severity it names."""
    words = draw(st.lists(title_word(), min_size=1, max_size=12))
    title = " ".join(words)
    if len(title) > TITLE_LIMIT:
        title = title[:TITLE_LIMIT].strip()
        words = title.split()
    severity = draw(st.integers(1, 4))
    spelling = draw(st.sampled_from(SEVERITY_SPELLINGS[severity]))
    option = draw(st.sampled_from(["--sev", "—sev", "–sev", "--SEV"]))
    equals = draw(st.booleans())
    sev_words = [f"{option}={spelling}"] if equals else [option, spelling]
    quote = draw(st.sampled_from([None, ('"', '"'), ("“", "”"), ("«", "»"), ("„", "“")]))
    shown = " ".join(words) if quote is None else f"{quote[0]}{' '.join(words)}{quote[1]}"
    sep = draw(st.sampled_from([" ", "  ", "\t", " \u00a0 "]))
    before = draw(st.booleans())
    text = sep.join(["open", *sev_words, shown] if before else ["open", shown, *sev_words])
    argv = ["open", *sev_words, *words] if before else ["open", *words, *sev_words]
    return text, argv, title, severity


@SETTINGS
@given(open_command())
def test_valid_open_round_trips_title_and_severity(case: tuple[str, list[str], str, int]) -> None:
    text, argv, title, severity = case
    for command in (parse(text, clock=CLOCK), parse_argv(argv, clock=CLOCK)):
        assert isinstance(command, v.OpenIncident)
        assert command.title == title
        assert command.severity == severity
        assert command.status is None
        assert command.components is None


@SETTINGS
@given(st.lists(title_word(), min_size=1, max_size=20), st.lists(SEPARATORS, min_size=19))
def test_update_text_keeps_words_and_line_breaks(words: list[str], seps: list[str]) -> None:
    used = words[: len(seps)]
    text = "update 42 " + "".join(w + s for w, s in zip(used, seps, strict=False)).rstrip()
    command = parse(text, clock=CLOCK)
    assert isinstance(command, v.PostUpdate)
    assert command.incident_id == 42
    assert command.text.split() == used
    for line in command.text.split("\n"):
        assert line == line.strip()
    assert "\n\n\n" not in command.text


# --- the command line and chat read the same words the same way ----------------------------

SHELL_WORD = st.builds(
    lambda word, rest: word + rest,
    PLAIN,
    st.one_of(st.just(""), st.builds(lambda w: "’" + w, PLAIN)),
)
TYPOGRAPHIC = [("“", "”"), ("„", "“"), ("«", "»"), ("‘", "’"), ("”", "”")]


@st.composite
def shell_text(draw: st.DrawFn) -> str:
    """Words a shell passes on untouched, some wrapped in typographic quotes, some `""`."""
    pieces = []
    # An empty group is `""`: the shell passes it on as an empty argument.
    group_words = st.one_of(st.lists(SHELL_WORD, min_size=1, max_size=3), st.just([]))
    for group in draw(st.lists(group_words, min_size=1, max_size=4)):
        quote = draw(st.sampled_from([None, *TYPOGRAPHIC])) if group else ('"', '"')
        text = " ".join(group)
        pieces.append(text if quote is None else f"{quote[0]}{text}{quote[1]}")
    text = " ".join(pieces)
    # Straight quotes around the whole text are the shell's, and chat's too. Not around
    # quotes: chat lets ” close ", and the shell's quotes leave no trace in argv.
    plain = not any(quote in text for pair in TYPOGRAPHIC for quote in (*pair, '"'))
    return f'"{text}"' if plain and draw(st.booleans()) else text


def outcome(call: Callable[[], object]) -> object:
    """The command parsed, or the message of the refusal."""
    try:
        return call()
    except UsageError as error:
        return error.message


@SETTINGS
@given(
    st.sampled_from(["open", "update 42", "note 42", "resolve 42", "maintenance start 18"]),
    shell_text(),
)
def test_argv_split_by_a_shell_parses_as_the_chat_text(lead: str, words: str) -> None:
    text = f"{lead} {words} --sev 2" if lead == "open" else f"{lead} {words}"
    chat = outcome(lambda: parse(text, clock=CLOCK))
    argv = outcome(lambda: parse_argv(shlex.split(text), clock=CLOCK))
    assert argv == chat
