"""The weekly digest's chart: availability per component and incidents per day, as one PNG."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from commands.digest import (
    LISTED_COMPONENTS,
    SEVERITIES,
    Availability,
    Digest,
    digest_title,
    shown_percent,
)

WIDTH_PX, HEIGHT_PX = 1200, 900
DPI = 100
SEVERITY_COLORS = {1: "#b71c1c", 2: "#ef6c00", 3: "#f9a825", 4: "#1e88e5"}
BAR_COLOR = "#2e7d32"
MUTED = "#757575"
AXIS_FLOOR = 95.0
LABEL_CHARS = 32


def chart_filename(digest: Digest) -> str:
    """`herald-digest-2025-W05.png`."""
    return f"herald-digest-{digest.week}.png"


def axis_floor(percents: list[float]) -> float:
    """Where the availability axis starts: 95 %, or the round ten below the lowest bar."""
    # A fixed floor keeps weeks comparable and a small drop small; an axis hugging the
    # lowest bar (82.5 % for 85 %) would draw a 15-point dip as an empty bar.
    lowest = min(percents, default=100.0)
    if lowest > AXIS_FLOOR:
        return AXIS_FLOOR
    return max(0.0, math.ceil(lowest / 10) * 10 - 10.0)


def chart_rows(availability: Sequence[Availability]) -> tuple[list[Availability], str | None]:
    """The components drawn, least available first, and a note summing up the rest (or None)."""
    ordered = sorted(availability, key=lambda row: row.percent)  # stable: ties keep their order
    if len(ordered) <= LISTED_COMPONENTS:
        return ordered, None
    shown = [row for row in ordered[: LISTED_COMPONENTS - 1] if row.percent < 100.0]
    rest = ordered[len(shown) :]
    if all(row.percent >= 100.0 for row in rest):
        return shown, f"{len(rest)} others at 100 %"
    return shown, f"{len(rest)} more, all ≥ {shown_percent(rest[0].percent)}"


def _label(name: str) -> str:
    # Cut in the middle: long names often differ only at the end ("… Milano 2").
    if len(name) <= LABEL_CHARS:
        return name
    head = (LABEL_CHARS - 1) // 2
    return f"{name[:head]}…{name[head + 1 - LABEL_CHARS :]}"


def _availability_panel(axes: Axes, digest: Digest) -> None:
    axes.set_title("Availability per component (SEV1–3 impact), least available first", loc="left")
    if not digest.availability:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "No components", ha="center", va="center", color=MUTED)
        return
    shown, note = chart_rows(digest.availability)
    percents = [row.percent for row in shown]
    left = axis_floor(percents)
    right = 100.0 + (100.0 - left) * 0.12
    positions = list(range(len(shown)))
    axes.barh(positions, [p - left for p in percents], left=left, color=BAR_COLOR, height=0.6)
    for y, percent in zip(positions, percents, strict=True):
        axes.text(percent + (right - left) * 0.01, y, shown_percent(percent), va="center")
    labels = [_label(row.name) for row in shown]
    if note is not None:
        positions.append(len(shown))
        labels.append(note)
    axes.set_yticks(positions, labels)
    if note is not None:
        axes.get_yticklabels()[-1].set_color(MUTED)
    axes.set_ylim(len(positions) - 0.5, -0.5)  # top down: the least available on top
    axes.set_xlim(left, right)
    step = (100.0 - left) / 5
    axes.set_xticks([left + step * n for n in range(6)])
    axes.xaxis.set_major_formatter("{x:g} %")
    axes.set_xlabel(f"% of the week without impact (axis from {left:g} %)")
    axes.spines[["top", "right"]].set_visible(False)


def _days_panel(axes: Axes, digest: Digest) -> None:
    axes.set_title("Incidents opened per day, by severity", loc="left")
    labels = [f"{day.day:%a %d/%m}" for day in digest.days]
    positions = list(range(len(labels)))
    bottom = [0] * len(labels)
    for severity in SEVERITIES:
        counts = [day.by_severity.get(severity, 0) for day in digest.days]
        axes.bar(
            positions,
            counts,
            bottom=bottom,
            color=SEVERITY_COLORS[severity],
            label=f"SEV{severity}",
            width=0.6,
        )
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    axes.set_xticks(positions, labels)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, max([*bottom, 1]) * 1.15)
    axes.set_ylabel("incidents")
    axes.legend(loc="upper right", ncols=4, frameon=False)
    if not any(bottom):
        axes.text(
            0.5, 0.5, "No incidents opened", transform=axes.transAxes, ha="center", color=MUTED
        )
    axes.spines[["top", "right"]].set_visible(False)


def chart_figure(digest: Digest) -> Figure:
    """The digest's chart as a matplotlib Figure of WIDTH_PX × HEIGHT_PX."""
    # A Figure with its own Agg canvas, never pyplot: no global state to leak between
    # digests, nothing kept alive once the bytes are out, safe in a worker thread.
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    title = digest_title(digest) + (" (so far)" if digest.partial else "")
    figure.suptitle(title, fontsize=16, fontweight="bold")
    top, bottom = figure.subplots(2, 1, height_ratios=(1, 1))
    _availability_panel(top, digest)
    _days_panel(bottom, digest)
    return figure


def render_chart(digest: Digest) -> bytes:
    """The digest's chart as a WIDTH_PX × HEIGHT_PX PNG."""
    figure = chart_figure(digest)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
