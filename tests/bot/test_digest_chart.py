"""The digest's chart: a PNG of a fixed size, for busy weeks and empty ones."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest
from matplotlib.figure import Figure
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.digest.chart import (
    HEIGHT_PX,
    WIDTH_PX,
    axis_floor,
    chart_figure,
    chart_filename,
    chart_rows,
    render_chart,
)
from commands.context import Context
from commands.digest import Availability, IsoWeek, build_digest
from tests.factories import FakeClock, make_component, make_context, run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header, after checking it is one."""
    assert png[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", png[8:16])
    assert (length, kind) == (13, b"IHDR")  # the first chunk of every PNG
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_the_chart_is_a_png_of_the_stated_size(ctx: Context, clock: FakeClock) -> None:
    for key in ("dns", "pec", "voip", "fibra", "adsl", "backup", "datacenter"):
        make_component(ctx, key)
    for sev, components in ((1, "posta,web"), (2, "dns"), (3, "fibra"), (4, "pec"), (2, "posta")):
        run(ctx, f"open Guasto --sev {sev} --components {components}")
        clock.advance(hours=5)
    run(ctx, "resolve 1")
    clock.current = datetime(2025, 2, 3, 8, tzinfo=UTC)
    digest = build_digest(ctx, IsoWeek(2025, 5), "https://status.example", "Stato servizi")
    png = render_chart(digest)
    assert (WIDTH_PX, HEIGHT_PX) == (1200, 900)
    assert png_size(png) == (WIDTH_PX, HEIGHT_PX)
    assert png.endswith(b"IEND\xaeB`\x82")
    assert chart_filename(digest) == "herald-digest-2025-W05.png"


def test_an_empty_week_without_components_still_draws(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    digest = build_digest(make_context(sessions, clock), None, "https://status.example", "")
    assert digest.availability == ()
    assert png_size(render_chart(digest)) == (WIDTH_PX, HEIGHT_PX)


def test_a_week_in_progress_draws_too(ctx: Context, clock: FakeClock) -> None:
    run(ctx, "open Posta giù --sev 1 --components posta")
    clock.advance(days=2)
    digest = build_digest(ctx, IsoWeek(2025, 5), "https://status.example", "Stato servizi")
    assert digest.partial
    assert png_size(render_chart(digest)) == (WIDTH_PX, HEIGHT_PX)


def _rendered_labels(figure: Figure) -> tuple[list[str], str, tuple[float, float]]:
    """The availability panel's row labels, top down, its x label and its x limits."""
    panel = figure.axes[0]
    labels = [label.get_text() for label in panel.get_yticklabels()]
    bottom, top = panel.get_ylim()
    assert bottom > top  # inverted: the first row is drawn on top
    return labels, panel.get_xlabel(), panel.get_xlim()


def test_fifty_components_draw_the_ones_with_impact_and_one_row_for_the_rest(
    ctx: Context, clock: FakeClock
) -> None:
    for n in range(1, 49):
        make_component(ctx, f"c{n:02d}", f"Servizio {n:02d}")
    clock.current = datetime(2025, 1, 28, 9, tzinfo=UTC)
    run(ctx, "open Posta giù --sev 2 --components posta")
    run(ctx, "open Tutto giù --sev 1 --components c07,posta")
    clock.advance(hours=2)
    run(ctx, "resolve 2")
    clock.advance(hours=2)
    run(ctx, "resolve 1")
    clock.current = datetime(2025, 2, 3, 8, tzinfo=UTC)
    digest = build_digest(ctx, IsoWeek(2025, 5), "https://status.example", "Stato servizi")
    assert len(digest.availability) == 50
    labels, xlabel, (left, _) = _rendered_labels(chart_figure(digest))
    assert labels == ["Posta", "Servizio 07", "48 others at 100 %"]
    assert left == 95.0
    assert xlabel == "% of the week without impact (axis from 95 %)"
    assert png_size(render_chart(digest)) == (WIDTH_PX, HEIGHT_PX)


def _row(name: str, percent: float) -> Availability:
    return Availability(name, 0 if percent == 100 else 1, 0, percent, 100.0)


def test_past_twelve_all_with_impact_the_least_available_eleven_are_drawn() -> None:
    rows = [_row(f"C{n:02d}", 99.0 + n / 100) for n in range(20)]
    shown, note = chart_rows(rows)
    assert [row.name for row in shown] == [f"C{n:02d}" for n in range(11)]
    assert note == "9 more, all ≥ 99.11 %"
    assert chart_rows(rows[:12]) == (rows[:12], None)


@pytest.mark.parametrize(
    ("percents", "floor"),
    [
        ([100.0, 99.4, 97.6], 95.0),
        ([95.01], 95.0),
        ([95.0], 90.0),
        ([100.0, 85.0], 80.0),
        ([82.5], 80.0),
        ([40.3], 40.0),
        ([0.0], 0.0),
        ([], 95.0),
    ],
)
def test_the_availability_axis_starts_at_95_or_a_round_ten_below_the_lowest_bar(
    percents: list[float], floor: float
) -> None:
    assert axis_floor(percents) == floor


def test_a_steep_drop_moves_the_floor_and_says_so(ctx: Context, clock: FakeClock) -> None:
    clock.current = datetime(2025, 1, 27, 9, tzinfo=UTC)
    run(ctx, "open Posta giù --sev 1 --components posta")
    clock.advance(hours=30)  # 1800 of 10,080 minutes: 82.14 %
    run(ctx, "resolve 1")
    clock.current = datetime(2025, 2, 3, 8, tzinfo=UTC)
    digest = build_digest(ctx, IsoWeek(2025, 5), "https://status.example", "Stato servizi")
    labels, xlabel, (left, _) = _rendered_labels(chart_figure(digest))
    assert labels == ["Posta", "Web"]
    assert left == 80.0
    assert xlabel == "% of the week without impact (axis from 80 %)"


def test_a_long_name_is_cut_in_the_middle_so_similar_names_stay_apart(
    ctx: Context, clock: FakeClock
) -> None:
    for n in (1, 2):
        make_component(ctx, f"pop{n}", f"Punto di presenza di Milano via Caldera {n}")
    digest = build_digest(ctx, IsoWeek(2025, 4), "https://status.example", "Stato servizi")
    labels, _, _ = _rendered_labels(chart_figure(digest))
    assert labels[-2:] == ["Punto di presen…no via Caldera 1", "Punto di presen…no via Caldera 2"]
