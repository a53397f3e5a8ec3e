"""Fan one update out to many channels against fakes that enforce the platforms' rate limits.

Herald runs as it does in production: `herald worker` processes of their own, on
a SQLite file per platform or on the EMPTY PostgreSQL database given, talking over
HTTP to the fake Telegram or Slack API in this process; the update is saved here,
as the CLI would save it, and the workers pick it up. Several workers need
PostgreSQL, as in production; they share one bot token per platform.

Run from the repository root:
    python -m bench.fanout [--telegram 1000] [--slack 200]             # 1 worker, SQLite
    python -m bench.fanout --database-url postgresql://…/EMPTY_DB [--workers 3]
"""

from __future__ import annotations

import argparse
import os
import platform as python_platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.delivery.sender_leases import QUIET_START
from commands.context import Actor, Context
from commands.dispatch import run_text
from storage.channels import create_channel, delete_channel, list_channels
from storage.engine import make_engine, make_session_factory, normalize_database_url
from storage.migrate import upgrade
from storage.models import Platform
from storage.outbox import queue_depth
from tests.factories import ROME
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram

TELEGRAM_TOKEN = "123456:BENCH-TOKEN"
SLACK_TOKEN = "xoxb-bench-token"
READY_LINE = "delivery worker"
LISTENING_LINE = "listening for new deliveries"
HOLDER_LINE = "it holds the sender lease"
OVER_FLOOR_PERCENT = 10.0


@dataclass(frozen=True)
class Workers:
    """Where the workers run: one shared database (None: a SQLite file per platform), how many."""

    database_url: str | None
    count: int

    def url_for(self, platform: Platform, workdir: Path) -> str:
        """The database the fan-out to `platform` runs on."""
        return self.database_url or f"sqlite:///{workdir / f'{platform.value}.db'}"


@dataclass
class Result:
    """One row of the table; times in seconds from the save."""

    platform: str
    channels: int
    floor_s: float
    first_s: float | None  # the fake accepted the first message
    last_s: float | None  # the fake accepted the last message
    makespan_s: float  # the last delivery was recorded as sent
    too_many_requests: int
    lost: int
    duplicates: int

    @property
    def over_floor(self) -> float:
        return (self.makespan_s / self.floor_s - 1) * 100

    @property
    def passed(self) -> bool:
        return (
            self.over_floor <= OVER_FLOOR_PERCENT
            and self.too_many_requests == 0
            and self.lost == 0
            and self.duplicates == 0
        )


def start_workers(
    url: str, workers: int, credentials: dict[str, str], workdir: Path, name: str
) -> list[subprocess.Popen[bytes]]:
    """Start `workers` `herald worker` processes on the database; wait until each delivers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env.update(DATABASE_URL=url, WORKER_POLL_SECONDS="0.2", LOG_LEVEL="INFO", **credentials)
    started: list[tuple[subprocess.Popen[bytes], Path]] = []
    for n in range(1, workers + 1):
        log = workdir / f"{name}-worker{n}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            cwd=workdir,
        )
        started.append((process, log))
    processes = [process for process, _ in started]
    # On PostgreSQL a worker also LISTENs for new deliveries: wait for that too, so
    # that every worker is woken by the save, not by its next poll.
    lines = (READY_LINE,) if url.startswith("sqlite") else (READY_LINE, LISTENING_LINE)
    deadline = time.monotonic() + 60
    try:
        for process, log in started:
            while not all(line in log.read_text() for line in lines):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"herald worker did not start:\n{log.read_text()}")
                time.sleep(0.05)
        # One of them holds each platform's sender lease, and sends (after a lease's
        # quiet start): the figure is the fan-out, not the workers starting.
        while url.startswith("postgresql") and not any(
            HOLDER_LINE in log.read_text() for _, log in started
        ):
            if time.monotonic() > deadline:
                raise SystemExit("no herald worker took the sender lease")
            time.sleep(0.05)
        time.sleep(QUIET_START)
    except BaseException:
        stop_workers(processes)
        raise
    return processes


def stop_workers(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every worker (each finishes its sends under way), then kill any left after 60 s."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_empty(url: str) -> None:
    """Refuse a database that already has channels: the update would go to them too."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with make_session_factory(engine)() as session:
            channels = len(list_channels(session=session))
    finally:
        engine.dispose()
    if channels:
        raise SystemExit(f"--database-url: the database has {channels} channels; give an empty one")


