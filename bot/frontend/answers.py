"""What Herald answers a command, as data each front-end formats: a reply, a summary, a refusal."""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.database import did_not_answer
from bot.frontend.runner import CommandRunner, Person
from commands import verbs as v
from commands.context import Context, Reply
from commands.dispatch import execute
from commands.errors import HeraldError, NotAllowed, UsageError
from commands.queries import SummaryView, summary_view

log = logging.getLogger(__name__)
T = TypeVar("T")

NOT_SAVED = "Could not save: the database did not answer. Nothing was published; try again."
NOT_READ = "Could not read the incidents: the database did not answer; try again."


class RefusalKind(enum.StrEnum):
    """Why a command did not run, which decides how a front-end shows it."""

    USAGE = "usage"  # not understood: a typo, a missing argument
    REFUSED = "refused"  # understood, and the domain says no
    NOT_ALLOWED = "not_allowed"  # only responders may
    UNAVAILABLE = "unavailable"  # the database did not answer
    UNEXPECTED = "unexpected"  # a bug: logged with an id


@dataclass(frozen=True)
class Refusal:
    """A command that did not run, in one line that says what to do instead."""

    kind: RefusalKind
    text: str
    error_id: str | None = None

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: 2 for a usage error, 1 for any other refusal."""
        return 2 if self.kind == RefusalKind.USAGE else 1


Answer = Reply | SummaryView | Refusal


def refusal_of(error: BaseException, *, changing: bool, front_end: str) -> Refusal:
    """The one error handler: a known refusal as it is; anything unknown logged with an id."""
    if isinstance(error, NotAllowed):
        return Refusal(RefusalKind.NOT_ALLOWED, error.message)
    if isinstance(error, UsageError):
        return Refusal(RefusalKind.USAGE, error.message)
    if isinstance(error, HeraldError):
        return Refusal(RefusalKind.REFUSED, error.message)
    if did_not_answer(error):
        log.warning("database unreachable from %s: %s", front_end, type(error).__name__)
        return Refusal(RefusalKind.UNAVAILABLE, NOT_SAVED if changing else NOT_READ)
    error_id = uuid.uuid4().hex[:8]
    log.error("unexpected error %s", error_id, exc_info=error)
    return Refusal(
        RefusalKind.UNEXPECTED,
        f"Sorry, something went wrong (error {error_id}); nothing more was done.",
        error_id,
    )


async def look(
    runner: CommandRunner,
    person: Person,
    work: Callable[[Context], T],
    *,
    started: float,
    changing: bool = False,
    when_slow: Callable[[], Awaitable[None]] | None = None,
    portable: bool = False,
) -> T | Refusal:
    """Run `work` for a person off the event loop; any failure comes back as a refusal."""
    try:
        return await runner.run(
            person,
            work,
            changing=changing,
            started=started,
            when_slow=when_slow,
            portable=portable,
        )
    except Exception as error:
        return refusal_of(error, changing=changing, front_end=person.front_end)


async def answer(
    runner: CommandRunner,
    person: Person,
    command: v.Command,
    *,
    started: float,
    when_slow: Callable[[], Awaitable[None]] | None = None,
) -> Answer:
    """Run a parsed command for a person and say what came of it; never raises."""
    return await look(
        runner,
        person,
        Execution(command),
        started=started,
        changing=v.changes_state(command),
        when_slow=when_slow,
        portable=True,
    )


@dataclass(frozen=True)
class Execution:
    """A parsed command to run against a context: plain data, so a command process can
    take it (a closure could not be pickled)."""

    command: v.Command

    def __call__(self, ctx: Context) -> Reply | SummaryView:
        """The command's reply; a summary is a view each front-end lays out its own way."""
        if isinstance(self.command, v.Summarize):
            return summary_view(self.command, ctx)
        return execute(self.command, ctx)
