"""Time the weekly digest for a week over 100,000 seeded incidents, in-process, chart included.

    python -m bench.digest [--runs N] [--database-url URL]

Seeds herald.db in a new temporary directory (or the empty PostgreSQL database
given by --database-url) with 100,000 incidents and 500,000 updates, then builds
the digest of the last complete week before the moment the data was seeded
(its figures and the week before's, per day, per component, what is open) and
renders its chart, N times after warm-up runs. Prints p50 and p95 of the build
(the queries), the chart and the two together against the target, and exits 1
when the total's p95 misses it. Run it from the repository root.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from datetime import datetime

from bench import common as isp
from bench import inprocess
from bot.digest.chart import render_chart
from commands.context import Actor, Context
from commands.digest import build_digest
from storage.engine import make_engine, make_session_factory

TARGET_MS = 1000.0
PUBLIC_URL = "https://status.example.it"


def time_digest(url: str, *, now: datetime, runs: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds of each timed build, chart and total for the last complete week."""
    engine = make_engine(url)
    try:
        ctx = Context(
            sessions=make_session_factory(engine),
            zone=isp.ROME,
            locale="it",
            actor=Actor("bench", "cli"),
            now=lambda: now,
        )
        timings: dict[str, list[float]] = {"build": [], "chart": [], "total": []}
        for n in range(warmup + runs):
            began = time.perf_counter()
            digest = build_digest(ctx, None, PUBLIC_URL, "Stato servizi")
            built = time.perf_counter()
            render_chart(digest)
            drawn = time.perf_counter()
            if n >= warmup:
                timings["build"].append((built - began) * 1000)
                timings["chart"].append((drawn - built) * 1000)
                timings["total"].append((drawn - began) * 1000)
        this = digest.figures
        print(
            f"{digest.week}: {this.opened} opened, {this.resolved} resolved, "
            f"{this.maintenance_done} maintenance done, {len(digest.availability)} components, "
            f"{digest.open_total} open now"
        )
        return timings
    finally:
        engine.dispose()


def p95(runs_ms: Sequence[float]) -> float:
    """The 95th percentile (the largest run when there are fewer than 20)."""
    if len(runs_ms) < 20:
        return max(runs_ms)
    return statistics.quantiles(runs_ms, n=20, method="inclusive")[-1]


def render(timings: dict[str, list[float]]) -> str:
    """A plain table: case, runs, p50, p95 (ms) and, for the total, the verdict."""
    labels = {"build": "digest, build", "chart": "digest, chart", "total": "digest, total"}
    width = max(len("case"), *(len(label) for label in labels.values()))
    header = (
        f"{'case':<{width}}  {'runs':>4}  {'p50':>7}  {'p95':>7}  result (p95 < {TARGET_MS:.0f} ms)"
    )
    rows = [header, "-" * len(header)]
    for key, label in labels.items():
        runs_ms = timings[key]
        verdict = ("PASS" if p95(runs_ms) < TARGET_MS else "FAIL") if key == "total" else ""
        rows.append(
            f"{label:<{width}}  {len(runs_ms):>4}  {statistics.median(runs_ms):>7.1f}  "
            f"{p95(runs_ms):>7.1f}  {verdict}".rstrip()
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, time the digest of a week with its chart, print the table; exit 1 on a miss."""
    args = inprocess.arguments("python -m bench.digest", __doc__, argv)
    try:
        with inprocess.seeded(args) as database:
            timings = time_digest(
                database.url, now=database.now, runs=args.runs, warmup=args.warmup
            )
    except inprocess.SeedRefused as error:
        print(f"cannot seed: {error}")
        return 2
    print()
    print(render(timings))
    return 0 if p95(timings["total"]) < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
