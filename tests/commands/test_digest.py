"""The weekly digest: its weeks, its figures beside the week before's, and its text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.demo import load_demo
from commands.context import Context
from commands.digest import (
    Availability,
    Digest,
    IsoWeek,
    build_digest,
    digest_text,
    last_complete_week,
    parse_week,
)
from commands.errors import UsageError
from tests.factories import ROME, FakeClock, make_component, make_context, run

PUBLIC_URL = "https://status.example/"
SITE = "Stato servizi"


def at(clock: FakeClock, local: str) -> None:
    """Set the clock to a wall-clock time in Rome, `2025-03-25 10:00`."""
    clock.current = datetime.fromisoformat(local).replace(tzinfo=ROME).astimezone(UTC)


def digest(ctx: Context, week: str | None = None) -> Digest:
    """The digest of the week named, or of the last complete one."""
    return build_digest(ctx, None if week is None else parse_week(week), PUBLIC_URL, SITE)


# --- weeks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "label"),
    [("2025-W05", "2025-W05"), ("2025-w5", "2025-W05"), (" 2020-W53 ", "2020-W53")],
)
def test_a_week_is_read_as_iso(typed: str, label: str) -> None:
    assert parse_week(typed).label == label


@pytest.mark.parametrize(
    "typed", ["2025-05", "W05", "2025-W54", "2025-W00", "2025-W53", "0999-W01"]
)
def test_anything_else_is_refused_in_one_line_saying_what_to_type(typed: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse_week(typed)
    assert refused.value.message.endswith("use an ISO week such as 2025-W05.")
    assert "\n" not in refused.value.message


def test_weeks_run_from_monday_midnight_local_and_know_their_dst_length() -> None:
    spring = IsoWeek(2025, 13).midnights(ROME)
    assert spring[0] == datetime(2025, 3, 23, 23, tzinfo=UTC)  # Monday 24 March, 00:00 CET
    assert spring[-1] - spring[0] == timedelta(hours=167)
    assert spring[7] - spring[6] == timedelta(hours=23)  # Sunday 30 March
    autumn = IsoWeek(2025, 43).midnights(ROME)
    assert autumn[-1] - autumn[0] == timedelta(hours=169)
    assert IsoWeek(2025, 1).previous() == IsoWeek(2024, 52)
    assert IsoWeek(2021, 1).previous() == IsoWeek(2020, 53)


def test_the_default_week_is_the_last_complete_one_in_local_time() -> None:
    tuesday = datetime(2025, 1, 28, 13, 50, tzinfo=UTC)
    assert last_complete_week(tuesday, ROME) == IsoWeek(2025, 4)
    # Sunday 23:30 UTC is already Monday in Rome: the week just ended is complete.
    assert last_complete_week(datetime(2025, 2, 2, 23, 30, tzinfo=UTC), ROME) == IsoWeek(2025, 5)
    assert last_complete_week(datetime(2025, 2, 2, 22, 59, tzinfo=UTC), ROME) == IsoWeek(2025, 4)


# --- a known week ---------------------------------------------------------------------------


def _weeks_12_and_13(ctx: Context, clock: FakeClock) -> None:
    """2025-W12 and W13 (the week the clocks go forward in Rome) of a small ISP."""
    at(clock, "2025-03-17 10:00")  # W12, Monday
    run(ctx, "open Posta lenta --sev 2 --components posta")  # INC-1
    at(clock, "2025-03-17 10:30")
    run(ctx, "update 1 stiamo verificando")
    at(clock, "2025-03-17 12:00")
    run(ctx, "resolve 1")
    at(clock, "2025-03-25 10:00")  # W13, Tuesday
    run(ctx, "open Posta e web giù --sev 1 --components posta,web")  # INC-2
    at(clock, "2025-03-25 10:05")
    run(ctx, "note 2 riavviato mx1")  # internal: not a public update
    at(clock, "2025-03-25 10:10")
    run(ctx, "update 2 causa individuata")
    at(clock, "2025-03-25 11:00")
    run(ctx, "resolve 2")
    at(clock, "2025-03-27 12:00")  # Thursday
    run(ctx, "open Siti lenti --sev 3 --components web")  # INC-3
    at(clock, "2025-03-27 12:20")
    run(ctx, "update 3 in analisi")
    at(clock, "2025-03-27 15:00")
    run(ctx, "resolve 3")
    at(clock, "2025-03-28 09:00")
    run(  # INC-4
        ctx,
        'maintenance schedule Router --start "29/03/2025 22:00" --end "29/03/2025 23:30"'
        " --components posta",
    )
    at(clock, "2025-03-29 22:05")
    run(ctx, "maintenance start 4")
    at(clock, "2025-03-29 23:00")
    run(ctx, "maintenance complete 4")
    at(clock, "2025-03-30 11:00")  # Sunday, the 23-hour day
    run(ctx, "open Icona sbagliata --sev 4 --components posta")  # INC-5, still open
    at(clock, "2025-03-31 09:00")  # Monday of W14


def test_the_figures_of_a_week_and_their_change_from_the_week_before(
    ctx: Context, clock: FakeClock
) -> None:
    _weeks_12_and_13(ctx, clock)
    found = digest(ctx)
    this, last = found.figures, found.previous
    assert found.week == "2025-W13"
    assert not found.partial
    assert this.end - this.start == timedelta(hours=167)
    assert this.opened_by_severity == {1: 1, 2: 0, 3: 1, 4: 1}
    assert last.opened_by_severity == {1: 0, 2: 1, 3: 0, 4: 0}
    assert (this.resolved, last.resolved) == (2, 1)
    assert this.mean_time_to_first_update == (10 + 20) / 2 * 60
    assert last.mean_time_to_first_update == 30 * 60
    assert (this.mean_time_to_resolve, last.mean_time_to_resolve) == (2 * 3600, 2 * 3600)
    assert this.longest is not None
    assert (this.longest.incident_id, this.longest.seconds) == (3, 3 * 3600)
    assert found.longest_url == "https://status.example/incidents/3"
    assert (this.maintenance_done, this.maintenance_seconds) == (1, 55 * 60)
    assert (last.maintenance_done, last.maintenance_seconds) == (0, 0)
    # Availability over the week's real 167 hours (10,020 minutes), 168 the week before.
    assert found.availability == (
        Availability("Posta", 60, 120, 100 - 100 * 60 / 10_020, 100 - 100 * 120 / 10_080),
        Availability("Web", 240, 0, 100 - 100 * 240 / 10_020, 100.0),
    )
    by_day = {d.day: d.by_severity for d in found.days}
    assert [d.day for d in found.days] == [date(2025, 3, 24) + timedelta(days=n) for n in range(7)]
    assert by_day[date(2025, 3, 25)] == {1: 1, 2: 0, 3: 0, 4: 0}
    assert by_day[date(2025, 3, 27)] == {1: 0, 2: 0, 3: 1, 4: 0}
    assert by_day[date(2025, 3, 30)] == {1: 0, 2: 0, 3: 0, 4: 1}
    assert sum(sum(d.by_severity.values()) for d in found.days) == 3
    assert [(i.incident_id, i.status) for i in found.still_open] == [(5, "investigating")]
    assert found.open_total == 1


def test_the_digest_text_gives_each_figure_with_its_change(ctx: Context, clock: FakeClock) -> None:
    _weeks_12_and_13(ctx, clock)
    assert digest_text(digest(ctx)).splitlines() == [
        "Stato servizi · weekly digest 2025-W13 (Mon 24/03/2025 → Sun 30/03/2025, Europe/Rome);"
        " changes are from the week before.",
        "Incidents opened: 3 (+2)",
        "  SEV1: 1 (+1)",
        "  SEV2: 0 (−1)",
        "  SEV3: 1 (+1)",
        "  SEV4: 1 (+1)",
        "Resolved: 2 (+1)",
        "Mean time to first public update: 15 min (−15 min)",
        "Mean time to resolve: 2 h (±0)",
        "Longest incident: INC-3 “Siti lenti”, 3 h (+1 h) · https://status.example/incidents/3",
        "Incident time: 17 h (+15 h)",  # 1 h + 3 h + INC-5 open 13 h till Monday
        "Availability per component (SEV1–3 impact):",
        "  Posta: 99.40 % (+0.60 pt) · 60 min of impact (−60 min)",
        "  Web: 97.60 % (−2.40 pt) · 240 min of impact (+240 min)",
        "Maintenance done: 1 (+1) · 55 min (+55 min)",
        "Still open now: 1",
        "  INC-5 SEV4 investigating “Icona sbagliata” · opened 2025-03-30 11:00 CEST",
    ]


def test_a_component_removed_since_keeps_its_impact_in_the_digest(
    ctx: Context, clock: FakeClock
) -> None:
    make_component(ctx, "dns", "DNS")
    make_component(ctx, "fax", "Fax")
    _weeks_12_and_13(ctx, clock)
    at(clock, "2025-03-18 10:00")  # W12: DNS down for an hour, the week before only
    run(ctx, "open DNS giù --sev 2 --components dns")
    at(clock, "2025-03-18 11:00")
    run(ctx, "resolve 6")
    at(clock, "2025-03-31 09:00")
    for key in ("web", "dns", "fax"):
        run(ctx, f"components remove {key}")
    found = digest(ctx)
    # Web's 240 minutes and DNS's 60 of the week before stay; Fax never had any.
    assert [(a.name, a.impact_minutes, a.previous_impact_minutes) for a in found.availability] == [
        ("Posta", 60, 120),
        ("Web", 240, 0),
        ("DNS", 0, 60),
    ]
    lines = digest_text(found).splitlines()
    assert "  Web: 97.60 % (−2.40 pt) · 240 min of impact (+240 min)" in lines
    assert "  DNS: 100.00 % (+0.60 pt) · 0 min of impact (−60 min)" in lines
    assert not any("Fax" in line for line in lines)


def test_many_components_list_those_with_impact_then_one_line_for_the_rest(
    ctx: Context, clock: FakeClock
) -> None:
    for n in range(1, 49):
        make_component(ctx, f"c{n:02d}", f"Servizio {n:02d}")
    _weeks_12_and_13(ctx, clock)
    lines = digest_text(digest(ctx)).splitlines()
    start = lines.index("Availability per component (SEV1–3 impact):")
    assert lines[start + 1 : start + 4] == [
        "  Posta: 99.40 % (+0.60 pt) · 60 min of impact (−60 min)",
        "  Web: 97.60 % (−2.40 pt) · 240 min of impact (+240 min)",
        "  48 other components: 100.00 % (±0 pt)",
    ]
    assert lines[start + 4].startswith("Maintenance done:")


def test_up_to_twelve_components_are_all_listed(ctx: Context, clock: FakeClock) -> None:
    for n in range(1, 11):
        make_component(ctx, f"c{n:02d}", f"Servizio {n:02d}")
    _weeks_12_and_13(ctx, clock)
    lines = digest_text(digest(ctx)).splitlines()
    assert "  Servizio 10: 100.00 % (±0 pt) · 0 min of impact (±0 min)" in lines
    assert sum(line.endswith("min of impact (±0 min)") for line in lines) == 10


def test_a_week_without_anything_says_so_without_failing(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    found = digest(make_context(sessions, clock), "2025-W01")
    assert found.availability == ()
    assert all(sum(d.by_severity.values()) == 0 for d in found.days)
    assert digest_text(found).splitlines() == [
        "Stato servizi · weekly digest 2025-W01 (Mon 30/12/2024 → Sun 05/01/2025, Europe/Rome);"
        " changes are from the week before.",
        "Incidents opened: 0 (±0)",
        *(f"  SEV{severity}: 0 (±0)" for severity in (1, 2, 3, 4)),
        "Resolved: 0 (±0)",
        "Mean time to first public update: n/a",
        "Mean time to resolve: n/a",
        "Longest incident: n/a (none resolved)",
        "Incident time: 0 s (±0)",
        "Maintenance done: 0 (±0) · 0 min (±0 min)",
        "Still open now: 0",
    ]


def test_past_twenty_open_the_digest_points_to_herald_list(ctx: Context, clock: FakeClock) -> None:
    at(clock, "2025-01-28 10:00")
    for n in range(1, 27):
        run(ctx, f"open Guasto {n} --sev 3")
    at(clock, "2025-02-03 10:00")
    lines = digest_text(digest(ctx)).splitlines()
    assert lines[lines.index("Still open now: 26") + 1 :] == [
        *(
            f"  INC-{n} SEV3 investigating “Guasto {n}” · opened 2025-01-28 10:00 CET"
            for n in range(26, 6, -1)
        ),
        "  … and 6 more: herald list",
    ]


def test_the_current_week_counts_so_far_and_a_future_week_is_refused(
    ctx: Context, clock: FakeClock
) -> None:
    at(clock, "2025-01-28 10:00")  # Tuesday of W05
    run(ctx, "open Posta giù --sev 2 --components posta")
    at(clock, "2025-01-29 10:00")
    found = digest(ctx, "2025-W05")
    assert found.partial
    assert found.figures.end == clock.current
    # 58 hours of the week so far (Monday 00:00 to Wednesday 10:00), 24 of them with impact.
    assert found.availability[0] == Availability("Posta", 24 * 60, 0, 100 - 100 * 24 / 58, 100.0)
    assert "so far until 2025-01-29 10:00 CET" in digest_text(found).splitlines()[0]
    with pytest.raises(UsageError, match="2025-W06 has not begun yet; give 2025-W04"):
        digest(ctx, "2025-W06")


def test_the_demo_weeks_match_a_hand_count(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    clock.current = datetime(2025, 6, 2, 8, tzinfo=UTC)
    ctx = make_context(sessions, clock)
    load_demo(ctx)
    # INC-4: opened 14/03/2024 09:20, first update 10:05, resolved 13:15, Posta only.
    march = digest(ctx, "2024-W11")
    assert march.figures.opened_by_severity == {1: 0, 2: 1, 3: 0, 4: 0}
    assert march.figures.mean_time_to_first_update == 45 * 60
    assert march.figures.mean_time_to_resolve == (3 * 60 + 55) * 60
    assert [(a.name, a.impact_minutes) for a in march.availability] == [
        ("Posta", 235),
        ("Web", 0),
        ("DNS", 0),
    ]
    assert "  Posta: 97.66 % (−2.34 pt) · 235 min of impact (+235 min)" in digest_text(march)
    # INC-5: SEV1 on Posta, Web and DNS from 28/01/2025 14:50 to 16:30, no update between.
    january = digest(ctx, "2025-W05")
    assert january.figures.opened_by_severity == {1: 1, 2: 0, 3: 0, 4: 0}
    assert january.figures.mean_time_to_first_update == 100 * 60
    assert january.days[1].by_severity == {1: 1, 2: 0, 3: 0, 4: 0}  # Tuesday
    assert {a.impact_minutes for a in january.availability} == {100}
    assert "  DNS: 99.00 % (−1.00 pt) · 100 min of impact (+100 min)" in digest_text(january)
    # INC-3: SEV3 on Posta from 11/10/2023 09:15 CEST to 12/10 18:00, update at 12/10 10:53.
    october = digest(ctx, "2023-W41")
    assert october.figures.mean_time_to_first_update == (25 * 60 + 38) * 60
    assert october.availability[0].impact_minutes == 32 * 60 + 45
    # Maintenance 1 ran 10:00–10:45 on 22/05/2021, maintenance 2 10:00–11:30 on 05/06/2021.
    may, june = digest(ctx, "2021-W20"), digest(ctx, "2021-W22")
    assert (may.figures.maintenance_done, may.figures.maintenance_seconds) == (1, 45 * 60)
    assert (june.figures.maintenance_done, june.figures.maintenance_seconds) == (1, 90 * 60)
    assert "Maintenance done: 1 (+1) · 90 min (+90 min)" in digest_text(june)
