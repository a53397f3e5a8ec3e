"""Time `herald list` and `herald show` as whole processes on 10,000 seeded incidents.

    python -m bench.cli_list_show [--runs N] [--database-url URL]

Seeds herald.db in a new temporary directory (or the empty PostgreSQL database
given by --database-url), then runs each command N times after warm-up runs,
start to exit, with DATABASE_URL set and the temporary directory as cwd. Two
floors show what any Python process, and importing SQLModel, cost on this
machine. Wall times are judged; the median CPU time (user + system) and the
load average are shown so a busy machine shows as such (CPU well below wall
time, or a load above the CPU count). Run it from the repository root; exits 1
when a herald command's median misses the target.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.seed import database_url, seed

TARGET_MS = 500.0
DEFAULT_RUNS = 20
WARMUP_RUNS = 2


@dataclass(frozen=True, eq=False)
class Case:
    """One command line to time; floors are there for comparison, not judged."""

    label: str
    argv: tuple[str, ...]
    floor: bool = False


@dataclass(frozen=True)
class Timing:
    """The wall-clock and CPU durations of one case's timed runs, in milliseconds."""

    case: Case
    runs_ms: tuple[float, ...]
    cpu_ms: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median run."""
        return statistics.median(self.runs_ms)

    @property
    def cpu_median(self) -> float:
        """The median CPU time (user + system) of the runs."""
        return statistics.median(self.cpu_ms)

    @property
    def p95(self) -> float:
        """The 95th percentile run, by nearest rank."""
        ordered = sorted(self.runs_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def verdict(self) -> str:
        """PASS or FAIL against the target median; floors are only shown."""
        if self.case.floor:
            return "floor"
        return "PASS" if self.median < TARGET_MS else "FAIL"


class CommandFailed(Exception):
    """A timed command exited with an error, so its timing means nothing."""


def herald_script() -> Path:
    """The installed `herald` console script next to the running Python."""
    return Path(sys.executable).with_name("herald")


def cases(sample_incident_id: int) -> list[Case]:
    """The floors, then the herald commands under test."""
    python, herald = sys.executable, str(herald_script())
    ref = f"INC-{sample_incident_id}"
    return [
        Case("python -c pass", (python, "-c", "pass"), floor=True),
        Case('python -c "import sqlmodel"', (python, "-c", "import sqlmodel"), floor=True),
        Case("herald list", (herald, "list")),
        Case("herald list --all", (herald, "list", "--all")),
        Case(f"herald show {ref}", (herald, "show", ref)),
    ]


def _load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def _children_cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def run_once(case: Case, *, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run the command to exit; return its wall time and CPU time in ms."""
    cpu_before = _children_cpu_ms()
    began = time.perf_counter()
    done = subprocess.run(case.argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed_ms = (time.perf_counter() - began) * 1000
    cpu_ms = _children_cpu_ms() - cpu_before
    if done.returncode != 0:
        raise CommandFailed(
            f"{case.label} exited with {done.returncode}:\n{done.stderr.strip() or done.stdout}"
        )
    return elapsed_ms, cpu_ms


def measure(
    all_cases: Sequence[Case], *, runs: int, warmup: int, cwd: Path, env: dict[str, str]
) -> list[Timing]:
    """Warm up every case (bytecode, page cache), then time them in turns.

    Taking turns spreads the noise of a busy machine over every case alike,
    instead of letting one burst land on one command's runs.
    """
    for case in all_cases:
        for _ in range(warmup):
            run_once(case, cwd=cwd, env=env)
    wall: dict[Case, list[float]] = {case: [] for case in all_cases}
    cpu: dict[Case, list[float]] = {case: [] for case in all_cases}
    for _ in range(runs):
        for case in all_cases:
            elapsed_ms, cpu_ms = run_once(case, cwd=cwd, env=env)
            wall[case].append(elapsed_ms)
            cpu[case].append(cpu_ms)
    return [Timing(case, tuple(wall[case]), tuple(cpu[case])) for case in all_cases]


def child_environment(url: str, workdir: Path) -> dict[str, str]:
    """This environment with DATABASE_URL set and bytecode cached under workdir.

    A normal install keeps .pyc files; PYTHONDONTWRITEBYTECODE (set in some
    sandboxes and CI images) would make every run compile Herald's own modules
    again. A cache prefix in the temporary directory avoids that without
    writing __pycache__ folders into the source tree.
    """
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPYCACHEPREFIX": str(workdir / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def telegram_environment(url: str, workdir: Path, token: str, api_url: str) -> dict[str, str]:
    """child_environment for a Herald on one fake Telegram bot only: no Slack, no other
    bot, and the worker's own poll interval (it is woken by NOTIFY)."""
    env = {
        k: v
        for k, v in child_environment(url, workdir).items()
        if not k.startswith(("SLACK_", "TELEGRAM_", "WORKER_POLL"))
    }
    env.update(TELEGRAM_BOT_TOKEN=token, TELEGRAM_API_URL=api_url, LOG_LEVEL="INFO")
    return env


def render(timings: Sequence[Timing]) -> str:
    """A plain table: command, runs, min, median, p95, max, median CPU (ms) and the verdict."""
    width = max(len("command"), *(len(t.case.label) for t in timings))
    header = (
        f"{'command':<{width}}  {'runs':>4}  {'min':>7}  {'median':>7}  {'p95':>7}  {'max':>7}"
        f"  {'cpu med':>7}  result (median < {TARGET_MS:.0f} ms)"
    )
    lines = [header, "-" * len(header)]
    for t in timings:
        lines.append(
            f"{t.case.label:<{width}}  {len(t.runs_ms):>4}  {min(t.runs_ms):>7.1f}  "
            f"{t.median:>7.1f}  {t.p95:>7.1f}  {max(t.runs_ms):>7.1f}  {t.cpu_median:>7.1f}  "
            f"{t.verdict}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, time every case, print the table; exit 1 if a herald command misses the target."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.cli_list_show",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="timed runs per command")
    parser.add_argument("--warmup", type=int, default=WARMUP_RUNS, help="untimed runs first")
    parser.add_argument(
        "--database-url",
        help="an EMPTY PostgreSQL (or other) database to seed instead of a temporary SQLite file",
    )
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--updates-per-incident", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not herald_script().exists():
        print(f"no herald script at {herald_script()}; run `pip install -e .` in this venv")
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-"))
    timings: list[Timing] = []
    try:
        url = database_url(args.database_url or str(workdir / "herald.db"))
        try:
            seeded = seed(url, args.incidents, args.updates_per_incident)
        except ValueError as error:
            print(f"cannot seed: {error}")
            return 2
        print(
            f"seeded {seeded.incidents} incidents ({seeded.open_incidents} open), "
            f"{seeded.updates} updates, {seeded.deliveries} deliveries in {seeded.seconds:.1f} s"
        )
        dialect = url.split(":", 1)[0]
        print(
            f"python {platform.python_version()} on {platform.machine()} "
            f"({os.cpu_count()} CPUs), {dialect}, cwd {workdir}"
        )
        env = child_environment(url, workdir)
        load_before = _load()
        try:
            timings = measure(
                cases(seeded.sample_incident_id),
                runs=args.runs,
                warmup=args.warmup,
                cwd=workdir,
                env=env,
            )
        except CommandFailed as error:
            print(error)
            return 2
        print()
        print(render(timings))
        print(f"load average before {load_before}, after {_load()}")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(t.verdict == "FAIL" for t in timings) else 0


if __name__ == "__main__":
    raise SystemExit(main())
