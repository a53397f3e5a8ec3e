"""A quiet incident's nudge also reaches the Telegram chat it was opened in (an ops group, a
responder's private chat) on its own, with its Update button; never twice in the incident chat,
never in a customer channel, and not at all for incidents opened at the CLI or in Slack."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from commands.context import Actor
from commands.nudges import nudge_quiet_incidents
from storage.models import Audience, Channel, Delivery, Platform, Update, UpdateKind
from tests.factories import FakeClock, make_context, run
from tests.fakes.telegram import FakeTelegram, Message
from tests.telegram.helpers import (
    ALICE,
    BOB,
    CUSTOMERS,
    INCIDENT_CHAT,
    OPS,
    TelegramWorld,
    assert_well_formed,
    now_clock,
    start_world,
)

TITLE = "Posta <!channel> <b>giù</b> & co"
QUIET = {1: 15, 2: 30, 3: 60}
NUDGE_LEAD = "⏰ Nudge"


@pytest.fixture
def clock() -> FakeClock:
    """31 minutes ago: incidents are opened then, and the clock is moved on to the present."""
    return FakeClock(now_clock().current - timedelta(minutes=31))


@pytest.fixture
def ops_only(
    engine: sa.Engine, clock: FakeClock, telegram: FakeTelegram
) -> Iterator[TelegramWorld]:
    """The ops group and a customer channel, no incident chat; front-end and worker on `clock`."""
    with start_world(engine, telegram, clock, frozen=True) as world:
        world.run(f"channels add telegram {CUSTOMERS}")
        yield world


@pytest.fixture
def with_incident_chat(
    engine: sa.Engine, clock: FakeClock, telegram: FakeTelegram
) -> Iterator[TelegramWorld]:
    """The ops group, the incident chat and a customer channel, on `clock`."""
    with start_world(
        engine, telegram, clock, frozen=True, telegram_incident_chat=str(INCIDENT_CHAT)
    ) as world:
        world.run(f"channels add telegram {CUSTOMERS}")
        yield world


def open_in(world: TelegramWorld, chat: int | str, title: str = TITLE) -> Message:
    """Alice opens an SEV2 incident by typing in `chat`, now; returns Herald's answer."""
    date = int(world.clock.current.timestamp())
    # The helpers type chats as ids; the fake takes a chat's @username too.
    asked = world.say(chat, f'/incident open "{title}" --sev 2', date=date)  # type: ignore[arg-type]
    world.settle()
    [reply] = world.fake.replies_to(chat, asked)
    assert reply.plain.startswith("Opened INC-"), reply.plain
    return reply


def quiet_then_nudge(world: TelegramWorld) -> None:
    """Deliver the openings, let 31 minutes pass, nudge, deliver the nudges."""
    world.deliver()
    world.clock.advance(minutes=31)
    nudged = nudge_quiet_incidents(make_context(world.database.sessions, world.clock), QUIET)
    assert nudged == [1]
    world.deliver()


def nudges(world: TelegramWorld, chat: int | str) -> list[Message]:
    """Herald's nudges in a chat, oldest first."""
    return [m for m in world.fake.messages(chat) if m.plain.startswith(NUDGE_LEAD)]


def ops_channels(world: TelegramWorld) -> list[tuple[str, str]]:
    """The responders' ops chats Herald keeps: (platform, address)."""
    return [(c.platform.value, c.address) for c in world.channels() if c.audience == Audience.OPS]


def assert_reads_alone(nudge: Message, incident_id: int = 1, title: str = TITLE) -> None:
    """A nudge that stands on its own: the incident named, its title as text, one button."""
    assert nudge.reply_to is None
    assert nudge.plain.splitlines()[:2] == [
        f"{NUDGE_LEAD} · INC-{incident_id} · {title}",
        f"Customers last heard from us 31 minutes ago — /incident update INC-{incident_id} …",
    ]
    assert {e["type"] for e in nudge.entities} == {"bold", "code", "italic"}  # the title is text
    assert nudge.inline_keyboard == [[{"text": "Update", "callback_data": f"h1:u:{incident_id}"}]]
    assert_well_formed([nudge])


def test_a_nudge_reaches_the_ops_group_the_incident_was_opened_in(ops_only: TelegramWorld) -> None:
    open_in(ops_only, OPS)
    assert [i.opened_in for i in ops_only.incidents()] == [f"telegram:{OPS}"]
    quiet_then_nudge(ops_only)

    [nudge] = nudges(ops_only, OPS)
    assert_reads_alone(nudge)
    assert nudges(ops_only, CUSTOMERS) == []
    [opening] = ops_only.fake.messages(CUSTOMERS)
    assert "Customers last heard" not in opening.plain
    assert opening.inline_keyboard == []
    assert ops_channels(ops_only) == [("telegram", str(OPS))]

    # One per quiet period: the next round nudges nothing and sends nothing.
    assert (
        nudge_quiet_incidents(make_context(ops_only.database.sessions, ops_only.clock), QUIET) == []
    )
    ops_only.deliver()
    assert len(nudges(ops_only, OPS)) == 1


