"""A customer follows services in a private chat with the bot, gets only those, and leaves."""

from __future__ import annotations

import logging

import pytest

from tests.fakes.telegram import FakeTelegram
from tests.telegram.helpers import BOB, TelegramWorld, button_labels

DAVE = 4004  # a customer, in a private chat with the bot


def _setup(world: TelegramWorld, fake: FakeTelegram) -> None:
    fake.add_chat(DAVE, "private", "Dave")
    world.run("components add posta Posta")
    world.run("components add web Web")


def test_a_customer_follows_one_service_gets_its_updates_only_and_leaves(
    world: TelegramWorld, telegram: FakeTelegram
) -> None:
    _setup(world, telegram)
    replies = world.ask(DAVE, "/start", user=DAVE, language_code="en")
    status, offer = replies[0], replies[-1]
    assert "operational" in status.plain.lower()
    assert "You follow no service" in offer.plain
    assert button_labels(offer) == ["▫️ Posta", "▫️ Web"]
    pressed = world.press(DAVE, offer, "▫️ Posta", user=DAVE, language_code="en")
    assert world.answer_to(pressed).text == "You follow: Posta."
    assert button_labels(telegram.messages(DAVE)[-1]) == ["✅ Posta", "▫️ Web"]

    world.run('open "Sito lento" --sev 2 --components web')
    world.run('open "Posta in ritardo" --sev 2 --components posta --message "Stiamo verificando"')
    world.deliver()
    posts = [m.plain for m in telegram.messages(DAVE) if "Posta in ritardo" in m.plain]
    assert len(posts) == 1  # in English: the person's language
    assert "Opened" in posts[0]
    assert not [m for m in telegram.messages(DAVE) if "Sito lento" in m.plain]

    left = world.command(DAVE, "/unsubscribe", user=DAVE, language_code="en")
    assert "no more updates" in left.plain
    assert all(c.address != str(DAVE) for c in world.channels())  # the address is gone
    world.run("update INC-2 Risolto il ritardo")
    before = len(telegram.messages(DAVE))
    world.deliver()
    assert len(telegram.messages(DAVE)) == before


def test_commands_name_services_and_the_language_can_be_changed(
    world: TelegramWorld, telegram: FakeTelegram
) -> None:
    _setup(world, telegram)
    reply = world.command(DAVE, "/subscribe posta, web", user=DAVE, language_code="it")
    assert "Segui: Posta, Web." in reply.plain
    wrong = world.command(DAVE, "/subscribe mail", user=DAVE, language_code="it")
    assert wrong.plain.startswith("Servizio sconosciuto: mail. Scegli tra: posta web")
    english = world.command(DAVE, "/lang en", user=DAVE, language_code="it")
    assert "Language: English." in english.plain
    fewer = world.command(DAVE, "/unsubscribe web", user=DAVE)
    assert "You follow: Posta." in fewer.plain
    assert "/subscribe" in world.command(DAVE, "/help", user=DAVE).plain


def test_a_customer_who_blocked_the_bot_comes_back_to_the_open_incident_as_it_stands(
    world: TelegramWorld, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _setup(world, telegram)
    world.command(DAVE, "/subscribe", user=DAVE, language_code="it")
    telegram.block(DAVE, "Forbidden: bot was blocked by the user")
    world.run('open "Posta in ritardo" --sev 2 --components posta')
    world.deliver()
    [channel] = [c for c in world.channels() if c.address == str(DAVE)]
    assert not channel.enabled
    world.run("update INC-1 Individuata la causa")
    world.run("update INC-1 Intervento in corso")
    telegram.unblock(DAVE)
    world.ask(DAVE, "/start", user=DAVE)
    before = len(telegram.messages(DAVE))
    world.deliver()
    got = [m.plain for m in telegram.messages(DAVE)[before:]]
    assert len(got) == 1, got  # the latest update, not the whole backlog
    assert "Intervento in corso" in got[0]
    assert "disabled" in caplog.text
    assert str(DAVE) not in caplog.text  # a subscriber's address is in no log above DEBUG


def test_subscription_commands_are_for_private_chats_only(world: TelegramWorld) -> None:
    world.run("components add posta Posta")
    world.command(BOB, "/subscribe", user=BOB)  # a private chat: fine
    assert any(c.address == str(BOB) and c.is_subscriber for c in world.channels())
