"""The front-end core: refusals as data, one command at a time per person, answers as data."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from zoneinfo import ZoneInfo

import psycopg
import pytest
import sqlalchemy.exc
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.database import did_not_answer
from bot.frontend.answers import NOT_READ, NOT_SAVED, Refusal, RefusalKind, answer, refusal_of
from bot.frontend.runner import CommandRunner, Person, context_factory
from commands import verbs as v
from commands.context import Context, Reply
from commands.errors import NotAllowed, Refused, UsageError
from commands.queries import SummaryView
from tests.factories import FakeClock


class Everyone:
    """Responders that include exactly the ids given."""

    def __init__(self, *ids: str) -> None:
        self.ids = set(ids)

    async def includes(self, user_id: str) -> bool:
        return user_id in self.ids

    def grant_hint(self, user_id: str) -> str:
        return f"ask for {user_id}"


def runner(sessions: sessionmaker[Session], clock: FakeClock, *ids: str) -> CommandRunner:
    factory = context_factory(
        sessions=sessions,
        zone=ZoneInfo("Europe/Rome"),
        locale="it",
        clock=clock,
        probe=None,
    )
    return CommandRunner(zone_context=factory, responders=Everyone(*ids), deadline=10.0)


def test_each_kind_of_error_is_a_refusal_with_its_exit_code() -> None:
    usage = refusal_of(UsageError("type it so"), changing=False, front_end="x")
    assert (usage.kind, usage.text, usage.exit_code) == (RefusalKind.USAGE, "type it so", 2)
    refused = refusal_of(Refused("no"), changing=True, front_end="x")
    assert (refused.kind, refused.exit_code) == (RefusalKind.REFUSED, 1)
    assert refusal_of(NotAllowed("only"), changing=True, front_end="x").kind == (
        RefusalKind.NOT_ALLOWED
    )
    down = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("gone"))
    assert refusal_of(down, changing=True, front_end="x").text == NOT_SAVED
    assert refusal_of(down, changing=False, front_end="x").text == NOT_READ


def test_an_unknown_error_is_logged_with_the_id_the_person_sees(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refusal = refusal_of(KeyError("secret detail"), changing=False, front_end="x")
    assert refusal.kind == RefusalKind.UNEXPECTED
    assert refusal.error_id is not None
    assert refusal.error_id in refusal.text
    assert "secret detail" not in refusal.text
    assert refusal.error_id in caplog.text


def test_answers_are_data(sessions: sessionmaker[Session], clock: FakeClock) -> None:
    core = runner(sessions, clock, "42")
    alice, bob = Person("test", "42", "alice"), Person("test", "7", "bob")

    async def main() -> tuple[object, object, object, object]:
        opened = await answer(core, alice, v.OpenIncident("Posta giù", severity=2), started=0.0)
        refused = await answer(core, bob, v.OpenIncident("Nope"), started=0.0)
        summary = await answer(core, bob, v.Summarize("week"), started=0.0)
        missing = await answer(core, bob, v.ShowIncident(99), started=0.0)
        return opened, refused, summary, missing

    opened, refused, summary, missing = asyncio.run(main())
    assert isinstance(opened, Reply)
    assert opened.changed
    assert opened.incident_id == 1
    assert isinstance(refused, Refusal)
    assert refused.kind == RefusalKind.NOT_ALLOWED
    assert "ask for 7" in refused.text
    assert isinstance(summary, SummaryView)
    assert summary.open_now == 1
    assert isinstance(missing, Refusal)
    assert missing.kind == RefusalKind.REFUSED


def test_one_person_s_commands_run_one_at_a_time_in_order(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    core = runner(sessions, clock)
    alice, bob = Person("test", "1"), Person("test", "2")
    inside: list[str] = []
    overlap = threading.Event()
    release = threading.Event()

    def slow(name: str) -> Callable[[Context], str]:
        def work(ctx: Context) -> str:
            inside.append(name)
            if name == "bob":
                overlap.set()  # bob ran while alice's first command was still inside
            else:
                release.wait(5)
            return name

        return work

    async def main() -> list[str]:
        first = asyncio.ensure_future(core.run(alice, slow("a1"), changing=False, started=0))
        second = asyncio.ensure_future(core.run(alice, slow("a2"), changing=False, started=0))
        other = asyncio.ensure_future(core.run(bob, slow("bob"), changing=False, started=0))
        await asyncio.to_thread(overlap.wait, 5)
        assert inside[:1] == ["a1"]
        assert "a2" not in inside
        release.set()
        return [await first, await second, await other]

    assert asyncio.run(main()) == ["a1", "a2", "bob"]
    assert inside.index("a1") < inside.index("a2")


def test_people_are_named_by_platform_and_id() -> None:
    person = Person("telegram", "42", "alice")
    assert (person.key, person.actor_name) == ("telegram:42", "telegram:42 (alice)")
    assert len(Person("telegram", "1", "x" * 500).actor_name) == 120


def test_only_a_database_that_does_not_answer_is_called_unreachable() -> None:
    bad_data = sqlalchemy.exc.DataError("INSERT", {}, Exception("NUL in text"))
    refusal = refusal_of(bad_data, changing=True, front_end="x")
    assert refusal.kind == RefusalKind.UNEXPECTED
    gone = sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("connection closed"))
    assert refusal_of(gone, changing=True, front_end="x").kind == RefusalKind.UNAVAILABLE


@pytest.mark.parametrize(
    ("cause", "unreachable"),
    [
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.TooManyConnections("too many clients"), True),
        (psycopg.errors.QueryCanceled("statement timeout"), True),
        (psycopg.errors.ReadOnlySqlTransaction("read-only transaction"), True),
        (psycopg.OperationalError("connection refused"), True),
        (psycopg.errors.DeadlockDetected("deadlock detected"), False),
        (psycopg.errors.SerializationFailure("could not serialize"), False),
    ],
)
def test_postgresql_errors_are_an_outage_only_when_the_server_cannot_serve(
    cause: Exception, unreachable: bool
) -> None:
    error = sqlalchemy.exc.OperationalError("UPDATE", {}, cause)
    assert did_not_answer(error) is unreachable
