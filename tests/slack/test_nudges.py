"""A quiet incident's nudge in the Slack incident channel: in the incident's thread and shown in
the channel, with an Update button that opens the update modal; customers get nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from commands.nudges import nudge_quiet_incidents
from tests.fakes.slack import SlackMessage
from tests.slack.helpers import ALICE, CUSTOMERS, INCIDENTS, SlackWorld, add_customer_channel

TITLE = "Posta <!channel> <b>giù</b>"


def _quiet_and_nudged(world: SlackWorld) -> tuple[SlackMessage, SlackMessage]:
    """An SEV2 incident, nudged 31 minutes after its opening; its root and the nudge."""
    add_customer_channel(world)
    # From the CLI: the slash command reads `<…>` as Slack's own markup, so it would never
    # store this title literally.
    world.run(f'open "{TITLE}" --sev 2 --components posta --message Verifichiamo')
    world.deliver()
    [incident] = world.incidents()
    world.clock.current = incident.opened_at + timedelta(minutes=31)
    assert nudge_quiet_incidents(world.context(), {2: 30}) == [1]
    world.deliver()
    root, nudge = world.slack.messages(INCIDENTS)
    return root, nudge


def _click(world: SlackWorld, message: SlackMessage, button: dict[str, Any]) -> None:
    """Click a button under a thread reply, as Slack sends it."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0HERALD", "domain": "herald"},
        "user": {"id": ALICE, "username": "alice", "name": "alice", "team_id": "T0HERALD"},
        "api_app_id": "A0HERALD",
        "token": "deprecated",
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "thread_ts": message.thread_ts,
            "channel_id": INCIDENTS,
        },
        "trigger_id": world.slack.trigger_id(),
        "channel": {"id": INCIDENTS, "name": "incidents"},
        "message": message.as_json(),
        "response_url": world.slack.response_url(),
        "actions": [{**button, "block_id": "incident-1", "action_ts": "1738074060.000100"}],
    }
    assert world.interact(payload).status_code == 200


def test_the_nudge_goes_in_the_thread_and_the_channel_with_an_update_button(
    world: SlackWorld,
) -> None:
    customers_before = len(world.slack.messages(CUSTOMERS))
    root, nudge = _quiet_and_nudged(world)
    assert nudge.thread_ts == root.ts
    [posted] = [
        c.params
        for c in world.slack.calls("chat.postMessage")
        if c.params.get("thread_ts") == root.ts
    ]
    assert posted.get("reply_broadcast") is True
    assert nudge.blocks is not None
    shown = json.dumps(nudge.blocks, ensure_ascii=False)
    assert "Customers last heard from us 31 minutes ago — `/incident update INC-1 …`" in shown
    assert "Internal note" not in shown
    assert "&lt;!channel&gt; &lt;b&gt;giù&lt;/b&gt;" in shown
    assert "<!channel>" not in shown + nudge.text
    [button] = nudge.blocks[-1]["elements"]
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        "herald_update",
        "1",
        "Update",
    )
    assert len(world.slack.messages(CUSTOMERS)) == customers_before + 1  # the opening only


def test_the_nudges_update_button_opens_the_update_modal(world: SlackWorld) -> None:
    _, nudge = _quiet_and_nudged(world)
    assert nudge.blocks is not None
    [button] = nudge.blocks[-1]["elements"]
    _click(world, nudge, button)
    view = world.opened_view()
    assert view["callback_id"] == "herald_update"
    assert view["title"]["text"] == "Update INC-1"


def test_one_nudge_per_quiet_period(world: SlackWorld) -> None:
    _quiet_and_nudged(world)
    world.clock.advance(minutes=20)
    assert nudge_quiet_incidents(world.context(), {2: 30}) == []
    world.deliver()
    assert len(world.slack.messages(INCIDENTS)) == 2
