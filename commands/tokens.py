"""Split a chat message into words, honouring straight and typographic quotes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from commands.errors import UsageError

# Phones turn " into “ ” and ' into ‘ ’. A quote only opens at the start of a
# word and only closes before a space or the end, so the apostrophes of
# "dell'invio" or "L’attività" stay part of their word.
CLOSERS: dict[str, tuple[str, ...]] = {
    '"': ('"', "”", "“"),
    "'": ("'", "’"),
    "“": ("”", '"', "“"),
    "”": ("”", '"'),
    "‘": ("’", "'"),
    "„": ("“", "”", '"'),
    "«": ("»",),
}
QUOTES = frozenset(char for opener, closers in CLOSERS.items() for char in (opener, *closers))
DASHES = ("—", "–")


@dataclass(frozen=True)
class Token:
    """One word of a command; quoted words are never read as options."""

    text: str
    quoted: bool = False
    gap: str = ""
    raw: str = ""

    @property
    def as_typed(self) -> str:
        """The word with its quotes, for text where a quoted word stands among others."""
        return self.raw or self.text


def _closing_index(text: str, start: int, closers: tuple[str, ...]) -> int:
    for index in range(start, len(text)):
        if text[index] in closers and (index + 1 == len(text) or text[index + 1].isspace()):
            return index
    return -1


def tokenize(text: str) -> list[Token]:
    """Split text into tokens; raise UsageError for a quote that never closes."""
    tokens: list[Token] = []
    index, length = 0, len(text)
    gap_start = 0
    while index < length:
        char = text[index]
        if char.isspace():
            index += 1
            continue
        gap = text[gap_start:index]
        if char in CLOSERS:
            end = _closing_index(text, index + 1, CLOSERS[char])
            if end < 0:
                fragment = text[index : index + 20].strip()
                raise UsageError(
                    f"The quote at {fragment!r} is never closed: close it, or leave it out."
                )
            tokens.append(
                Token(text[index + 1 : end], quoted=True, gap=gap, raw=text[index : end + 1])
            )
            index = gap_start = end + 1
            continue
        end = index
        while end < length and not text[end].isspace():
            end += 1
        tokens.append(Token(text[index:end], gap=gap))
        index = gap_start = end
    return tokens


def argv_tokens(argv: Sequence[str]) -> list[Token]:
    """Tokens of command-line arguments, read as chat text is read, shell words kept whole.

    The shell takes off only the quotes it knows, so typographic quotes (`“Mail down”`, two
    arguments) and quotes protected from it (`'"Mail down"'`) are still there to read."""
    tokens: list[Token] = []
    run: list[str] = []
    for arg in argv:
        if not arg or any(char.isspace() for char in arg):
            tokens += [*tokenize(" ".join(run)), _shell_word(arg)]
            run = []
        else:
            run.append(arg)
    tokens += tokenize(" ".join(run))
    return [replace(token, gap=" ") for token in tokens]


def _shell_word(arg: str) -> Token:
    """An argument with spaces in it, or none at all, which the shell kept as one word."""
    if not arg:
        # What `""` leaves: a text given but empty, as `""` is in chat.
        return Token("", quoted=True, raw='""')
    try:
        tokens = tokenize(arg)
    except UsageError:
        return Token(arg)
    whole = len(tokens) == 1 and tokens[0].quoted and tokens[0].raw == arg.strip()
    return tokens[0] if whole else Token(arg)


def option_name(token: Token) -> str | None:
    """The option a token names (`--sev`, or `—sev` as phones write it), else None."""
    if token.quoted:
        return None
    text = token.text
    if text.startswith("--") and len(text) > 2:
        return text[2:]
    if text[:1] in DASHES and len(text) > 1 and text[1:2].isalpha():
        return text[1:]
    return None
