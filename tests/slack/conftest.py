"""A Slack world per test: the web app with Slack mounted, the fake Web API, the database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.factories import FakeClock
from tests.fakes.slack import FakeSlack
from tests.slack.helpers import (
    ALICE,
    BOB,
    CAROL,
    CUSTOMERS,
    INCIDENTS,
    ONCALL,
    TOKEN,
    WAR_ROOM,
    SlackWorld,
    start_world,
)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """The fake Slack Web API; its own rate limits off (Herald's are tested elsewhere)."""
    with FakeSlack(token=TOKEN, per_channel_per_second=None, workspace_per_second=None) as fake:
        for channel in (INCIDENTS, CUSTOMERS, WAR_ROOM):
            fake.add_channel(channel)
        for user, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol")):
            fake.add_user(user, name)
        fake.set_usergroup(ONCALL, [CAROL])
        yield fake


@pytest.fixture
def world(engine: sa.Engine, clock: FakeClock, slack: FakeSlack) -> Iterator[SlackWorld]:
    """The app served in-process by starlette's TestClient (its loop keeps running between
    requests, so work after the ack goes on as it would under uvicorn)."""
    with start_world(engine, clock, slack) as world:
        yield world
