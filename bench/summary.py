"""Time the `summary` figures for a month over 100,000 seeded incidents, in-process.

    python -m bench.summary [--runs N] [--database-url URL]

Seeds herald.db in a new temporary directory (or the empty PostgreSQL database
given by --database-url) with 100,000 incidents and 500,000 updates, then calls
`summary_view` for the last 30 days N times after warm-up calls, with the clock
fixed at the moment the data was seeded. Prints p50 and max against the target
and exits 1 when the median misses it. Run it from the repository root.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from datetime import datetime

from bench import common as isp
from bench import inprocess
from commands import verbs as v
from commands.context import Actor, Context
from commands.queries import summary_view
from storage.engine import make_engine, make_session_factory

TARGET_MS = 300.0


def time_summary(url: str, *, now: datetime, runs: int, warmup: int) -> list[float]:
    """Milliseconds of each timed `summary_view` call for a month."""
    engine = make_engine(url)
    try:
        ctx = Context(
            sessions=make_session_factory(engine),
            zone=isp.ROME,
            locale="it",
            actor=Actor("bench", "cli"),
            now=lambda: now,
        )
        command = v.Summarize(period="month")
        for _ in range(warmup):
            summary_view(command, ctx)
        timings = []
        for _ in range(runs):
            began = time.perf_counter()
            summary_view(command, ctx)
            timings.append((time.perf_counter() - began) * 1000)
        view = summary_view(command, ctx)
        print(
            f"month: {view.opened} opened, {view.resolved} resolved, {view.open_now} open now, "
            f"{len(view.impact)} components with impact"
        )
        return timings
    finally:
        engine.dispose()


def render(label: str, runs_ms: Sequence[float]) -> str:
    """A plain table: case, runs, p50, max (ms) and the verdict."""
    p50 = statistics.median(runs_ms)
    width = max(len("case"), len(label))
    header = (
        f"{'case':<{width}}  {'runs':>4}  {'p50':>7}  {'max':>7}  result (p50 < {TARGET_MS:.0f} ms)"
    )
    verdict = "PASS" if p50 < TARGET_MS else "FAIL"
    row = f"{label:<{width}}  {len(runs_ms):>4}  {p50:>7.1f}  {max(runs_ms):>7.1f}  {verdict}"
    return "\n".join([header, "-" * len(header), row])


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, time summary_view for a month, print the table; exit 1 if it misses the target."""
    args = inprocess.arguments("python -m bench.summary", __doc__, argv)
    try:
        with inprocess.seeded(args) as database:
            timings = time_summary(
                database.url, now=database.now, runs=args.runs, warmup=args.warmup
            )
    except inprocess.SeedRefused as error:
        print(f"cannot seed: {error}")
        return 2
    print()
    print(render("summary_view, month", timings))
    return 0 if statistics.median(timings) < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
