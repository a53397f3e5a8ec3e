"""POST /slack/events: signatures, the 3-second deadline, duplicates, mentions, a dead database."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

from bot.database import Database
from bot.slack.caller import plain_text
from storage.engine import make_engine, make_session_factory
from storage.models import Incident
from tests.factories import FakeClock
from tests.fakes.slack import FakeSlack
from tests.slack.helpers import (
    CUSTOMERS,
    INCIDENTS,
    SlackWorld,
    add_customer_channel,
    start_world,
    wait_until,
)

NOT_SAVED = "Could not save: the database did not answer. Nothing was published; try again."
# How long a test waits for what must come: a safety net, not a timing margin.
SAFETY = 30.0
# A deadline no test reaches, so "Still working on it" never comes before an answer.
HOUR = 3600.0


@pytest.fixture
def world(engine: sa.Engine, clock: FakeClock, slack: FakeSlack) -> Iterator[SlackWorld]:
    """The Slack world with an hour-long deadline: a slow machine never puts "Still working"
    before an answer; the deadline's own tests set a deadline of their own."""
    with start_world(engine, clock, slack, deadline=HOUR) as world:
        yield world


class HeldSave:
    """Sessions whose save of a new incident waits until `release` is set; the other
    writes (Slack's claims of each request) pass."""

    def __init__(self, engine: sa.Engine) -> None:
        self.sessions = make_session_factory(engine)
        self.waiting = threading.Event()
        self.release = threading.Event()
        self.passed = threading.Event()
        event.listen(self.sessions, "before_flush", self._hold)

    def _hold(self, session: Session, flush_context: object, instances: object) -> None:
        if any(isinstance(row, Incident) for row in session.new):
            self.waiting.set()
            self.release.wait(SAFETY)  # the net only keeps a failing test from hanging
            self.passed.set()


# --- signatures -----------------------------------------------------------------------------


def _open_body(world: SlackWorld, title: str = "Posta lenta") -> bytes:
    return urlencode(world.command_body(f"open {title}")).encode()


def test_a_bad_signature_is_refused_and_nothing_runs(world: SlackWorld) -> None:
    response = world.post(_open_body(world), secret="not-the-secret")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid request"}
    _, url = world.command("list")  # answered after anything the forged one could have started
    assert "No incidents open" in world.answer_text(url)
    assert world.incidents() == []
    assert len(world.slack.calls("response_url")) == 1


def test_a_stale_timestamp_is_refused(world: SlackWorld) -> None:
    stale = int(time.time()) - 301
    assert world.post(_open_body(world), timestamp=stale).status_code == 401
    fresh = int(time.time()) - 200
    assert world.post(_open_body(world), timestamp=fresh).status_code == 200


def test_a_body_changed_after_signing_is_refused(world: SlackWorld) -> None:
    body = _open_body(world)
    stamp = int(time.time())
    from tests.slack.helpers import sign

    response = world.http.post(
        "/slack/events",
        content=body.replace(b"Posta", b"Email"),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": sign(body, stamp),
        },
    )
    assert response.status_code == 401