def add_channels(sessions: sessionmaker[Session], platform: Platform, addresses: list[str]) -> None:
    """A channel per address, following every incident."""
    with sessions() as session, session.begin():
        for address in addresses:
            create_channel(
                session=session,
                platform=platform,
                address=address,
                locale="it",
                min_severity=None,
                components=[],
            )


def remove_channels(sessions: sessionmaker[Session]) -> None:
    """Delete every channel, so that the next platform's update on a shared database skips them.

    The database was empty, so every channel in it is the bench's.
    """
    with sessions() as session, session.begin():
        for channel in list_channels(session=session):
            delete_channel(session=session, channel=channel)


def sent_at(fake: FakeTelegram | FakeSlack) -> list[float]:
    """When the fake accepted each message (its monotonic clock), in order."""
    method = "chat.postMessage" if isinstance(fake, FakeSlack) else "sendMessage"
    return sorted(call.at for call in fake.calls(method) if call.status == 200)


def messages_per_channel(fake: FakeTelegram | FakeSlack, addresses: list[str]) -> list[int]:
    """How many messages each channel holds, from the fake's records."""
    if isinstance(fake, FakeSlack):
        return [len(fake.messages(a)) for a in addresses]
    return [len(fake.messages(int(a))) for a in addresses]


def fan_out(
    platform: Platform,
    addresses: list[str],
    credentials: dict[str, str],
    floor: float,
    fake: FakeTelegram | FakeSlack,
    workdir: Path,
    workers: Workers,
) -> Result:
    """Save one opening for `addresses`, let the workers deliver it; the row that measures it."""
    url = workers.url_for(platform, workdir)
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    add_channels(sessions, platform, addresses)
    ctx = Context(sessions, ROME, "it", Actor("bench", "cli"))

    def waiting() -> int:
        with sessions() as session:
            return queue_depth(session=session)[0]

    processes = start_workers(url, workers.count, credentials, workdir, platform.value)
    try:
        started = time.monotonic()
        # A title of its own per platform: the same title twice is refused as a repeat.
        title = f"Guasto esteso sulla posta ({platform.value})"
        reply = run_text(f"open {title} --sev 1 --message Stiamo verificando", ctx)
        if not reply.changed:
            raise SystemExit(f"the update was not saved: {reply.text}")
        while waiting() and time.monotonic() - started < floor * 3:
            time.sleep(0.05)
        makespan = time.monotonic() - started
    finally:
        stop_workers(processes)
    # One update: a channel should hold exactly one message. Those with none lost it
    # (whether still queued, given up or never claimed); any more are duplicates.
    counts = messages_per_channel(fake, addresses)
    accepted = sent_at(fake)
    remove_channels(sessions)
    engine.dispose()
    return Result(
        platform=platform.value,
        channels=len(addresses),
        floor_s=floor,
        first_s=accepted[0] - started if accepted else None,
        last_s=accepted[-1] - started if accepted else None,
        makespan_s=makespan,
        too_many_requests=fake.too_many_requests,
        lost=sum(1 for n in counts if n == 0),
        duplicates=sum(n - 1 for n in counts if n > 1),
    )


