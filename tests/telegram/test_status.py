"""`/status` (what customers see now, in the asker's language) and `/help` (with their id)."""

from __future__ import annotations

import pytest

from tests.telegram.helpers import (
    ALICE,
    BOB,
    OPS,
    PUBLIC_URL,
    TelegramWorld,
    assert_well_formed,
    tomorrow,
)


def status(world: TelegramWorld, *, language: str | None = None, user: int = BOB) -> str:
    """What /status answers someone in the ops chat, as one text."""
    replies = world.ask(OPS, "/status", user=user, language_code=language)
    assert_well_formed(replies)
    return "\n".join(m.plain for m in replies)


def test_status_when_all_is_well_lists_each_component(world: TelegramWorld) -> None:
    world.run("components add posta Posta")
    world.run("components add web Sito web")
    text = status(world)
    assert text.splitlines()[:3] == [
        "✓ Tutti i sistemi sono operativi",
        "✓ Posta: Operativo",
        "✓ Sito web: Operativo",
    ]
    assert text.endswith(PUBLIC_URL)


@pytest.mark.parametrize(
    ("language", "banner", "state", "label"),
    [
        (None, "Disservizio grave in corso", "Posta: Disservizio parziale", "In analisi"),
        ("it", "Disservizio grave in corso", "Posta: Disservizio parziale", "In analisi"),
        ("en", "Major service disruption", "Posta: Partial outage", "Investigating"),
        ("en-GB", "Major service disruption", "Posta: Partial outage", "Investigating"),
        ("de", "Disservizio grave in corso", "Posta: Disservizio parziale", "In analisi"),
    ],
)
def test_status_shows_the_open_incident_in_the_askers_language(
    world: TelegramWorld, language: str | None, banner: str, state: str, label: str
) -> None:
    world.run("components add posta Posta")
    world.run("components add web Web")
    world.command(OPS, "/incident open Posta lenta --sev 2 --components posta")
    text = status(world, language=language)
    lines = text.splitlines()
    assert lines[0] == f"▲ {banner}"
    assert f"▲ {state}" in lines
    assert any(line.startswith("✓ Web: ") for line in lines)
    assert "INC-1 Posta lenta" in lines
    assert label in lines


def test_status_shows_a_maintenance_in_progress(world: TelegramWorld) -> None:
    world.run("components add posta Posta")
    day = tomorrow()
    world.run(
        f'maintenance schedule Aggiornamento --start "{day} 10:00" --end "{day} 12:00" '
        "--components posta"
    )
    assert "INC-1 Aggiornamento" in status(world, language="en")
    world.run("maintenance start 1")
    text = status(world, language="en")
    assert text.splitlines()[:2] == ["⚙ Maintenance in progress", "⚙ Posta: Under maintenance"]


def test_status_links_each_incident_to_its_page(world: TelegramWorld) -> None:
    world.command(OPS, "/incident open Posta lenta --sev 3")
    [reply] = world.ask(OPS, "/status")
    assert f'<a href="{PUBLIC_URL}/incidents/1">INC-1</a>' in reply.text
    assert reply.inline_keyboard == []


@pytest.mark.parametrize("command", ["/help", "/start", "/help@herald_test_bot"])
def test_help_shows_the_commands_and_the_persons_telegram_id(
    world: TelegramWorld, command: str
) -> None:
    reply = world.command(OPS, command, user=BOB)
    assert "/incident COMMAND" in reply.plain
    assert "open TITLE…" in reply.plain  # the command language in full
    assert reply.plain.endswith(f"Your Telegram id: {BOB}")
    assert {"type": "code", "offset": len(reply.plain) - len(str(BOB)), "length": 4} in (
        reply.entities
    )


def test_help_in_private_gives_a_responder_their_own_id(world: TelegramWorld) -> None:
    reply = world.command(ALICE, "/help")
    assert reply.plain.endswith(f"Your Telegram id: {ALICE}")