def test_the_ops_groups_update_button_posts_an_update_customers_get(
    ops_only: TelegramWorld,
) -> None:
    open_in(ops_only, OPS)
    quiet_then_nudge(ops_only)
    [nudge] = nudges(ops_only, OPS)

    query = ops_only.press(OPS, nudge, "Update")
    ops_only.settle()
    assert ops_only.answer_to(query).text in (None, "")
    [prompt] = ops_only.fake.replies_to(OPS, nudge.message_id)
    assert prompt.plain.startswith(f"Update for INC-1 «{TITLE}» — Alice, reply to this")
    assert prompt.reply_markup["force_reply"] is True

    done = ops_only.command(OPS, "Nodo mx2 escluso", reply_to=prompt.message_id)
    assert done.plain.startswith("Posted update #3 on INC-1"), done.plain
    update = ops_only.timeline(1)[-1]
    assert (update.text, update.public) == ("Nodo mx2 escluso", True)
    ops_only.deliver()
    posts = ops_only.fake.messages(CUSTOMERS)
    assert len(posts) == 2
    assert "Nodo mx2 escluso" in posts[1].plain
    # The ops chat follows no incident: the public update is not posted there by the worker.
    assert len(nudges(ops_only, OPS)) == 1
    assert not any("Nodo mx2 escluso" in m.plain for m in ops_only.fake.messages(OPS))


def test_a_nudge_reaches_the_responders_private_chat(ops_only: TelegramWorld) -> None:
    open_in(ops_only, ALICE)
    quiet_then_nudge(ops_only)

    [nudge] = nudges(ops_only, ALICE)
    assert_reads_alone(nudge)
    assert nudges(ops_only, OPS) == []
    assert ops_channels(ops_only) == [("telegram", str(ALICE))]

    query = ops_only.press(ALICE, nudge, "Update")
    ops_only.settle()
    assert ops_only.answer_to(query).text in (None, "")
    [prompt] = ops_only.fake.replies_to(ALICE, nudge.message_id)
    done = ops_only.command(ALICE, "Ripristinato", reply_to=prompt.message_id)
    assert done.plain.startswith("Posted update #3 on INC-1"), done.plain


def test_opened_in_the_incident_chat_it_is_nudged_once_in_its_thread(
    with_incident_chat: TelegramWorld,
) -> None:
    world = with_incident_chat
    open_in(world, INCIDENT_CHAT)
    quiet_then_nudge(world)

    [root] = [m for m in world.fake.messages(INCIDENT_CHAT) if "Status page" in m.plain]
    [nudge] = nudges(world, INCIDENT_CHAT)
    assert nudge.reply_to == root.message_id
    assert ops_channels(world) == []


def test_opened_in_the_ops_group_with_an_incident_chat_both_get_it(
    with_incident_chat: TelegramWorld,
) -> None:
    world = with_incident_chat
    open_in(world, OPS)
    quiet_then_nudge(world)

    [in_thread] = nudges(world, INCIDENT_CHAT)
    assert in_thread.reply_to is not None
    [alone] = nudges(world, OPS)
    assert_reads_alone(alone)
    assert in_thread.plain == alone.plain
    assert nudges(world, CUSTOMERS) == []


def test_an_incident_chat_named_by_username_is_recognised(
    engine: sa.Engine, clock: FakeClock, telegram: FakeTelegram
) -> None:
    telegram.add_chat("@Acme_Incidents", "supergroup", "Incidents")
    with start_world(
        engine,
        telegram,
        clock,
        frozen=True,
        telegram_ops_chats=[],
        telegram_incident_chat="@Acme_Incidents",
    ) as world:
        open_in(world, "@Acme_Incidents")
        quiet_then_nudge(world)
        assert len(nudges(world, "@Acme_Incidents")) == 1
        assert ops_channels(world) == []


def test_the_incident_chat_listed_by_id_among_the_ops_chats_is_nudged_once(
    engine: sa.Engine, clock: FakeClock, telegram: FakeTelegram
) -> None:
    telegram.add_chat("@Acme_Ops", "supergroup", "Ops and incidents")
    numeric = telegram.numeric_id("@Acme_Ops")
    with start_world(
        engine,
        telegram,
        clock,
        frozen=True,
        telegram_ops_chats=[str(numeric)],
        telegram_incident_chat="@Acme_Ops",
    ) as world:
        open_in(world, "@Acme_Ops")
        quiet_then_nudge(world)
        assert len(nudges(world, "@Acme_Ops")) == 1
        assert ops_channels(world) == []


