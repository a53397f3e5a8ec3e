"""TELEGRAM_INCIDENT_CHAT follows every incident: a root with buttons, the timeline and the notes
as its replies; customer channels get the public posts and nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bot.database import Database
from bot.telegram.setup import ensure_incident_chat
from commands.errors import Refused
from storage.engine import make_session_factory
from storage.models import Audience, Channel, IncidentStatus, Platform
from tests.factories import FakeClock
from tests.fakes.telegram import FakeTelegram, Message
from tests.telegram.helpers import (
    CUSTOMERS,
    INCIDENT_CHAT,
    OPS,
    TelegramWorld,
    assert_well_formed,
    button_labels,
    start_world,
    telegram_settings,
)
from tests.telegram.test_replies import EVIL

NOTE = "il colpevole è mx2 <i>non dirlo</i>"


@pytest.fixture
def followed(
    engine: sa.Engine, clock: FakeClock, telegram: FakeTelegram
) -> Iterator[TelegramWorld]:
    """The front-end with an incident chat, and a customer channel following every incident."""
    with start_world(engine, telegram, clock, telegram_incident_chat=str(INCIDENT_CHAT)) as world:
        world.command(OPS, f"/incident channels add telegram {CUSTOMERS}")
        yield world


def an_incident_with_a_note(world: TelegramWorld, title: str = "Posta giù") -> None:
    """Opened, updated and noted from the ops chat, then delivered."""
    opened = world.command(OPS, f"/incident open {title} --sev 2")
    assert "announced in the incident chat" in opened.plain
    world.command(OPS, "/incident update 1 --status identified Trovato il guasto")
    world.command(OPS, f"/incident note 1 {NOTE}")
    world.deliver()


def root_and_replies(world: TelegramWorld, chat: int) -> tuple[Message, list[Message]]:
    """The one message of a chat that replies to nothing, and those replying to it."""
    [root] = [m for m in world.fake.messages(chat) if m.reply_to is None]
    return root, world.fake.replies_to(chat, root.message_id)


def test_the_incident_chat_has_a_root_with_buttons_and_the_timeline_as_replies(
    followed: TelegramWorld,
) -> None:
    an_incident_with_a_note(followed)
    root, replies = root_and_replies(followed, INCIDENT_CHAT)
    assert root.plain.startswith("INC-1 · Posta giù\n")
    assert "What customers read" in root.plain
    assert button_labels(root) == ["Update", "Resolve", "Show"]
    assert [r.plain.splitlines()[0] for r in replies] == [
        "Aggiornamento #2 · SEV2 identified · telegram:1001 (Alice)",
        "Internal note #3 · telegram:1001 (Alice) · not sent to customers",
    ]
    assert NOTE in replies[1].plain
    assert all(r.inline_keyboard == [] for r in replies)
    assert_well_formed([root, *replies])


def test_a_customer_channel_gets_the_public_posts_only(followed: TelegramWorld) -> None:
    an_incident_with_a_note(followed)
    root, replies = root_and_replies(followed, CUSTOMERS)
    assert len(followed.fake.messages(CUSTOMERS)) == 2
    assert "Trovato il guasto" in replies[0].plain
    for message in (root, *replies):
        assert message.inline_keyboard == []
        for secret in ("mx2", "Internal", "telegram:1001", "SEV"):
            assert secret not in message.plain


def test_the_roots_buttons_resolve_and_then_only_show_is_left(followed: TelegramWorld) -> None:
    an_incident_with_a_note(followed)
    root, _ = root_and_replies(followed, INCIDENT_CHAT)
    query = followed.press(INCIDENT_CHAT, root, "Resolve")
    followed.settle()
    assert followed.answer_to(query).text == "Tap again to confirm."
    question = followed.fake.replies_to(INCIDENT_CHAT, root.message_id)[-1]
    confirm = followed.press(INCIDENT_CHAT, question, "Yes")
    followed.settle()
    assert followed.answer_to(confirm).text == "INC-1 resolved."
    assert followed.incidents()[0].status == IncidentStatus.RESOLVED

    followed.deliver()
    root, replies = root_and_replies(followed, INCIDENT_CHAT)
    assert button_labels(root) == ["Show"]
    assert "resolved after" in root.plain
    assert replies[-1].plain.startswith("Chiusura #4 · SEV2 resolved")
    assert len(followed.fake.messages(CUSTOMERS)) == 3
    show = followed.press(INCIDENT_CHAT, root, "Show")
    followed.settle()
    assert followed.answer_to(show).text is None
    assert "Trovato il guasto" in followed.fake.replies_to(INCIDENT_CHAT, root.message_id)[-1].plain


def test_commands_are_read_in_the_incident_chat(followed: TelegramWorld) -> None:
    reply = followed.command(INCIDENT_CHAT, "/incident open Posta giù")
    assert reply.plain.startswith("Opened INC-1")


def test_typed_markup_is_escaped_in_the_incident_chat_and_the_channel(
    followed: TelegramWorld,
) -> None:
    an_incident_with_a_note(followed, EVIL)
    assert [c for c in followed.fake.calls("sendMessage") if c.status != 200] == []
    for chat in (INCIDENT_CHAT, CUSTOMERS):
        root, _ = root_and_replies(followed, chat)
        assert EVIL in root.plain, root.plain
        assert "evil.example" not in str(root.entities)
    _, replies = root_and_replies(followed, INCIDENT_CHAT)
    assert NOTE in replies[-1].plain


def test_a_customer_channel_is_never_made_the_incident_chat(
    engine: sa.Engine, telegram: FakeTelegram
) -> None:
    database = Database(engine, make_session_factory(engine))
    settings = telegram_settings(telegram, telegram_incident_chat=str(CUSTOMERS))
    with database.sessions() as session, session.begin():
        session.add(Channel(platform=Platform.TELEGRAM, address=str(CUSTOMERS), locale="it"))
    with pytest.raises(Refused, match="is customer channel #1: internal notes would reach"):
        ensure_incident_chat(settings, database)
    with database.sessions() as session:
        [channel] = session.exec(select(Channel)).all()
    assert channel.audience == Audience.PUBLIC
