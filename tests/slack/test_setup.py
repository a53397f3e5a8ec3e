"""Building the Slack front-end: when it is on, Socket Mode, and no network before a request."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from bot.database import Database
from bot.settings import Settings
from bot.slack.setup import build_slack, slack_configured
from storage.engine import make_session_factory
from tests.fakes.slack import FakeSlack
from tests.slack.helpers import TOKEN, slack_settings, wait_until


def test_slack_is_on_with_a_token_and_a_way_to_hear_from_slack() -> None:
    def configured(**values: str) -> bool:
        return slack_configured(Settings(_env_file=None, **values))  # type: ignore[arg-type]

    assert not configured()
    assert not configured(slack_bot_token=TOKEN)
    assert configured(slack_bot_token=TOKEN, slack_signing_secret="s")
    assert configured(slack_bot_token=TOKEN, slack_app_token="xapp-1")


def test_building_the_app_calls_no_slack_api(engine: sa.Engine, slack: FakeSlack) -> None:
    build_slack(slack_settings(slack), Database(engine, make_session_factory(engine)))
    assert slack.requests == []


def test_socket_mode_asks_slack_for_a_connection_and_stops_when_told(
    engine: sa.Engine, slack: FakeSlack
) -> None:
    front = build_slack(
        slack_settings(slack, slack_app_token="xapp-test"),
        Database(engine, make_session_factory(engine)),
    )

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(front.run_socket_mode("xapp-test", stop))
        # The fake has no apps.connections.open: the attempt is refused, logged and retried.
        await asyncio.to_thread(wait_until, lambda: bool(slack.calls("apps.connections.open")))
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        await front.close()

    asyncio.run(main())
    assert slack.calls("apps.connections.open")
