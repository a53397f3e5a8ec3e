"""Commands run in command processes: saved on the shared database, refusals and database
failures answered as in threads, a command process that dies replaced."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.frontend.answers import NOT_SAVED, Refusal, RefusalKind, answer, look
from bot.frontend.command_processes import CommandProcesses, command_processes
from bot.frontend.runner import CommandRunner, Person, context_factory
from bot.settings import Settings
from commands import verbs as v
from commands.context import Context, Reply
from commands.queries import SummaryView
from storage.models import Incident
from tests.factories import FakeClock
from tests.frontend.test_core import Everyone

ALICE = Person("slack", "U1", "alice")


@dataclass(frozen=True)
class WhereAmI:
    """Work that says which process ran it, and as whom."""

    def __call__(self, ctx: Context) -> tuple[int, str]:
        return os.getpid(), ctx.actor.name


@dataclass(frozen=True)
class DatabaseGone:
    """Work that meets a database that does not answer."""

    def __call__(self, ctx: Context) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("connection refused"))


@dataclass(frozen=True)
class Dies:
    """Work whose process is killed under it."""

    def __call__(self, ctx: Context) -> None:
        os._exit(1)


@pytest.fixture
def processes(engine: sa.Engine) -> Iterator[CommandProcesses]:
    """One command process on the test database."""
    url = engine.url.render_as_string(hide_password=False)
    pool = CommandProcesses(Settings(_env_file=None, database_url=url), 1)
    yield pool
    pool.close()


def runner(
    sessions: sessionmaker[Session], clock: FakeClock, processes: CommandProcesses
) -> CommandRunner:
    factory = context_factory(
        sessions=sessions, zone=ZoneInfo("Europe/Rome"), locale="en", clock=clock, probe=None
    )
    return CommandRunner(
        zone_context=factory, responders=Everyone("U1"), deadline=10.0, processes=processes
    )


def test_a_command_runs_in_a_command_process_and_is_saved_on_the_shared_database(
    sessions: sessionmaker[Session], clock: FakeClock, processes: CommandProcesses
) -> None:
    commands = runner(sessions, clock, processes)
    opening = v.OpenIncident(title="Mail down", severity=2)
    reply = asyncio.run(answer(commands, ALICE, opening, started=0.0))
    assert isinstance(reply, Reply)
    assert reply.changed
    assert reply.incident_id is not None
    with sessions() as session:
        incident = session.get(Incident, reply.incident_id)
        assert incident is not None
        assert incident.title == "Mail down"
    summary = asyncio.run(answer(commands, ALICE, v.Summarize("week"), started=0.0))
    assert isinstance(summary, SummaryView)
    pid, actor = asyncio.run(
        commands.run(ALICE, WhereAmI(), changing=False, started=0.0, portable=True)
    )
    assert pid != os.getpid()
    assert actor == "slack:U1 (alice)"
    # Work that is not portable (a closure, say) stays in this process's threads.
    assert asyncio.run(commands.run(ALICE, WhereAmI(), changing=False, started=0.0))[0] == (
        os.getpid()
    )


def test_refusals_and_a_silent_database_are_answered_as_in_threads(
    sessions: sessionmaker[Session], clock: FakeClock, processes: CommandProcesses
) -> None:
    commands = runner(sessions, clock, processes)
    stranger = Person("slack", "U2", "mallory")
    refused = asyncio.run(answer(commands, stranger, v.OpenIncident(title="X"), started=0.0))
    assert isinstance(refused, Refusal)
    assert refused.kind == RefusalKind.NOT_ALLOWED
    gone = asyncio.run(
        look(commands, ALICE, DatabaseGone(), started=0.0, changing=True, portable=True)
    )
    assert gone == Refusal(RefusalKind.UNAVAILABLE, NOT_SAVED)


def test_a_command_process_that_dies_fails_its_command_and_is_replaced(
    sessions: sessionmaker[Session], clock: FakeClock, processes: CommandProcesses
) -> None:
    commands = runner(sessions, clock, processes)
    died = asyncio.run(look(commands, ALICE, Dies(), started=0.0, portable=True))
    assert isinstance(died, Refusal)
    assert died.kind == RefusalKind.UNEXPECTED
    reply = asyncio.run(answer(commands, ALICE, v.OpenIncident(title="Web down"), started=0.0))
    assert isinstance(reply, Reply)
    assert reply.incident_id is not None


def test_no_more_command_processes_in_all_than_there_are_cores() -> None:
    # Commands are CPU work: more processes than cores only take turns, each one costing
    # more (on 2 cores, 2 web processes with 2 each made an opening cost twice the CPU).
    assert command_processes(1, cores=2) == 2
    assert command_processes(2, cores=2) == 1
    assert command_processes(4, cores=2) == 1
    assert command_processes(2, cores=8) == 2
