"""Time the `summary` figures for a month over 100,000 seeded incidents, in-process.

    python -m bench.summary [--runs N] [--database-url URL]

Seeds herald.db in a new temporary directory (or the empty PostgreSQL database
given by --database-url) with 100,000 incidents and 500,000 updates, then calls
`summary_view` for the last 30 days N times after warm-up calls, with the clock
fixed at the moment the data was seeded. Prints p50 and max against the target
and exits 1 when the median misses it. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import common as isp
from bench.seed import database_url, seed
from commands import verbs as v
from commands.context import Actor, Context
from commands.queries import summary_view
from storage.engine import make_engine, make_session_factory

TARGET_MS = 300.0
DEFAULT_RUNS = 20
WARMUP_RUNS = 2
DEFAULT_INCIDENTS = 100_000
DEFAULT_UPDATES_PER_INCIDENT = 5


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
    parser = argparse.ArgumentParser(
        prog="python -m bench.summary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="timed calls")
    parser.add_argument("--warmup", type=int, default=WARMUP_RUNS, help="untimed calls first")
    parser.add_argument(
        "--database-url",
        help="an EMPTY PostgreSQL (or other) database to seed instead of a temporary SQLite file",
    )
    parser.add_argument("--incidents", type=int, default=DEFAULT_INCIDENTS)
    parser.add_argument("--updates-per-incident", type=int, default=DEFAULT_UPDATES_PER_INCIDENT)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-"))
    try:
        url = database_url(args.database_url or str(workdir / "herald.db"))
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            seeded = seed(url, args.incidents, args.updates_per_incident, now=now)
        except ValueError as error:
            print(f"cannot seed: {error}")
            return 2
        print(
            f"seeded {seeded.incidents} incidents ({seeded.open_incidents} open), "
            f"{seeded.updates} updates, {seeded.deliveries} deliveries in {seeded.seconds:.1f} s"
        )
        print(
            f"python {platform.python_version()} on {platform.machine()} "
            f"({os.cpu_count()} CPUs), {url.split(':', 1)[0]}"
        )
        timings = time_summary(url, now=now, runs=args.runs, warmup=args.warmup)
        print()
        print(render("summary_view, month", timings))
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if statistics.median(timings) < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
