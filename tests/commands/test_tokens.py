"""Tests for commands.tokens: splitting chat text into words, quotes, gaps and options."""

from __future__ import annotations

import dataclasses

import pytest

from commands.errors import UsageError
from commands.tokens import Token, option_name, tokenize


def texts(text: str) -> list[str]:
    """The words of text, without their quoting or gaps."""
    return [token.text for token in tokenize(text)]


def assert_one_line(error: UsageError) -> None:
    """A usage error reads as one line, both raw and as shown."""
    assert "\n" not in str(error)
    assert len(error.message.splitlines()) == 1


# --- plain words ------------------------------------------------------------


def test_plain_words_split_on_whitespace() -> None:
    assert texts("open Mail delivery delayed") == ["open", "Mail", "delivery", "delayed"]


def test_runs_of_mixed_whitespace_are_one_separator() -> None:
    assert texts("  open \t Mail\u00a0down \n ") == ["open", "Mail", "down"]


@pytest.mark.parametrize("text", ["", " ", "\n\n", "\t \u00a0 \u2028"])
def test_blank_text_has_no_tokens(text: str) -> None:
    assert tokenize(text) == []


def test_unquoted_tokens_are_not_marked_quoted() -> None:
    assert all(not token.quoted for token in tokenize("open Mail --sev 2"))


def test_token_defaults_and_is_frozen() -> None:
    token = Token("x")
    assert (token.text, token.quoted, token.gap) == ("x", False, "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        token.text = "y"  # type: ignore[misc]


# --- quotes -------------------------------------------------------------------


def test_straight_double_quotes_make_one_quoted_token() -> None:
    tokens = tokenize('open "Mail delivery delayed" --sev 2')
    assert [t.text for t in tokens] == ["open", "Mail delivery delayed", "--sev", "2"]
    assert [t.quoted for t in tokens] == [False, True, False, False]


def test_straight_single_quotes_make_one_quoted_token() -> None:
    tokens = tokenize("open 'Mail down' now")
    assert [t.text for t in tokens] == ["open", "Mail down", "now"]
    assert tokens[1].quoted


@pytest.mark.parametrize(
    ("opener", "closer"),
    [
        ('"', '"'),
        ('"', "”"),
        ("'", "'"),
        ("'", "’"),
        ("“", "”"),
        ("“", '"'),
        ("“", "“"),
        ("”", "”"),
        ("‘", "’"),
        ("‘", "'"),
        ("„", "“"),
        ("„", "”"),
        ("«", "»"),
    ],
)
def test_typographic_quote_pairs(opener: str, closer: str) -> None:
    tokens = tokenize(f"open {opener}Problemi consegna posta{closer} --sev 2")
    assert [t.text for t in tokens] == ["open", "Problemi consegna posta", "--sev", "2"]
    assert tokens[1].quoted


def test_guillemets_do_not_close_with_straight_quote() -> None:
    with pytest.raises(UsageError):
        tokenize('open «Mail down" --sev 2')


def test_quoted_token_at_end_of_text() -> None:
    assert texts("note 42 “tutto ok”") == ["note", "42", "tutto ok"]


def test_empty_quotes_make_an_empty_quoted_token() -> None:
    tokens = tokenize('open "" x')
    assert tokens[1] == Token("", quoted=True, gap=" ", raw='""')


def test_quoted_text_keeps_its_inner_whitespace_and_newlines() -> None:
    assert texts('note 42 "  riga uno\nriga  due "') == ["note", "42", "  riga uno\nriga  due "]


def test_quote_inside_a_word_is_not_an_opener() -> None:
    assert texts('a"b c"') == ['a"b', 'c"']


def test_closing_quote_must_be_followed_by_space_or_end() -> None:
    # The quote after "Mail" is followed by "x", so the quote closes at the last one.
    assert texts('open "Mail"x down" y') == ["open", 'Mail"x down', "y"]


# --- apostrophes --------------------------------------------------------------


@pytest.mark.parametrize(
    "word", ["dell'invio", "L’attività", "po'", "un’ora", "l'Italia’s", "d'accordo"]
)
def test_apostrophes_inside_or_after_a_word_stay_in_the_word(word: str) -> None:
    tokens = tokenize(f"update 42 Ritardo {word} posta")
    assert [t.text for t in tokens] == ["update", "42", "Ritardo", word, "posta"]
    assert not any(t.quoted for t in tokens)


def test_apostrophe_inside_a_quoted_title_does_not_close_it() -> None:
    assert texts("open “L’attività dell'invio è ripresa” --sev 3") == [
        "open",
        "L’attività dell'invio è ripresa",
        "--sev",
        "3",
    ]


def test_single_quoted_text_with_inner_apostrophe() -> None:
    assert texts("open 'Ritardo dell'invio' --sev 3") == [
        "open",
        "Ritardo dell'invio",
        "--sev",
        "3",
    ]


# --- unclosed quotes ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'open "Mail down',
        "open 'Mail down",
        "open “Mail down",
        "open ‘Mail down",
        "open „Mail down",
        "open «Mail down",
        '"',
        'open "Mail down". --sev 2',
        'note 42 "riga uno\nriga due',
    ],
)
def test_unclosed_quote_is_a_one_line_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        tokenize(text)
    assert "never closed" in caught.value.message
    assert "close it" in caught.value.message
    assert_one_line(caught.value)


