"""POST /slack/events: signatures, the 3-second deadline, duplicates, mentions, a dead database."""

from __future__ import annotations

import json
import time
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


def test_the_command_is_acknowledged_at_once_and_answered_after(world: SlackWorld) -> None:
    started = time.monotonic()
    response, url = world.command("open Posta lenta --sev 2")
    acked = time.monotonic() - started
    assert response.status_code == 200
    assert response.text == ""  # the ack carries nothing: the answer follows by response_url
    assert acked < 1.0
    assert "Opened INC-1" in world.answer_text(url)
    assert time.monotonic() - started < 3.0


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
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack, broken: Database, deadline: float = 2.5
) -> AbstractContextManager[SlackWorld]:
    return start_world(engine, clock, slack, slack_database=broken, deadline=deadline)


def test_an_unreachable_database_is_reported_within_the_deadline(
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack, tmp_path: object
) -> None:
    gone = make_engine("sqlite:////nonexistent/herald/herald.db")
    with _world_with(engine, clock, slack, Database(gone, make_session_factory(gone))) as world:
        started = time.monotonic()
        response, url = world.command("open Posta lenta --sev 2")
        assert response.status_code == 200
        [answer] = world.answers(url, timeout=3.0)
        assert time.monotonic() - started < 3.0
        assert answer["text"] == NOT_SAVED
        assert answer["response_type"] == "ephemeral"
        _, url = world.command("list")
        assert "Could not read the incidents" in world.answer_text(url)
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
    slow = make_session_factory(engine)

    def dawdle(session: Session) -> None:
        time.sleep(0.6)  # a database that answers, slowly (past a deadline shortened to 0.2 s)

    event.listen(slow, "before_commit", dawdle)
    with _world_with(engine, clock, slack, Database(engine, slow), deadline=0.2) as world:
        _, url = world.command("open Posta lenta")
        first = world.answers(url)[0]
        assert "Still working on it" in first["text"]
        assert "Opened INC-1" in world.answer_text(url, count=2)
    assert wait_until(lambda: len(world.incidents()) == 1)
