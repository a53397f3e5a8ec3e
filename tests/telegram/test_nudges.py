"""A quiet incident's nudge in the Telegram incident chat: a reply to the incident's root with an
Update button that starts the Update prompt; customer channels get nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from commands.nudges import nudge_quiet_incidents
from tests.factories import FakeClock, make_context, run
from tests.fakes.telegram import FakeTelegram, Message
from tests.telegram.helpers import (
    CUSTOMERS,
    INCIDENT_CHAT,
    TelegramWorld,
    assert_well_formed,
    button_labels,
    start_world,
)

TITLE = "Posta <!channel> <b>giù</b>"


@pytest.fixture
def chat(engine: sa.Engine, clock: FakeClock, telegram: FakeTelegram) -> Iterator[TelegramWorld]:
    """An incident chat and a customer channel; the front-end and the worker on `clock`."""
    with start_world(
        engine, telegram, clock, frozen=True, telegram_incident_chat=str(INCIDENT_CHAT)
    ) as world:
        world.run(f"channels add telegram {CUSTOMERS}")
        yield world


def quiet_and_nudged(world: TelegramWorld) -> tuple[Message, Message]:
    """An SEV2 incident opened 31 minutes ago and nudged now; its root and the nudge."""
    opened_at = FakeClock(world.clock.current - timedelta(minutes=31))
    run(make_context(world.database.sessions, opened_at), f'open "{TITLE}" --sev 2')
    world.deliver()
    now = make_context(world.database.sessions, world.clock)
    assert nudge_quiet_incidents(now, {2: 30}) == [1]
    world.deliver()
    [root] = [m for m in world.fake.messages(INCIDENT_CHAT) if m.reply_to is None]
    [nudge] = world.fake.replies_to(INCIDENT_CHAT, root.message_id)
    return root, nudge


def test_the_nudge_replies_to_the_root_with_an_update_button(chat: TelegramWorld) -> None:
    root, nudge = quiet_and_nudged(chat)
    assert nudge.plain.splitlines()[:2] == [
        f"⏰ Nudge · INC-1 · {TITLE}",
        "Customers last heard from us 31 minutes ago — /incident update INC-1 …",
    ]
    assert "Internal note" not in nudge.plain
    code = [e for e in nudge.entities if e["type"] == "code"]
    assert [nudge.plain[e["offset"] : e["offset"] + e["length"]] for e in code] == [
        "/incident update INC-1 …"
    ]
    assert {e["type"] for e in nudge.entities} == {"bold", "code", "italic"}  # the title is text
    assert button_labels(nudge) == ["Update"]
    assert nudge.inline_keyboard == [[{"text": "Update", "callback_data": "h1:u:1"}]]
    assert button_labels(root) == ["Update", "Resolve", "Show"]
    assert_well_formed([root, nudge])


def test_customers_get_no_nudge(chat: TelegramWorld) -> None:
    quiet_and_nudged(chat)
    [opening] = chat.fake.messages(CUSTOMERS)
    assert "Customers last heard" not in opening.plain
    assert opening.inline_keyboard == []


def test_the_nudges_update_button_asks_for_the_update(chat: TelegramWorld) -> None:
    _, nudge = quiet_and_nudged(chat)
    query = chat.press(INCIDENT_CHAT, nudge, "Update")
    chat.settle()
    assert chat.answer_to(query).text in (None, "")
    [prompt] = chat.fake.replies_to(INCIDENT_CHAT, nudge.message_id)
    assert prompt.plain.startswith(f"Update for INC-1 «{TITLE}» — Alice, reply to this")
    assert prompt.reply_markup["force_reply"] is True

    done = chat.command(INCIDENT_CHAT, "Nodo mx2 escluso", reply_to=prompt.message_id)
    assert done.plain.startswith("Posted update #3 on INC-1")
    update = chat.timeline(1)[-1]
    assert (update.text, update.public) == ("Nodo mx2 escluso", True)
    chat.deliver()
    assert len(chat.fake.messages(CUSTOMERS)) == 2  # the opening and this update
