"""Who may do what, and where: responders change, the ops chat reads, other places get little."""

from __future__ import annotations

import pytest

from tests.telegram.helpers import (
    ALICE,
    BOB,
    CUSTOMERS,
    OPS,
    OTHER_GROUP,
    TelegramWorld,
)

PRIVATE_REFUSAL = "In a private chat Herald takes /incident and /summary only from responders"


def test_a_non_responder_is_refused_a_change_and_the_refusal_audited(world: TelegramWorld) -> None:
    reply = world.command(OPS, "/incident open Nope", user=BOB)
    assert reply.plain.startswith("Only responders")
    assert str(BOB) in reply.plain  # the id to add to TELEGRAM_RESPONDERS
    assert world.incidents() == []
    [refused] = world.refusals()
    assert (refused.actor, refused.front_end) == (f"telegram:{BOB} (Bob)", "telegram")


@pytest.mark.parametrize(
    "command",
    [
        "/incident update 1 Ancora giù",
        "/incident resolve 1",
        "/incident note 1 x",
        "/incident components add web Web",
        "/incident channels add telegram @clienti",
    ],
)
def test_no_change_of_any_kind_from_a_non_responder(world: TelegramWorld, command: str) -> None:
    world.command(OPS, "/incident open Posta giù")
    reply = world.command(OPS, command, user=BOB)
    assert reply.plain.startswith("Only responders")
    assert len(world.timeline(1)) == 1
    assert world.channels() == []
    assert len(world.refusals()) == 1


def test_anyone_in_the_ops_chat_reads(world: TelegramWorld) -> None:
    world.command(OPS, "/incident open Posta giù --sev 2")
    readings = {
        "/incident list": "Posta giù",
        "/incident show 1": "Posta giù",
        "/incident summary": "Incidents opened: 1",
        "/summary today": "Incidents opened: 1",
        "/status": "Posta giù",
        "/help": f"Your Telegram id: {BOB}",
    }
    for command, expected in readings.items():
        [*_, reply] = world.ask(OPS, command, user=BOB)
        assert expected in reply.plain, (command, reply.plain)
    assert world.refusals() == []


def test_only_responders_list_the_channels_and_their_private_addresses(
    world: TelegramWorld,
) -> None:
    world.run("channels add webhook https://hooks.example/T0/secret-path?token=abc")
    [refused] = world.ask(OPS, "/incident channels list", user=BOB)
    assert refused.plain.startswith("Only responders can list the channels")
    assert "secret-path" not in refused.plain
    assert [e.action for e in world.refusals()] == ["refused"]
    [listed] = world.ask(OPS, "/incident channels list")
    assert "hooks.example" in listed.plain


def test_a_responder_commands_herald_in_a_private_chat(world: TelegramWorld) -> None:
    reply = world.command(ALICE, "/incident open Posta giù")
    assert reply.plain.startswith("Opened INC-1")
    assert world.command(ALICE, "/summary").plain.startswith("Summary: ")


def test_a_non_responder_in_private_gets_status_and_help_only(world: TelegramWorld) -> None:
    world.command(OPS, "/incident open Posta giù")
    for command in ("/incident list", "/incident show 1", "/summary", "/incident open Altro"):
        reply = world.command(BOB, command, user=BOB)
        assert reply.plain.startswith(PRIVATE_REFUSAL), command
        assert str(BOB) in reply.plain
    assert len(world.refusals()) == 4
    assert {e.actor.split(" ")[0] for e in world.refusals()} == {f"telegram:{BOB}"}
    assert "Posta giù" in world.command(BOB, "/status", user=BOB).plain
    assert f"Your Telegram id: {BOB}" in world.ask(BOB, "/help", user=BOB)[-1].plain
    assert [i.title for i in world.incidents()] == ["Posta giù"]


@pytest.mark.parametrize("command", ["/incident open Posta giù", "/status", "/help", "/summary"])
def test_a_command_in_another_group_gets_one_line(world: TelegramWorld, command: str) -> None:
    world.say(OTHER_GROUP, command)
    world.settle()
    [reply] = world.fake.messages(OTHER_GROUP)
    assert "Herald takes commands only in its ops chats" in reply.plain
    assert str(OTHER_GROUP) in reply.plain
    assert "\n" not in reply.plain
    assert reply.inline_keyboard == []
    assert world.incidents() == []
    assert world.audit() == []


def test_herald_never_asks_for_channel_posts(world: TelegramWorld) -> None:
    world.command(OPS, "/help")
    assert "channel_post" not in world.fake.allowed_updates
    assert "edited_message" not in world.fake.allowed_updates
    assert {"message", "callback_query"} <= set(world.fake.allowed_updates)


def test_a_channel_post_is_never_answered(hooked: TelegramWorld) -> None:
    post = hooked.fake.add_user_message(CUSTOMERS, "/incident open Posta giù")["channel_post"]
    status = hooked.fake.add_user_message(CUSTOMERS, "/status")["channel_post"]
    for update_id, message in ((900001, post), (900002, status)):
        response = hooked.webhook({"update_id": update_id, "channel_post": message})
        assert response.status_code == 200
    hooked.settle()
    assert hooked.fake.messages(CUSTOMERS) == []
    assert hooked.incidents() == []


def test_an_edited_message_is_not_run(hooked: TelegramWorld) -> None:
    asked = hooked.say(OPS, "/incident open Posta")
    assert hooked.reply(OPS, asked).plain.startswith("Opened INC-1 “Posta”")
    written = hooked.fake.add_user_message(OPS, "/incident open Posta giù di nuovo")["message"]
    edited = {**written, "message_id": asked, "edit_date": written["date"] + 5}
    response = hooked.webhook({"update_id": 900001, "edited_message": edited})
    assert response.status_code == 200
    hooked.settle()
    assert len(hooked.fake.replies_to(OPS, asked)) == 1
    assert [i.title for i in hooked.incidents()] == ["Posta"]


def test_a_person_with_a_username_is_named_by_it(world: TelegramWorld) -> None:
    world.command(OPS, "/incident open Posta giù", username="alice_ops")
    assert world.incidents()[0].opened_by == f"telegram:{ALICE} (alice_ops)"
