"""The buttons under an incident: Update asks by a ForceReply, Resolve takes a second tap, Show."""

from __future__ import annotations

import json

from storage.models import IncidentStatus
from tests.fakes.telegram import Message
from tests.telegram.helpers import (
    ALICE,
    BOB,
    CAROL,
    OPS,
    TelegramWorld,
    button_labels,
    tomorrow,
)


def opened(world: TelegramWorld, title: str = "Posta giù") -> Message:
    """A responder opens an incident in the ops chat; Herald's answer, with its buttons."""
    return world.command(OPS, f"/incident open {title} --sev 2")


def pressed(world: TelegramWorld, message: Message, label: str, *, user: int = ALICE) -> str:
    """Someone taps a button and Herald finishes with it; the text of the answer to the tap."""
    query = world.press(OPS, message, label, user=user)
    world.settle()
    return world.answer_to(query).text or ""


def asked_to_confirm(world: TelegramWorld, message: Message, *, user: int = ALICE) -> Message:
    """Resolve is tapped; the question Herald asks under the message."""
    assert pressed(world, message, "Resolve", user=user) == "Tap again to confirm."
    return world.fake.replies_to(OPS, message.message_id)[-1]


# ---- Update


def test_update_asks_for_the_text_and_the_reply_becomes_the_update(world: TelegramWorld) -> None:
    answer = opened(world, "Posta <lenta>")
    assert pressed(world, answer, "Update") == ""
    [prompt] = world.fake.replies_to(OPS, answer.message_id)
    assert prompt.plain.startswith("Update for INC-1 «Posta <lenta>» — Alice, reply to this")
    assert prompt.reply_markup["force_reply"] is True
    assert prompt.reply_markup["selective"] is True
    assert 'href="tg://user?id=1001"' in prompt.text  # the mention makes `selective` reach her

    done = world.command(
        OPS, "Il guasto è al server mx2, lo stiamo riavviando", reply_to=prompt.message_id
    )
    assert done.plain.startswith("Posted update #2 on INC-1")
    assert button_labels(done) == ["Update", "Resolve", "Show"]
    update = world.timeline(1)[-1]
    assert (update.text, update.public, update.front_end) == (
        "Il guasto è al server mx2, lo stiamo riavviando",
        True,
        "telegram",
    )
    assert update.author == f"telegram:{ALICE} (Alice)"


def test_a_reply_to_any_other_message_is_not_an_update(world: TelegramWorld) -> None:
    answer = opened(world)
    world.say(OPS, "non è un aggiornamento", reply_to=answer.message_id)
    mimic = world.say(OPS, "Update for INC-1 «Posta giù» — reply to this message")
    world.say(OPS, "nemmeno questo", reply_to=mimic)
    world.settle()
    assert len(world.timeline(1)) == 1
    assert len(world.fake.messages(OPS)) == 1  # only the answer to open


def test_only_the_person_asked_answers_the_prompt_once(world: TelegramWorld) -> None:
    answer = opened(world)
    pressed(world, answer, "Update")
    [prompt] = world.fake.replies_to(OPS, answer.message_id)
    # Replying is how a group talks: a reply by anyone else is conversation, not an update.
    for user in (BOB, CAROL):
        world.say(OPS, "hai guardato i log di mx2?", user=user, reply_to=prompt.message_id)
    world.settle()
    assert len(world.timeline(1)) == 1
    assert world.fake.replies_to(OPS, prompt.message_id) == []
    done = world.command(OPS, "Il nodo mx2 è stato riavviato", reply_to=prompt.message_id)
    assert done.plain.startswith("Posted update #2 on INC-1")
    again = world.command(OPS, "e ora funziona", reply_to=prompt.message_id)
    assert again.plain.startswith("This prompt was already answered; press Update again")
    assert [u.text for u in world.timeline(1)][1:] == ["Il nodo mx2 è stato riavviato"]


def test_a_prompt_answered_too_late_posts_nothing(world: TelegramWorld) -> None:
    answer = opened(world)
    pressed(world, answer, "Update")
    [prompt] = world.fake.replies_to(OPS, answer.message_id)
    late = world.command(
        OPS, "aggiornamento tardivo", reply_to=prompt.message_id, date=prompt.date + 16 * 60
    )
    assert late.plain.startswith("This prompt has expired; press Update again")
    assert len(world.timeline(1)) == 1


# ---- Resolve