def test_unclosed_quote_message_quotes_a_short_fragment() -> None:
    with pytest.raises(UsageError) as caught:
        tokenize('open "' + "x" * 100)
    assert ("x" * 19) in caught.value.message
    assert ("x" * 20) not in caught.value.message


# --- gaps ---------------------------------------------------------------------


def test_gap_records_the_whitespace_before_each_token() -> None:
    tokens = tokenize("update 42 Prima riga\nSeconda\n\nTerza")
    assert [t.gap for t in tokens] == ["", " ", " ", " ", "\n", "\n\n"]


def test_gap_of_first_token_is_the_leading_whitespace() -> None:
    assert tokenize("  \nopen")[0].gap == "  \n"


def test_gap_before_and_after_a_quoted_token() -> None:
    tokens = tokenize('note 42\n"quoted text"\n\nafter')
    assert [(t.text, t.gap) for t in tokens] == [
        ("note", ""),
        ("42", " "),
        ("quoted text", "\n"),
        ("after", "\n\n"),
    ]


def test_gap_keeps_carriage_returns_and_tabs() -> None:
    tokens = tokenize("a\r\nb\t c")
    assert [t.gap for t in tokens] == ["", "\r\n", "\t "]


# --- option names -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--sev", "sev"),
        ("--min-sev", "min-sev"),
        ("--sev=2", "sev=2"),
        ("--SEV", "SEV"),
        ("—sev", "sev"),  # em dash: phones turn -- into —
        ("–sev", "sev"),  # en dash
        ("—min-sev", "min-sev"),
        ("—sev=2", "sev=2"),
        ("---sev", "-sev"),
    ],
)
def test_option_name_of_option_tokens(text: str, expected: str) -> None:
    assert option_name(Token(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "--",
        "-",
        "-s",
        "-sev",
        "-1001234567890",
        "—",
        "–",
        "—2",
        "—-sev",
        "sev",
        "INC-42",
        "",
        "#42",
        "@channelname",
    ],
)
def test_option_name_of_plain_words_is_none(text: str) -> None:
    assert option_name(Token(text)) is None


@pytest.mark.parametrize("text", ["--sev", "—sev", "–sev", "--sev=2"])
def test_quoted_tokens_are_never_options(text: str) -> None:
    assert option_name(Token(text, quoted=True)) is None


@pytest.mark.parametrize("quoted", ['"--sev"', "“—sev”", "'--all'", "«--status»"])
def test_tokenized_quoted_option_is_not_an_option(quoted: str) -> None:
    token = tokenize(f"open {quoted}")[1]
    assert token.quoted
    assert option_name(token) is None
