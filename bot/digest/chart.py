"""The weekly digest's chart: availability per component and incidents per day, as one PNG."""

from __future__ import annotations

import io

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from commands.digest import SEVERITIES, Digest, digest_title, shown_percent

WIDTH_PX, HEIGHT_PX = 1200, 900
DPI = 100
SEVERITY_COLORS = {1: "#b71c1c", 2: "#ef6c00", 3: "#f9a825", 4: "#1e88e5"}
BAR_COLOR = "#2e7d32"
MUTED = "#757575"


def chart_filename(digest: Digest) -> str:
    """`herald-digest-2025-W05.png`."""
    return f"herald-digest-{digest.week}.png"


def _axis_floor(percents: list[float]) -> float:
    """Where the availability axis starts: a little below the lowest bar, at most 99 %."""
    lowest = min(percents)
    return max(0.0, min(99.0, 100.0 - (100.0 - lowest) * 1.25))


def _availability_panel(axes: Axes, digest: Digest) -> None:
    axes.set_title("Availability per component (SEV1–3 impact)", loc="left")
    if not digest.availability:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "No components", ha="center", va="center", color=MUTED)
        return
    rows = list(reversed(digest.availability))  # barh draws bottom up; list top down
    percents = [row.percent for row in rows]
    left = _axis_floor(percents)
    right = 100.0 + (100.0 - left) * 0.12
    positions = range(len(rows))
    axes.barh(positions, [p - left for p in percents], left=left, color=BAR_COLOR, height=0.6)
    axes.set_yticks(list(positions), [row.name for row in rows])
    axes.set_xlim(left, right)
    axes.set_xlabel("% of the week without impact")
    for y, percent in zip(positions, percents, strict=True):
        axes.text(percent + (right - left) * 0.01, y, shown_percent(percent), va="center")
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


def render_chart(digest: Digest) -> bytes:
    """The digest's chart as a WIDTH_PX × HEIGHT_PX PNG."""
    # A Figure with its own Agg canvas, never pyplot: no global state to leak between
    # digests, nothing kept alive once the bytes are out, safe in a worker thread.
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    title = digest_title(digest) + (" (so far)" if digest.partial else "")
    figure.suptitle(title, fontsize=16, fontweight="bold")
    top, bottom = figure.subplots(2, 1, height_ratios=(1, 1))
    _availability_panel(top, digest)
    _days_panel(bottom, digest)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
