"""show, list and summary."""

from __future__ import annotations

from commands.context import Context
from commands.queries import LIST_LIMIT
from tests.factories import (
    FakeClock,
    make_channel,
    make_incident,
    run,
)


def test_show_lists_the_timeline_with_notes_and_delivery_counts(ctx: Context) -> None:
    make_channel(ctx, "-1001")
    incident_id = make_incident(ctx, "Problemi consegna posta", components="posta", message="Ciao")
    run(ctx, f"note {incident_id} solo interno")
    text = run(ctx, f"show INC-{incident_id}").text
    lines = text.splitlines()
    assert lines[0].split()[:3] == [f"INC-{incident_id}", "SEV2", "investigating"]
    assert "Opened 2025-01-28 14:50 CET by alice" in lines[1]
    assert "#1 2025-01-28 14:50 CET Apertura [investigating] by alice" in text
    assert "    → #1 telegram -1001: pending, next attempt 2025-01-28 14:50 CET" in text
    assert "#2 2025-01-28 14:50 CET internal" in text


def test_list_shows_open_by_default_and_closed_with_all(ctx: Context, clock: FakeClock) -> None:
    first = make_incident(ctx, "Primo")
    second = make_incident(ctx, "Secondo")
    run(ctx, f"resolve {first}")
    open_only = run(ctx, "list").text
    assert f"INC-{second}" in open_only
    assert f"INC-{first}" not in open_only
    assert f"INC-{first}" in run(ctx, "list --all").text
    clock.advance(days=10)
    assert "No incidents since then" in run(ctx, "list --since 7d").text


def test_list_caps_long_listings(ctx: Context, clock: FakeClock) -> None:
    for n in range(LIST_LIMIT + 3):
        clock.advance(minutes=2)
        make_incident(ctx, f"Incidente {n}")
    text = run(ctx, "list").text
    assert "… and 3 more" in text
    assert len(text.splitlines()) == LIST_LIMIT + 1


def test_summary_counts_by_severity_and_time_to_resolve(ctx: Context, clock: FakeClock) -> None:
    a = make_incident(ctx, "A", sev=1)
    make_incident(ctx, "B", sev=2)
    clock.advance(hours=2)
    run(ctx, f"resolve {a}")
    text = run(ctx, "summary week").text
    assert "Incidents opened: 2 (SEV1: 1, SEV2: 1, SEV3: 0, SEV4: 0)" in text
    assert "Resolved: 1 · open now: 1" in text
    assert "Mean time to resolve: 2 h" in text
    assert "Incidents opened: 0" in run(ctx, "summary 2024-12").text


def test_help_prints_every_form_and_one_verb_in_full(ctx: Context) -> None:
    overview = run(ctx, "help").text
    for form in ("open TITLE…", "maintenance extend ID --end WHEN", "channels remove CHANNEL"):
        assert form in overview
    detail = run(ctx, "help maintenance").text
    assert "maintenance schedule TITLE…" in detail
    assert "Example:" in detail


def test_show_names_a_webhook_by_its_host_never_its_credential(ctx: Context) -> None:
    run(ctx, "channels add webhook https://user:pw@hooks.example/T0/secret-path?token=abc")
    incident_id = make_incident(ctx, "Posta giù")
    text = run(ctx, f"show INC-{incident_id}").text
    assert "→ #1 webhook https://hooks.example/…: pending" in text
    for secret in ("secret-path", "token=abc", "user:pw"):
        assert secret not in text