def test_unsigned_requests_are_refused(world: SlackWorld) -> None:
    response = world.http.post(
        "/slack/events",
        content=_open_body(world),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 401


def test_ssl_check_is_answered(world: SlackWorld) -> None:
    response = world.http.post(
        "/slack/events",
        content=b"ssl_check=1&token=deprecated",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200


# --- the deadline ---------------------------------------------------------------------------


def test_the_command_is_acknowledged_at_once_and_answered_after(
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack
) -> None:
    held = HeldSave(engine)
    with _world_with(engine, clock, slack, Database(engine, held.sessions), deadline=HOUR) as world:
        try:
            response, url = world.command("open Posta lenta --sev 2")
            # Acknowledged while the command cannot have finished: its save is held.
            assert not held.passed.is_set()
            assert response.status_code == 200
            # The ack carries nothing: the answer follows by response_url.
            assert response.text == ""
            assert held.waiting.wait(SAFETY), "the command never came to save the incident"
            assert world.slack.calls("response_url") == []  # the answer waits for the outcome
        finally:
            held.release.set()
        # Answered as soon as it is saved: not when an hour-long deadline passes.
        [answer] = world.answers(url, timeout=SAFETY)
        assert "Opened INC-1" in json.dumps(answer, ensure_ascii=False)


def test_a_changing_command_is_answered_privately_and_announced_in_the_incident_channel(
    world: SlackWorld,
) -> None:
    _, url = world.command("open Posta lenta --sev 2")
    [answer] = world.answers(url)
    assert answer["response_type"] == "ephemeral"
    assert f"<#{INCIDENTS}>" in json.dumps(answer)
    world.deliver()
    [root] = world.slack.messages(INCIDENTS)
    assert root.blocks is not None
    assert root.blocks[0]["text"]["text"] == "INC-1 · Posta lenta"


def test_without_an_incident_channel_changes_are_announced_where_typed(
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack
) -> None:
    with start_world(engine, clock, slack, slack_incident_channel=None) as world:
        _, url = world.command("open Posta lenta")
        assert world.answers(url)[0]["response_type"] == "in_channel"
        _, url = world.command("list")
        assert world.answers(url)[0]["response_type"] == "ephemeral"


# --- duplicates -----------------------------------------------------------------------------


def test_a_slack_retry_runs_once_and_the_user_is_told(world: SlackWorld) -> None:
    body = _open_body(world, "Posta lenta")
    url = dict(pair.split("=", 1) for pair in body.decode().split("&"))["response_url"]
    assert world.post(body).status_code == 200
    retry = world.post(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "timeout"})
    assert retry.status_code == 200
    from urllib.parse import unquote

    answers = " ".join(a.get("text", "") for a in world.answers(unquote(url), count=2))
    assert "Opened INC-1" in answers
    assert "Slack delivered this request twice; Herald ran it once" in answers
    assert len(world.incidents()) == 1


def test_the_same_open_twice_within_a_minute_opens_one_incident(world: SlackWorld) -> None:
    _, first = world.command('open "Posta lenta" --sev 2')
    _, second = world.command('open "Posta lenta" --sev 2')  # before the first is saved, likely
    texts = [world.answer_text(first), world.answer_text(second)]
    assert len(world.incidents()) == 1
    assert sum("Opened INC-1" in t for t in texts) == 1
    assert (
        sum(
            "was opened moments ago with the same title; nothing new was posted" in t for t in texts
        )
        == 1
    )


def test_the_same_title_after_a_minute_is_a_new_incident(world: SlackWorld) -> None:
    _, url = world.command("open Posta lenta")
    world.answers(url)
    world.clock.advance(seconds=61)
    _, url = world.command("open Posta lenta")
    assert "Opened INC-2" in world.answer_text(url)


# --- mentions -------------------------------------------------------------------------------


def rendered(text: str, blocks: Any) -> str:
    """Everything Slack parses as mrkdwn in a message (plain_text shows mentions as typed)."""
    parts = [text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                parts.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(parts)


@pytest.mark.parametrize(
    "typed",
    [
        # as Slack sends what was typed: entities for & < >, <…> for mentions it resolved
        "open Guasto &lt;!channel&gt; &amp; co --message Avvisate &lt;!here&gt; e &lt;@U0BOB&gt;",
        "open Guasto <!channel> & co --message Avvisate <!here> e <@U0BOB|bob> <!subteam^S0ONCALL>",
    ],
)
def test_mentions_in_titles_and_texts_ping_nobody_anywhere(world: SlackWorld, typed: str) -> None:
    add_customer_channel(world)
    _, url = world.command(typed)
    [answer] = world.answers(url)
    world.deliver()
    outputs = [rendered(answer.get("text", ""), answer.get("blocks"))]
    for channel in (INCIDENTS, CUSTOMERS):
        for message in world.slack.messages(channel):
            outputs.append(rendered(message.text, message.blocks))
    assert len(outputs) == 3
    for shown in outputs:
        for ping in ("<!channel>", "<!here>", "<@U0BOB", "<!subteam", "<!everyone>"):
            assert ping not in shown
    joined = " ".join(outputs)
    assert "&amp; co" in joined
    [incident] = world.incidents()
    assert "&" in incident.title


def test_slack_control_sequences_become_what_the_person_typed() -> None:
    assert plain_text("<@U123|alice> e <#C1|ops> &amp; <https://x.it|x.it>") == (
        "@alice e #ops & https://x.it"
    )
    assert plain_text("<!here> <!subteam^S1|@oncall> &lt;b&gt;") == "@here @oncall <b>"


# --- the database is down -------------------------------------------------------------------


def _world_with(
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack, broken: Database, deadline: float = HOUR
) -> AbstractContextManager[SlackWorld]:
    return start_world(engine, clock, slack, slack_database=broken, deadline=deadline)


def test_an_unreachable_database_is_reported_within_the_deadline(
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack, tmp_path: object
) -> None:
    gone = make_engine("sqlite:////nonexistent/herald/herald.db")
    # The deadline is an hour away: a refusal that waited for it would never come.
    with _world_with(engine, clock, slack, Database(gone, make_session_factory(gone))) as world:
        response, url = world.command("open Posta lenta --sev 2")
        assert response.status_code == 200
        [answer] = world.answers(url, timeout=SAFETY)
        assert answer["text"] == NOT_SAVED
        assert answer["response_type"] == "ephemeral"
        _, listed = world.command("list")
        assert "Could not read the incidents" in world.answer_text(listed)
        assert len(world.answers(url)) == 1  # told once, with nothing ("Still working") before
    assert world.incidents() == []
    gone.dispose()


def test_a_failure_at_commit_leaves_no_partial_incident(
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack
) -> None:
    failing = make_session_factory(engine)

    def refuse(session: Session) -> None:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    event.listen(failing, "before_commit", refuse)
    with _world_with(engine, clock, slack, Database(engine, failing)) as world:
        add_customer_channel(world)
        _, url = world.command("open Posta lenta --sev 2 --components posta")
        assert world.answer_text(url).count(NOT_SAVED) >= 1
        world.deliver()
    assert world.incidents() == []
    with world.database.sessions() as session:
        for table in ("incident_update", "delivery", "incident_component"):
            count = session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: S608
            assert count == 0, table
    assert [e.action for e in world.audit()] == ["component_add", "channel_add"]
    assert world.slack.messages(CUSTOMERS) == []
    assert world.slack.messages(INCIDENTS) == []


def test_the_person_hears_within_the_deadline_even_when_saving_is_slow(
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack
) -> None:
    held = HeldSave(engine)  # a database that answers, once the test lets it
    with _world_with(engine, clock, slack, Database(engine, held.sessions), deadline=0.2) as world:
        try:
            _, url = world.command("open Posta lenta")
            [first] = world.answers(url, timeout=SAFETY)
            assert "Still working on it" in first["text"]
            assert not held.passed.is_set()  # heard while the incident is still being saved
        finally:
            held.release.set()
        answers = world.answers(url, count=2, timeout=SAFETY)
        assert len(answers) == 2
        assert "Opened INC-1" in json.dumps(answers[1], ensure_ascii=False)
    assert wait_until(lambda: len(world.incidents()) == 1, SAFETY)
