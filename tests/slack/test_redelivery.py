"""Slack's redeliveries are claimed in the database: a retried request runs once, whichever
web process receives each copy."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from urllib.parse import unquote, urlencode

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from bot.slack import redelivery
from bot.slack.redelivery import SOURCE, SlackClaims, stored_key
from storage.engine import make_session_factory
from storage.models import HandledRequest
from storage.requests import claim_request
from tests.factories import FakeClock
from tests.fakes.slack import FakeSlack
from tests.slack.helpers import SlackWorld, start_world, wait_until
from tests.slack.test_modals import submit

RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
TWICE = "Slack delivered this request twice; Herald ran it once"
NOT_SAVED = "Could not save: the database did not answer. Nothing was published; try again."


def _claims(world: SlackWorld) -> list[tuple[str, str]]:
    with world.database.sessions() as session:
        rows = session.exec(select(HandledRequest).order_by(col(HandledRequest.key))).all()
        return [(row.source, row.key) for row in rows]


def _open(world: SlackWorld, title: str) -> tuple[bytes, str, str]:
    fields = world.command_body(f"open {title}")
    return urlencode(fields).encode(), fields["response_url"], fields["trigger_id"]


def _texts(world: SlackWorld, url: str, count: int) -> str:
    return " ".join(str(a.get("text", "")) for a in world.answers(unquote(url), count=count))


def test_a_redelivered_command_runs_once_and_its_claim_is_in_the_database(
    world: SlackWorld,
) -> None:
    body, url, trigger = _open(world, "Posta lenta")
    assert world.post(body).status_code == 200
    assert world.post(body, headers=RETRY).status_code == 200
    texts = _texts(world, url, 2)
    assert texts.count("Opened INC-1") == 1
    assert TWICE in texts
    assert len(world.incidents()) == 1
    assert _claims(world) == [(SOURCE, trigger)]


def test_two_front_ends_on_one_database_run_a_retried_command_once(
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack
) -> None:
    with start_world(engine, clock, slack) as first, start_world(engine, clock, slack) as second:
        body, url, _ = _open(first, "Posta lenta")
        # Both web processes receive a copy at the same moment (a load balancer and a retry).
        statuses: list[int] = []
        start = threading.Barrier(2)

        def send(world: SlackWorld, headers: dict[str, str]) -> None:
            start.wait()
            statuses.append(world.post(body, headers=headers).status_code)

        threads = [
            threading.Thread(target=send, args=(first, {})),
            threading.Thread(target=send, args=(second, RETRY)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200, 200]
        texts = _texts(first, url, 2)
        assert texts.count("Opened INC-1") == 1
        assert TWICE in texts
        assert len(first.incidents()) == 1
        # A later copy to either process is recognised too.
        assert second.post(body, headers={**RETRY, "X-Slack-Retry-Num": "2"}).status_code == 200
        assert first.post(body, headers={**RETRY, "X-Slack-Retry-Num": "3"}).status_code == 200
        assert _texts(first, url, 4).count(TWICE) == 3
        assert len(first.incidents()) == 1


def test_two_front_ends_run_a_submission_delivered_to_each_once(
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack
) -> None:
    with start_world(engine, clock, slack) as first, start_world(engine, clock, slack) as second:
        first.command("")
        view = first.opened_view()
        assert submit(first, view, view_id="V0SAME", title="Posta lenta").status_code == 200
        assert submit(second, view, view_id="V0SAME", title="Posta lenta").status_code == 200
        assert wait_until(lambda: len(first.incidents()) == 1)
        # The second copy is quiet, as before: let anything it started finish, then count.
        _, url = second.command("list")
        second.answers(url)
        assert len(first.incidents()) == 1


def test_a_claim_the_database_does_not_answer_is_refused_and_a_retry_later_runs(
    world: SlackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = [sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection"))]

    def claim(**kwargs: Any) -> bool:
        if failures:
            raise failures.pop()
        return claim_request(**kwargs)

    monkeypatch.setattr(redelivery, "claim_request", claim)
    body, url, _ = _open(world, "Posta lenta")
    assert world.post(body).status_code == 200
    [answer] = world.answers(unquote(url))
    assert answer["text"] == NOT_SAVED
    assert world.incidents() == []
    _, listing = world.command("list")  # the database answers again
    assert "No incidents open" in world.answer_text(listing)
    assert world.post(body, headers=RETRY).status_code == 200
    assert "Opened INC-1" in _texts(world, url, 2)
    assert len(world.incidents()) == 1


def test_old_slack_claims_are_forgotten_and_telegrams_kept(world: SlackWorld) -> None:
    moment = [0.0]
    claims = SlackClaims(world.database.sessions, clock=world.clock, monotonic=lambda: moment[0])
    start = world.clock()
    with world.database.sessions() as session, session.begin():
        claim_request(session=session, source="telegram", key="7", now=start)

    async def first_time(key: str) -> bool:
        return await claims.first_time(key)

    assert asyncio.run(first_time("T1"))
    assert not asyncio.run(first_time("T1"))
    world.clock.advance(hours=2)
    moment[0] = 60.0  # forgotten at most every ten minutes: not yet
    assert asyncio.run(first_time("T2"))
    assert (SOURCE, "T1") in _claims(world)
    moment[0] = 11 * 60.0
    assert asyncio.run(first_time("T3"))
    assert sorted(_claims(world)) == [(SOURCE, "T2"), (SOURCE, "T3"), ("telegram", "7")]


def test_a_request_without_a_key_runs_and_a_long_key_fits(world: SlackWorld) -> None:
    claims = SlackClaims(world.database.sessions, clock=world.clock)
    long_key = "view:" + "V" * 300

    async def main() -> list[bool]:
        return [
            await claims.first_time(None),
            await claims.first_time(None),
            await claims.first_time(long_key),
            await claims.first_time(long_key),
        ]

    assert asyncio.run(main()) == [True, True, True, False]
    assert _claims(world) == [(SOURCE, stored_key(long_key))]
    assert len(stored_key(long_key)) <= 120


def test_claims_are_made_off_the_event_loop(world: SlackWorld) -> None:
    blocked = threading.Event()
    release = threading.Event()
    sessions = make_session_factory(world.database.engine)

    def hold(*args: Any) -> None:
        blocked.set()
        release.wait(5)

    sa.event.listen(sessions, "before_commit", hold)
    claims = SlackClaims(sessions, clock=world.clock)

    async def main() -> bool:
        claim = asyncio.ensure_future(claims.first_time("T1"))
        await asyncio.to_thread(blocked.wait, 5)
        ticks = 0
        for _ in range(3):  # the loop still runs while the claim waits on the database
            await asyncio.sleep(0)
            ticks += 1
        release.set()
        return ticks == 3 and await claim

    assert asyncio.run(main())
    assert wait_until(lambda: _claims(world) == [(SOURCE, "T1")], 5.0)
