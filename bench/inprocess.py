"""What the in-process benchmarks share: their options, and a freshly seeded database.

python -m bench.summary / python -m bench.digest [--runs N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.seed import database_url, seed

DEFAULT_RUNS = 20
WARMUP_RUNS = 2
DEFAULT_INCIDENTS = 100_000
DEFAULT_UPDATES_PER_INCIDENT = 5


class SeedRefused(Exception):
    """The database given cannot be seeded (it is not empty)."""


@dataclass(frozen=True)
class Seeded:
    """A seeded database and the moment its data was seeded at (the benchmark's clock)."""

    url: str
    now: datetime


def arguments(prog: str, doc: str | None, argv: Sequence[str] | None) -> argparse.Namespace:
    """The options every in-process benchmark takes, parsed."""
    parser = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="timed runs")
    parser.add_argument("--warmup", type=int, default=WARMUP_RUNS, help="untimed runs first")
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
    return args


@contextlib.contextmanager
def seeded(args: argparse.Namespace) -> Iterator[Seeded]:
    """Seed the database the options name (or a temporary SQLite file) and say what it holds."""
    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-"))
    try:
        url = database_url(args.database_url or str(workdir / "herald.db"))
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            done = seed(url, args.incidents, args.updates_per_incident, now=now)
        except ValueError as error:
            raise SeedRefused(str(error)) from None
        print(
            f"seeded {done.incidents} incidents ({done.open_incidents} open), "
            f"{done.updates} updates, {done.deliveries} deliveries in {done.seconds:.1f} s"
        )
        print(
            f"python {platform.python_version()} on {platform.machine()} "
            f"({os.cpu_count()} CPUs), {url.split(':', 1)[0]}"
        )
        yield Seeded(url, now)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
