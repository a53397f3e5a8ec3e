"""SLACK_RESPONDERS: who may change things, user groups read from Slack, who grants access."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bot.slack.http import SlackHttp
from bot.slack.responders import ResponderCheckFailed, Responders
from tests.factories import FakeClock
from tests.fakes.limits import ManualClock
from tests.fakes.slack import FakeSlack
from tests.slack.helpers import (
    ALICE,
    BOB,
    CAROL,
    ONCALL,
    TOKEN,
    SlackWorld,
    start_world,
)


def test_a_viewer_may_not_change_and_is_told_who_can_grant_access(world: SlackWorld) -> None:
    _, url = world.command("open Posta lenta", user=BOB, name="bob")
    [answer] = world.answers(url)
    assert answer["response_type"] == "ephemeral"
    assert "Only responders can change incidents, components or channels" in answer["text"]
    assert f"add your Slack id {BOB}" in answer["text"]
    assert "SLACK_RESPONDERS" in answer["text"]
    context = json.dumps(answer["blocks"][-1])
    assert f"<@{ALICE}>" in context
    assert f"group `{ONCALL}`" in context
    assert world.incidents() == []


@pytest.mark.parametrize(
    "typed", ["list", "show INC-1", "summary", "help", "components", "list --all"]
)
def test_everyone_may_read(world: SlackWorld, typed: str) -> None:
    world.run("open Posta lenta")
    _, url = world.command(typed, user=BOB, name="bob")
    assert "Only responders" not in world.answer_text(url)


def test_a_member_of_a_responders_group_may_change_and_is_audited(world: SlackWorld) -> None:
    _, url = world.command("open Posta lenta", user=CAROL, name="carol")
    assert "Opened INC-1" in world.answer_text(url)
    _, url = world.command("note INC-1 guardo io", user=CAROL, name="carol")
    assert "Noted on INC-1" in world.answer_text(url)
    assert len(world.slack.calls("usergroups.users.list")) == 1  # cached between commands
    [incident] = world.incidents()
    assert incident.opened_by == "slack:U0CAROL (carol)"
    assert {(e.actor, e.front_end) for e in world.audit()} == {("slack:U0CAROL (carol)", "slack")}


def test_reading_needs_no_group_lookup(world: SlackWorld) -> None:
    _, url = world.command("list", user=BOB, name="bob")
    world.answers(url)
    assert world.slack.calls("usergroups.users.list") == []


def test_with_no_responders_configured_nobody_may_change(
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack
) -> None:
    with start_world(engine, clock, slack, slack_responders=[]) as world:
        _, url = world.command("open Posta lenta")
        assert "no one may yet" in world.answer_text(url)


def test_a_group_slack_cannot_read_refuses_the_change_with_a_reason(world: SlackWorld) -> None:
    world.slack.set_outage(True)
    _, url = world.command("open Posta lenta", user=CAROL, name="carol")
    # The group is looked up after the ack; the outage lasts until the answer (which goes
    # to the response_url, up during an outage) so the lookup cannot miss it.
    answer = world.answer_text(url)
    world.slack.set_outage(False)
    assert "Could not check whether you are in the responders' group" in answer
    assert world.incidents() == []


@pytest.fixture
def group_api() -> Iterator[tuple[FakeSlack, ManualClock]]:
    ticking = ManualClock()
    with FakeSlack(token=TOKEN, clock=ticking) as fake:
        fake.set_usergroup(ONCALL, [CAROL])
        yield fake, ticking


def test_group_members_are_cached_and_kept_through_a_slack_outage(
    group_api: tuple[FakeSlack, ManualClock],
) -> None:
    fake, ticking = group_api

    async def main() -> None:
        http = SlackHttp(TOKEN, fake.api_url)
        responders = Responders([ALICE, ONCALL], http, clock=ticking, ttl=300)
        assert await responders.includes(ALICE)
        assert await responders.includes(CAROL)
        assert not await responders.includes(BOB)
        assert len(fake.calls("usergroups.users.list")) == 1
        fake.set_usergroup(ONCALL, [CAROL, BOB])
        ticking.advance(301)
        assert await responders.includes(BOB)  # refreshed after the TTL
        ticking.advance(301)
        fake.fail_next(5, status=429, retry_after=30)
        assert await responders.includes(BOB)  # Slack rate-limited: the last members decide
        fresh = Responders([ONCALL], http, clock=ticking)
        fake.set_outage(True)
        with pytest.raises(ResponderCheckFailed):
            await fresh.includes(CAROL)
        await http.close()

    asyncio.run(main())


def test_a_viewer_clicking_a_button_gets_a_refusal_not_a_form(world: SlackWorld) -> None:
    world.run("open Posta lenta")
    world.deliver()
    from tests.slack.test_modals import click

    url = click(world, "herald_update", 1, user=BOB)
    assert "Only responders can change incidents" in world.answer_text(url)
    assert world.views("views.open") == []
