"""Errors whose message is safe to show the person who typed the command."""

from __future__ import annotations


class HeraldError(Exception):
    """A refusal with a one-line message that says what to do instead."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())


class UsageError(HeraldError):
    """The command was not understood: a typo, a missing argument, a bad date."""

    exit_code = 2


class Refused(HeraldError):
    """The command was understood but the domain says no (unknown id, wrong state)."""


class NotAllowed(Refused):
    """The person may not change incidents from where they typed."""
