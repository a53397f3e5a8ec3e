"""The managers' summary: the numbers as data (SummaryView), as text, and as Block Kit in Slack."""

from __future__ import annotations

import json

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from commands import verbs as v
from commands.context import Context
from commands.queries import ComponentImpact, summary_view
from tests.factories import FakeClock, make_context, run
from tests.slack.helpers import BOB, SlackWorld


def _history(ctx: Context, clock: FakeClock) -> None:
    """Posta down 2 h (two overlapping incidents), Web 30 min, a SEV4, a maintenance done."""
    for key, name in (("posta", "Posta"), ("web", "Web"), ("dns", "DNS")):
        run(ctx, f"components add {key} {name}")
    run(ctx, "open Posta giù --sev 1 --components posta")  # INC-1, 0:00 → 2:00
    clock.advance(minutes=30)
    run(ctx, "open Web lento --sev 2 --components posta,web")  # INC-2, 0:30 → 1:00
    run(ctx, "open DNS cosmetico --sev 4 --components dns")  # INC-3: no public impact
    clock.advance(minutes=30)
    run(ctx, "resolve 2")
    clock.advance(minutes=60)
    run(ctx, "resolve 1")
    run(ctx, 'maintenance schedule Router --start "28/01/2025 17:00" --end "28/01/2025 17:30"')
    clock.advance(hours=1)
    run(ctx, "maintenance start 4")
    run(ctx, "maintenance complete 4")


def test_the_summary_view_counts_impact_per_component_once(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    _history(ctx, clock)
    view = summary_view(v.Summarize("week"), ctx)
    assert view.opened == 3
    assert view.opened_by_severity == {1: 1, 2: 1, 3: 0, 4: 1}
    assert (view.resolved, view.open_now) == (2, 1)
    assert view.mean_time_to_resolve == (2 * 3600 + 30 * 60) / 2
    assert view.longest is not None
    assert (view.longest.incident_id, view.longest.title, view.longest.seconds) == (
        1,
        "Posta giù",
        7200,
    )
    assert view.impact == (ComponentImpact("Posta", 120), ComponentImpact("Web", 30))
    assert view.maintenance_done == 1
    assert not view.share
    text = run(ctx, "summary week").text
    assert "Impact (SEV1–3): Posta 120 min, Web 30 min" in text
    assert "Incidents opened: 3 (SEV1: 1, SEV2: 1, SEV3: 0, SEV4: 1)" in text


def test_summary_in_slack_is_block_kit_and_private_unless_shared(world: SlackWorld) -> None:
    _history(world.context(), world.clock)
    _, url = world.command("summary week", user=BOB, name="bob")
    [answer] = world.answers(url)
    assert answer["response_type"] == "ephemeral"
    blocks = answer["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Summary: the last 7 days"},
    }
    shown = json.dumps(blocks, ensure_ascii=False)
    for fact in (
        "*Incidents opened*\\n3 (SEV1 1 · SEV2 1 · SEV3 0 · SEV4 1)",
        "*Open now*\\n1",
        "*Mean time to resolve*\\n1 h 15 min",
        "INC-1 Posta giù · 2 h",
        "• Posta: 120 min",
        "• Web: 30 min",
        "*Maintenance completed*\\n1",
    ):
        assert fact in shown, fact
    _, url = world.command("summary week --share", user=BOB, name="bob")
    assert world.answers(url)[0]["response_type"] == "in_channel"


def test_an_empty_period_reads_plainly(world: SlackWorld) -> None:
    _, url = world.command("summary 2024-12")
    shown = world.answer_text(url)
    assert "No component was affected." in shown
    assert "*Longest*\\n–" in shown