def test_resolve_asks_for_a_second_tap_then_resolves(world: TelegramWorld) -> None:
    answer = opened(world)
    question = asked_to_confirm(world, answer)
    assert question.plain.startswith("Resolve INC-1 «Posta giù»? Customers will read")
    assert button_labels(question) == ["Yes, resolve INC-1", "Cancel"]
    assert world.incidents()[0].status == IncidentStatus.INVESTIGATING

    assert pressed(world, question, "Yes") == "INC-1 resolved."
    assert world.incidents()[0].status == IncidentStatus.RESOLVED
    [edited] = [m for m in world.fake.messages(OPS) if m.message_id == question.message_id]
    assert edited.plain.startswith("Resolved INC-1 “Posta giù”.")
    assert edited.inline_keyboard == []


def test_only_who_tapped_resolve_can_confirm(world: TelegramWorld) -> None:
    question = asked_to_confirm(world, opened(world))
    assert pressed(world, question, "Yes", user=CAROL).startswith("Only who tapped Resolve")
    assert world.incidents()[0].status == IncidentStatus.INVESTIGATING
    assert pressed(world, question, "Yes") == "INC-1 resolved."


def test_a_confirmation_expires(frozen: TelegramWorld) -> None:
    question = asked_to_confirm(frozen, opened(frozen))
    frozen.clock.advance(seconds=121)
    assert pressed(frozen, question, "Yes") == "This confirmation expired; tap Resolve again."
    assert frozen.incidents()[0].status == IncidentStatus.INVESTIGATING


def test_a_confirmation_within_two_minutes_holds(frozen: TelegramWorld) -> None:
    question = asked_to_confirm(frozen, opened(frozen))
    frozen.clock.advance(seconds=119)
    assert pressed(frozen, question, "Yes") == "INC-1 resolved."


def test_cancel_leaves_the_incident_open(world: TelegramWorld) -> None:
    question = asked_to_confirm(world, opened(world))
    assert pressed(world, question, "Cancel") == "Not resolved."
    [edited] = [m for m in world.fake.messages(OPS) if m.message_id == question.message_id]
    assert edited.plain == "Not resolved."
    assert edited.inline_keyboard == []
    assert world.incidents()[0].status == IncidentStatus.INVESTIGATING


def test_a_non_responder_cannot_cancel_a_responders_confirmation(world: TelegramWorld) -> None:
    question = asked_to_confirm(world, opened(world))
    assert pressed(world, question, "Cancel", user=BOB).startswith("Only responders")
    [unchanged] = [m for m in world.fake.messages(OPS) if m.message_id == question.message_id]
    assert button_labels(unchanged) == ["Yes, resolve INC-1", "Cancel"]
    assert pressed(world, question, "Yes") == "INC-1 resolved."


def test_a_press_on_a_resolved_incident_gets_a_short_reason(world: TelegramWorld) -> None:
    answer = opened(world)
    question = asked_to_confirm(world, answer)
    world.run("resolve 1 Risolto dalla CLI")
    for label in ("Resolve", "Update"):
        assert pressed(world, answer, label) == "INC-1 is already resolved."
    assert pressed(world, question, "Yes") == "INC-1 is already resolved."
    assert len(world.timeline(1)) == 2
    assert len(world.fake.messages(OPS)) == 2  # the answer to open and the question, no more


def test_a_non_responders_press_is_refused_and_audited(world: TelegramWorld) -> None:
    answer = opened(world)
    for label in ("Resolve", "Update"):
        text = pressed(world, answer, label, user=BOB)
        assert text.startswith("Only responders can change incidents;")
        assert str(BOB) in text
    assert len(world.fake.messages(OPS)) == 1
    assert world.incidents()[0].status == IncidentStatus.INVESTIGATING
    assert [(e.actor, e.front_end, e.incident_id) for e in world.refusals()] == [
        (f"telegram:{BOB} (Bob)", "telegram", 1)
    ] * 2
    commands = [json.loads(e.detail)["command"] for e in world.refusals()]
    assert commands == ["ResolveIncident", "PostUpdate"]


def test_resolve_on_a_maintenance_points_to_the_command(world: TelegramWorld) -> None:
    day = tomorrow()
    world.run(f'maintenance schedule Aggiornamento --start "{day} 10:00" --end "{day} 12:00"')
    answer = world.command(OPS, "/incident update 1 Lavori in corso")
    assert pressed(world, answer, "Resolve").startswith("INC-1 is a maintenance; type /incident")


# ---- Show


def test_show_posts_the_incident_for_anyone(world: TelegramWorld) -> None:
    answer = opened(world, "Posta & <web>")
    world.command(OPS, "/incident note 1 il colpevole è mx2")
    assert pressed(world, answer, "Show", user=BOB) == ""
    shown = world.fake.replies_to(OPS, answer.message_id)[-1]
    assert "INC-1 " in shown.plain
    assert "Posta & <web>" in shown.plain
    assert "il colpevole è mx2" in shown.plain
    assert world.refusals() == []
