"""Every verb of the command language through `/incident`, answered and audited as the user."""

from __future__ import annotations

import json

import pytest

from tests.slack.helpers import CUSTOMERS, INCIDENTS, SlackWorld

# Each step: what is typed after /incident, and a phrase its answer must hold.
WALKTHROUGH = [
    ("help", "Herald commands"),
    ("help open", "Example: open"),
    ("components add posta Posta elettronica", "posta"),
    ("components rename posta Posta", "posta"),
    ("components add web Siti web", "web"),
    ("components", "Posta"),
    (f"channels add slack {CUSTOMERS} --lang it --components posta", "Added channel"),
    ("channels list", INCIDENTS),
    (
        'open "Problemi consegna posta" --sev 2 --components posta --message Verifichiamo',
        "Opened INC-1",
    ),
    ("update INC-1 --status identified Il nodo mx3 è stato escluso", "Posted update #2 on INC-1"),
    ("note INC-1 ticket 4242 aperto col fornitore", "Noted on INC-1 as #3"),
    ("edit INC-1 Il nodo mx3 è stato escluso dal cluster", "Corrected update #2 of INC-1"),
    ("show INC-1", "ticket 4242"),
    ("list", "Problemi consegna posta"),
    ("resolve INC-1 Tutto è tornato regolare", "Resolved INC-1"),
    ("reopen INC-1 Di nuovo ritardi", "Reopened INC-1"),
    ("resolve 1", "Resolved INC-1"),
    ("list --all", "INC-1"),
    (
        'maintenance schedule "Aggiornamento server web" --start "30/01/2025 10:00" '
        '--end "30/01/2025 12:00" --components web --manual',
        "INC-2",
    ),
    ('maintenance extend INC-2 --end "30/01/2025 13:00"', "INC-2"),
    ("maintenance start INC-2", "INC-2"),
    ("maintenance complete INC-2 Completata", "INC-2"),
    (
        'maintenance schedule "Cambio router" --start "31/01/2025 10:00" --end "31/01/2025 11:00"',
        "INC-3",
    ),
    ("maintenance cancel INC-3", "INC-3"),
    ("summary week", "Summary"),
    (f"channels disable {CUSTOMERS} lavori in corso", "is disabled"),
    (f"channels enable {CUSTOMERS}", "is enabled"),
    (f"channels test {CUSTOMERS}", "posted"),
    (f"channels remove {CUSTOMERS}", "Removed channel"),
    ("components remove web", "web"),
]


def test_every_verb_through_the_slash_command(world: SlackWorld) -> None:
    for typed, expected in WALKTHROUGH:
        _, url = world.command(typed)
        answer = world.answer_text(url)
        assert expected in answer, (typed, answer)
    changes = [e for e in world.audit()]
    assert changes
    assert {e.actor for e in changes} == {"slack:U0ALICE (alice)"}
    assert {e.front_end for e in changes} == {"slack"}
    assert any(e.action == "note" for e in changes)


def test_long_replies_come_as_code_blocks_in_sections_slack_accepts(world: SlackWorld) -> None:
    _, url = world.command("help")
    [answer] = world.answers(url)
    sections = [b for b in answer["blocks"] if b["type"] == "section"]
    assert sections
    assert all(b["text"]["text"].startswith("```") for b in sections)
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("frobnicate", "Unknown command 'frobnicate'."),
        ("update", "update needs ID."),
        ("update INC-9 Testo", "There is no INC-9"),
        ("open Posta --sev 9", "--sev takes 1 to 4"),
        ("open --sev 9", "--sev takes 1 to 4"),
        ('open "Posta', "is never closed"),
        ("summary 2025-13", "no month 13"),
    ],
)
def test_usage_errors_and_refusals_are_one_private_line(
    world: SlackWorld, typed: str, expected: str
) -> None:
    _, url = world.command(typed)
    [answer] = world.answers(url)
    assert answer["response_type"] == "ephemeral"
    assert expected in answer["text"]
    assert "\n" not in answer["text"]
    assert world.incidents() == []


def test_the_answer_links_the_status_page(world: SlackWorld) -> None:
    _, url = world.command("open Posta lenta")
    blocks = json.dumps(world.answers(url)[0]["blocks"])
    assert "https://status.example.it/incidents/1" in blocks
