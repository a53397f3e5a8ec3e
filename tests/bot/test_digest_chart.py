"""The digest's chart: a PNG of a fixed size, for busy weeks and empty ones."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.digest.chart import HEIGHT_PX, WIDTH_PX, chart_filename, render_chart
from commands.context import Context
from commands.digest import IsoWeek, build_digest
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