def test_an_ops_group_named_by_username_gets_its_nudge(
    engine: sa.Engine, clock: FakeClock, telegram: FakeTelegram
) -> None:
    telegram.add_chat("@acme_ops", "supergroup", "Ops by name")
    with start_world(
        engine, telegram, clock, frozen=True, telegram_ops_chats=["@Acme_Ops"]
    ) as world:
        open_in(world, "@acme_ops")
        quiet_then_nudge(world)
        [nudge] = nudges(world, "@acme_ops")
        assert_reads_alone(nudge)


@pytest.mark.parametrize(
    "actor", [Actor("ops", "cli"), Actor("slack:U0ALICE (alice)", "slack")], ids=["cli", "slack"]
)
def test_opened_at_the_cli_or_in_slack_no_telegram_chat_gets_it(
    with_incident_chat: TelegramWorld, actor: Actor
) -> None:
    world = with_incident_chat
    ctx = make_context(world.database.sessions, world.clock, actor=actor)
    run(ctx, f'open "{TITLE}" --sev 2')
    assert [i.opened_in for i in world.incidents()] == [None]
    quiet_then_nudge(world)
    assert len(nudges(world, INCIDENT_CHAT)) == 1
    assert nudges(world, OPS) == []
    assert nudges(world, CUSTOMERS) == []
    assert ops_channels(world) == []


def test_a_customer_channel_is_never_made_an_ops_chat(ops_only: TelegramWorld) -> None:
    # A responder's private chat that is also a customer channel (say, subscribed to test it).
    ops_only.run(f"channels add telegram {ALICE}")
    open_in(ops_only, ALICE)
    quiet_then_nudge(ops_only)
    assert nudges(ops_only, ALICE) == []
    assert ops_channels(ops_only) == []
    [channel] = [c for c in ops_only.channels() if c.address == str(ALICE)]
    assert channel.audience == Audience.PUBLIC


def test_channels_list_shows_the_ops_chat_to_responders_only(ops_only: TelegramWorld) -> None:
    open_in(ops_only, OPS)
    quiet_then_nudge(ops_only)
    date = int(ops_only.clock.current.timestamp())

    listed = ops_only.command(OPS, "/incident channels list", date=date).plain
    [line] = [line for line in listed.splitlines() if str(OPS) in line]
    assert "responders' chat (gets the nudges of incidents opened there, nothing else)" in line
    assert "enabled" in line

    refused = ops_only.command(OPS, "/incident channels list", user=BOB, date=date).plain
    assert str(OPS) not in refused
    assert "Only responders" in refused


def test_a_public_update_never_reaches_the_ops_chat(ops_only: TelegramWorld) -> None:
    open_in(ops_only, OPS)
    quiet_then_nudge(ops_only)
    before = len(ops_only.fake.messages(OPS))
    ops_only.run("update INC-1 Nodo mx2 escluso")
    ops_only.run("resolve INC-1 Risolto")
    ops_only.deliver()
    assert len(ops_only.fake.messages(OPS)) == before
    with ops_only.database.sessions() as session:
        kinds = session.exec(
            select(Update.kind)
            .join(Delivery, col(Delivery.update_id) == col(Update.id))
            .join(Channel, col(Channel.id) == col(Delivery.channel_id))
            .where(Channel.audience == Audience.OPS)
        ).all()
    assert kinds == [UpdateKind.NUDGE]
    assert [c.platform for c in ops_only.channels() if c.audience == Audience.OPS] == [
        Platform.TELEGRAM
    ]


def test_a_group_that_became_a_supergroup_already_followed_is_disabled_not_retried(
    engine: sa.Engine, clock: FakeClock, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = -5000000001, -1005000000001
    telegram.add_chat(old, "group", "Ops (basic group)")
    with start_world(
        engine, telegram, clock, frozen=True, telegram_ops_chats=[str(old), str(new)]
    ) as world:
        open_in(world, old, "Old group incident")
        telegram.migrate(old, new)
        open_in(world, new, "New group incident")
        world.deliver()
        world.clock.advance(minutes=31)
        ctx = make_context(world.database.sessions, world.clock)
        assert nudge_quiet_incidents(ctx, QUIET) == [1, 2]
        with caplog.at_level(logging.WARNING):
            for _ in range(3):
                world.deliver()
        assert len(nudges(world, new)) == 1
        [moved] = [c for c in world.channels() if c.address == str(old)]
        assert not moved.enabled
        assert moved.disabled_reason is not None
        assert "became a supergroup, which Herald follows as channel #" in moved.disabled_reason
    assert not [r for r in caplog.records if r.exc_info]
