"""What Herald tells Telegram when it starts, and what POST /telegram/webhook accepts."""

from __future__ import annotations

import json

import pytest

from storage.models import IncidentStatus
from tests.telegram.helpers import (
    ALICE,
    BOB,
    CAROL,
    OPS,
    PUBLIC_URL,
    SECRET,
    TelegramWorld,
    wait_until,
)

OPS_MENU = ["incident", "summary", "status", "help"]


def test_herald_sets_its_webhook_with_the_secret_and_the_updates_it_reads(
    hooked: TelegramWorld,
) -> None:
    [call] = hooked.fake.calls("setWebhook")
    assert call.params["url"] == f"{PUBLIC_URL}/telegram/webhook"
    assert call.params["secret_token"] == SECRET
    assert sorted(call.params["allowed_updates"]) == ["callback_query", "message"]
    assert hooked.fake.webhook_url == f"{PUBLIC_URL}/telegram/webhook"
    assert hooked.fake.webhook_secret == SECRET
    assert hooked.fake.allowed_updates == ["message", "callback_query"]


def test_a_polling_herald_sets_no_webhook(world: TelegramWorld) -> None:
    world.command(OPS, "/help")
    assert world.fake.calls("setWebhook") == []
    assert world.fake.webhook_url == ""


def test_the_command_menu_is_set_per_scope(hooked: TelegramWorld) -> None:
    def menu(scope: dict[str, object]) -> list[str]:
        return [command["command"] for command in hooked.fake.commands(scope)]

    # set just after start-up: everyone's, then one per ops chat and per responder
    assert wait_until(lambda: len(hooked.fake.calls("setMyCommands")) == 5)
    assert all(call.status == 200 for call in hooked.fake.calls("setMyCommands"))
    assert menu({"type": "chat", "chat_id": OPS}) == OPS_MENU
    customers = ["start", "subscribe", "unsubscribe", "status", "lang", "help"]
    assert menu({"type": "all_private_chats"}) == customers
    italian = hooked.fake.commands({"type": "all_private_chats"}, language_code="it")
    assert italian[0]["description"] == "lo stato attuale e i servizi da seguire"
    for responder in (ALICE, CAROL):  # responders' private chats offer them everything
        assert menu({"type": "chat", "chat_id": responder}) == OPS_MENU
    assert menu({"type": "chat", "chat_id": BOB}) == []
    assert menu({"type": "default"}) == []
    descriptions = [c["description"] for c in hooked.fake.commands({"type": "all_private_chats"})]
    assert all(descriptions)


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x", SECRET.upper()])
def test_a_request_without_the_right_secret_gets_403_and_changes_nothing(
    hooked: TelegramWorld, secret: str | None
) -> None:
    update = hooked.fake.add_user_message(OPS, "/incident open Posta giù")
    response = hooked.webhook(update, secret=secret)
    assert response.status_code == 403
    hooked.settle()
    assert hooked.incidents() == []
    assert hooked.fake.messages(OPS) == []
    assert hooked.front.intake.last_handled() is None
    # not claimed either: the same update with the secret still runs
    assert hooked.webhook(update).status_code == 200
    hooked.last_update = update["update_id"]
    hooked.settle()
    assert len(hooked.incidents()) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"message": {"text": "/incident open X"}}',
        b'{"update_id": "7", "message": {}}',
        b'{"update_id": true}',
        json.dumps({"update_id": 7, "message": {"text": "no chat, no date"}}).encode(),
        b'{"update_id": 1000000000000000000000000000000}',
        b'{"update_id": -1}',
        b'{"update_id": 7, "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    ],
)
def test_a_body_that_is_not_an_update_gets_400(hooked: TelegramWorld, body: bytes) -> None:
    response = hooked.http.post(
        "/telegram/webhook",
        content=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert hooked.front.intake.last_handled() is None
    assert hooked.fake.messages(OPS) == []


def test_an_update_with_a_lone_surrogate_gets_400(hooked: TelegramWorld) -> None:
    update = hooked.fake.add_user_message(OPS, "/incident open SURROGATE")
    body = json.dumps(update).replace("SURROGATE", "\\ud800").encode()
    response = hooked.http.post(
        "/telegram/webhook",
        content=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert hooked.incidents() == []


def test_a_button_works_through_the_webhook(hooked: TelegramWorld) -> None:
    answer = hooked.command(OPS, "/incident open Posta giù")
    query = hooked.press(OPS, answer, "Resolve")
    hooked.settle()
    assert hooked.answer_to(query).text == "Tap again to confirm."
    question = hooked.fake.replies_to(OPS, answer.message_id)[-1]
    confirm = hooked.press(OPS, question, "Yes")
    hooked.settle()
    assert hooked.answer_to(confirm).text == "INC-1 resolved."
    assert hooked.incidents()[0].status == IncidentStatus.RESOLVED
