"""A modal left open past its response_url's life still gets its answer, as an ephemeral."""

from __future__ import annotations

import sqlalchemy as sa

from tests.factories import FakeClock
from tests.fakes.limits import ManualClock
from tests.fakes.slack import FakeSlack
from tests.slack.helpers import (
    ALICE,
    CAROL,
    CUSTOMERS,
    INCIDENTS,
    ONCALL,
    TOKEN,
    WAR_ROOM,
    start_world,
    wait_until,
)
from tests.slack.test_modals import click, submit


def test_a_refusal_after_the_response_url_expired_is_still_told(
    engine: sa.Engine, clock: FakeClock
) -> None:
    slack_clock = ManualClock()
    with FakeSlack(
        token=TOKEN, clock=slack_clock, per_channel_per_second=None, workspace_per_second=None
    ) as slack:
        for channel in (INCIDENTS, CUSTOMERS, WAR_ROOM):
            slack.add_channel(channel)
        slack.add_user(ALICE, "alice")
        slack.set_usergroup(ONCALL, [CAROL])
        with start_world(engine, clock, slack) as world:
            world.run("components add posta Posta")
            _, url = world.command('open "Mail giu" --sev 3 --components posta --message Primo')
            world.answers(url)
            world.deliver()
            click(world, "herald_update", 1)
            view = world.opened_view()
            world.run("resolve INC-1 risolto")  # someone else resolves it meanwhile
            slack_clock.advance(31 * 60)  # the modal stayed open past 30 minutes
            assert submit(world, view, text="Nodo escluso").status_code == 200
            assert wait_until(lambda: bool(slack.ephemeral), 5.0)
    assert "INC-1 is resolved" in str(slack.ephemeral[-1])
