"""Replies as Telegram HTML: long ones split under 4,096 without cutting a tag or an entity, and
every text people typed shown as they typed it, never as markup."""

from __future__ import annotations

from tests.fakes.telegram import Message
from tests.telegram.helpers import (
    OPS,
    TelegramWorld,
    assert_well_formed,
    wait_until,
)

# Markup, a closing tag that would end Herald's <pre>, an entity, a link and a group mention.
EVIL = "<b>grassetto</b> </pre> &amp; &lt; <a href=http://evil.example>clic</a> @channel"
# Every character here is escaped or counts two UTF-16 units: the worst case for splitting.
DENSE = 'Posta & <web> 📬 "lenta" ' * 400


def sent_ok(world: TelegramWorld) -> None:
    """Telegram took every message Herald sent: none was refused (can't parse entities…)."""
    refused = [c for c in world.fake.calls("sendMessage") if c.status != 200]
    assert refused == [], [c.params.get("text", "")[:200] for c in refused]


def shows_as_typed(messages: list[Message], text: str) -> None:
    """The text reaches people exactly as typed, with no link or format made from it."""
    assert any(text in m.plain for m in messages), [m.plain for m in messages]
    for message in messages:
        links = [e for e in message.entities if e["type"] in ("text_link", "url", "mention")]
        assert all("evil" not in str(e.get("url", "")) for e in links)
        assert "http://evil.example" not in str(message.entities)


def test_a_long_show_is_split_in_order_without_cutting_markup(world: TelegramWorld) -> None:
    world.run("open Posta lenta --sev 3")
    for number in range(2, 9):
        world.run(f"update 1 Aggiornamento {number}: {DENSE[:3800]}")
    replies = world.ask(OPS, "/incident show 1")
    sent_ok(world)
    assert len(replies) >= 4
    assert_well_formed(replies)
    assert all(m.text.count("<pre>") == m.text.count("</pre>") for m in replies)
    joined = "".join(m.plain for m in replies)
    positions = [joined.index(f"Aggiornamento {number}:") for number in range(2, 9)]
    assert positions == sorted(positions)
    assert joined.count("📬") == 7 * DENSE[:3800].count("📬")


def test_a_long_list_is_split_in_order(world: TelegramWorld) -> None:
    for number in range(1, 61):
        world.run(f"open Incidente {number:02d} {'&<é📬> ' * 28} --sev 4")
    replies = world.ask(OPS, "/incident list")
    sent_ok(world)
    assert len(replies) >= 2
    assert_well_formed(replies)
    joined = "\n".join(m.plain for m in replies)
    positions = [joined.index(f"Incidente {number:02d} ") for number in range(60, 10, -1)]
    assert positions == sorted(positions)  # the newest 50 first
    assert joined.endswith("… and 10 more; narrow it with --since 7d.")


def test_a_long_update_comes_back_whole_in_the_answer_and_the_status(
    world: TelegramWorld,
) -> None:
    world.command(OPS, "/incident open Posta lenta --sev 2")
    text = DENSE[:3900].strip()
    reply = world.command(OPS, f"/incident update 1 {text}")
    assert reply.plain.startswith("Posted update #2")
    assert world.timeline(1)[-1].text == text
    status = world.ask(OPS, "/status")
    sent_ok(world)
    assert_well_formed(status)
    assert "…" in "".join(m.plain for m in status)  # the preview is cut as plain text, then escaped


def test_typed_markup_comes_back_escaped_in_every_answer(world: TelegramWorld) -> None:
    opened = world.command(OPS, f"/incident open {EVIL} --sev 1")
    [incident] = world.incidents()
    assert incident.title == EVIL
    shows_as_typed([opened], EVIL)
    updated = world.command(OPS, f"/incident update 1 Testo: {EVIL}")
    shows_as_typed([updated], "Posted update #2")
    replies = [
        *world.ask(OPS, "/incident show 1"),
        *world.ask(OPS, "/incident list"),
        *world.ask(OPS, "/status"),
    ]
    world.command(OPS, "/incident resolve 1")
    replies += world.ask(OPS, "/summary")  # the longest incident, by its title
    sent_ok(world)
    for reply in replies:
        assert "<b>grassetto</b>" not in reply.text  # never sent as markup
    shows_as_typed(replies, EVIL)
    assert sum(EVIL in m.plain for m in replies) >= 4
    assert any(f"Testo: {EVIL}" in m.plain for m in replies)


def test_typed_markup_in_the_buttons_messages_is_escaped(world: TelegramWorld) -> None:
    answer = world.command(OPS, f"/incident open {EVIL}")
    for label in ("Update", "Resolve", "Show"):
        world.press(OPS, answer, label)
        world.settle()
    replies = world.fake.replies_to(OPS, answer.message_id)
    assert len(replies) == 3
    sent_ok(world)
    assert all(EVIL in m.plain for m in replies), [m.plain for m in replies]
    shows_as_typed(replies, EVIL)


def test_a_mistyped_command_with_markup_is_refused_in_plain_text(world: TelegramWorld) -> None:
    reply = world.command(OPS, "/incident update </pre><b>")
    sent_ok(world)
    assert "</pre><b>" in reply.plain
    assert wait_until(lambda: world.incidents() == [])