def main(telegram_channels: int, slack_channels: int, workers: Workers) -> list[Result]:
    """Run the Telegram fan-out, then the Slack one; a row each."""
    if workers.database_url is not None:
        check_empty(workers.database_url)
    results = []
    with tempfile.TemporaryDirectory(prefix="herald-fanout-") as tmp:
        workdir = Path(tmp)
        if telegram_channels:
            with FakeTelegram(token=TELEGRAM_TOKEN, global_per_second=30) as telegram:
                chats = [str(-1_000_000_000 - n) for n in range(telegram_channels)]
                for chat in chats:
                    telegram.add_chat(int(chat), "channel")
                credentials = {
                    "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
                    "TELEGRAM_API_URL": telegram.api_url,
                }
                results.append(
                    fan_out(
                        Platform.TELEGRAM,
                        chats,
                        credentials,
                        telegram_channels / 30,
                        telegram,
                        workdir,
                        workers,
                    )
                )
        if slack_channels:
            with FakeSlack(
                token=SLACK_TOKEN, per_channel_per_second=1, workspace_per_second=5
            ) as slack:
                channels = [f"C{n:010d}" for n in range(slack_channels)]
                for channel in channels:
                    slack.add_channel(channel)
                credentials = {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_API_URL": slack.api_url}
                results.append(
                    fan_out(
                        Platform.SLACK,
                        channels,
                        credentials,
                        slack_channels / 5,
                        slack,
                        workdir,
                        workers,
                    )
                )
    return results


def seconds(value: float | None, width: int) -> str:
    """A time in the table, or a dash when there is none."""
    return f"{value:>{width}.1f}" if value is not None else f"{'-':>{width}}"


def describe(workers: Workers) -> str:
    """The line above the table: Python, the machine and its load now, where the workers run."""
    database = "a SQLite file per platform"
    if workers.database_url is not None:
        database = make_url(workers.database_url).get_backend_name()
    plural = "es" if workers.count > 1 else ""
    load = " ".join(f"{n:.2f}" for n in os.getloadavg())
    return (
        f"python {python_platform.python_version()} ({os.cpu_count()} CPUs, load {load}), "
        f"{workers.count} herald worker process{plural} on {database}"
    )


def report(results: list[Result]) -> bool:
    """Print the table; whether every row passed."""
    print(
        f"{'platform':<10}{'channels':>9}{'floor s':>9}{'1st sent s':>11}{'last sent s':>12}"
        f"{'makespan s':>12}{'over floor':>12}{'429s':>6}{'lost':>6}{'dups':>6}"
        f"  result (≤ {OVER_FLOOR_PERCENT:.0f}% over floor, no 429, none lost, no duplicate)"
    )
    for r in results:
        print(
            f"{r.platform:<10}{r.channels:>9}{r.floor_s:>9.1f}{seconds(r.first_s, 11)}"
            f"{seconds(r.last_s, 12)}{r.makespan_s:>12.1f}{r.over_floor:>11.1f}%"
            f"{r.too_many_requests:>6}{r.lost:>6}{r.duplicates:>6}"
            f"  {'PASS' if r.passed else 'FAIL'}"
        )
    return all(r.passed for r in results)


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, Workers]:
    """The channel counts and where the workers run; several workers only on PostgreSQL."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--telegram", type=int, default=1000, help="Telegram channels (fake: 30/s)")
    parser.add_argument("--slack", type=int, default=200, help="Slack channels (fake: 5/s)")
    parser.add_argument(
        "--database-url",
        help="an EMPTY database (postgresql://…) instead of a temporary SQLite file per platform",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="herald worker processes (more than 1: PostgreSQL)"
    )
    args = parser.parse_args(argv)
    url = normalize_database_url(args.database_url) if args.database_url else None
    if args.workers < 1:
        parser.exit(2, f"{parser.prog}: --workers must be at least 1\n")
    if args.workers > 1 and (url is None or url.startswith("sqlite")):
        parser.exit(
            2,
            f"{parser.prog}: --workers {args.workers} needs PostgreSQL "
            "(--database-url postgresql://…/EMPTY_DB): SQLite runs one worker\n",
        )
    return args, Workers(url, args.workers)


if __name__ == "__main__":
    arguments, workers = parse_args()
    print(describe(workers), flush=True)
    results = main(arguments.telegram, arguments.slack, workers)
    raise SystemExit(0 if report(results) else 1)
