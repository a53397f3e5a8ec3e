"""Clean the titles and texts people type: control and invisible characters, length limits."""

from __future__ import annotations

import re
import unicodedata

from commands.errors import UsageError
from commands.tokens import QUOTES

# Format characters (Unicode category Cf) are invisible: bidirectional overrides and
# isolates reorder what a reader sees, and zero-width spaces, BOMs and soft hyphens hide
# inside words. These few are kept because real text needs them: ZWNJ and ZWJ shape
# Persian and Indic words and join emoji; LRM, RLM and ALM only mark a direction where
# they stand, with no scope that could reverse what follows; and the Arabic number signs
# are visible marks written before digits.
_JOINERS_AND_DIRECTION_MARKS = frozenset("\u200c\u200d\u200e\u200f\u061c")
KEPT_FORMAT = _JOINERS_AND_DIRECTION_MARKS | frozenset("\u0600\u0601\u0602\u0603\u0604\u0605")
KEPT_FORMAT |= frozenset("\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd")
# Tag characters are invisible ASCII, so only a subdivision flag's short spelling survives.
_FLAG = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{3,6}\U000e007f")
# Letters that show nothing by themselves: a title of only these is as good as empty.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Marks are drawn on the character before them, so with no letter they show nothing; the
# variation selectors (U+FE00-FE0F, U+E0100-E01EF) and U+034F are marks of this kind.
_MARKS = ("Mn", "Me")


def _drop_format(text: str) -> str:
    return "".join(
        char for char in text if unicodedata.category(char) != "Cf" or char in KEPT_FORMAT
    )


def without_invisible(text: str) -> str:
    """text without invisible format characters, keeping those real scripts and emoji need."""
    pieces: list[str] = []
    start = 0
    for flag in _FLAG.finditer(text):
        pieces += [_drop_format(text[start : flag.start()]), flag[0]]
        start = flag.end()
    return "".join([*pieces, _drop_format(text[start:])])


def is_blank(text: str) -> bool:
    """True when text shows nothing but spaces, quotes, joiners, direction marks and marks."""
    return all(_shows_nothing(char) for char in text)


def _shows_nothing(char: str) -> bool:
    return (
        char.isspace()
        or char in QUOTES
        or char in _BLANK_LETTERS
        or char in _JOINERS_AND_DIRECTION_MARKS
        or unicodedata.category(char) in _MARKS
    )


def clean_text(text: str, *, what: str, limit: int, single_line: bool = False) -> str:
    """Strip control and invisible characters, and refuse NUL or over-long text."""
    if "\x00" in text:
        raise UsageError(f"The {what} contains a NUL character; type it again without it.")
    kept = []
    for char in without_invisible(text):
        if char in "\n\t" and not single_line:
            kept.append("\n" if char == "\n" else " ")
        elif char in "\n\t\r":
            kept.append(" ")
        elif unicodedata.category(char) == "Cc":
            continue
        else:
            kept.append(char)
    cleaned = "".join(kept)
    cleaned = " ".join(cleaned.split()) if single_line else cleaned.strip()
    if len(cleaned) > limit:
        raise UsageError(
            f"The {what} is {len(cleaned)} characters long; keep it to {limit} or fewer."
        )
    return cleaned
