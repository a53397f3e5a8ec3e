"""Fan one update out to many channels against fakes that enforce the platforms' rate limits.

Herald runs as it does in production: a `herald worker` process of its own, on a
SQLite file, talking over HTTP to the fake Telegram or Slack API in this process;
the update is saved here, as the CLI would save it, and the worker picks it up.

Run from the repository root:  python -m bench.fanout [--telegram 1000] [--slack 200]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from commands.context import Actor, Context
from commands.dispatch import run_text
from storage.channels import create_channel
from storage.engine import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import Platform
from storage.outbox import queue_depth
from tests.factories import ROME
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram

TELEGRAM_TOKEN = "123456:BENCH-TOKEN"
SLACK_TOKEN = "xoxb-bench-token"
READY_LINE = "delivery worker"


@dataclass
class Result:
    """One row of the table."""

    platform: str
    channels: int
    floor_s: float
    makespan_s: float
    too_many_requests: int
    lost: int

    @property
    def over_floor(self) -> float:
        return (self.makespan_s / self.floor_s - 1) * 100


def start_worker(database: Path, credentials: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `herald worker` on the database and wait until its delivery loop runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env.update(DATABASE_URL=f"sqlite:///{database}", WORKER_POLL_SECONDS="0.2", **credentials)
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"], env=env, stderr=log.open("w"), cwd=database.parent
    )
    deadline = time.monotonic() + 60
    while READY_LINE not in log.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"herald worker did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return worker


def fan_out(
    platform: Platform,
    addresses: list[str],
    credentials: dict[str, str],
    floor: float,
    fake: FakeTelegram | FakeSlack,
    workdir: Path,
) -> Result:
    database = workdir / f"{platform.value}.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    sessions = make_session_factory(engine)
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
    ctx = Context(sessions, ROME, "it", Actor("bench", "cli"))

    def waiting() -> int:
        with sessions() as session:
            return queue_depth(session=session)[0]

    worker = start_worker(database, credentials, workdir / f"{platform.value}.log")
    try:
        started = time.perf_counter()
        run_text("open Guasto esteso sulla posta --sev 1 --message Stiamo verificando", ctx)
        while waiting() and time.perf_counter() - started < floor * 3:
            time.sleep(0.05)
        makespan = time.perf_counter() - started
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    lost = waiting()
    if isinstance(fake, FakeSlack):
        received = sum(len(fake.messages(a)) for a in addresses)
    else:
        received = sum(len(fake.messages(int(a))) for a in addresses)
    lost += len(addresses) - received
    engine.dispose()
    return Result(platform.value, len(addresses), floor, makespan, fake.too_many_requests, lost)


def main(telegram_channels: int, slack_channels: int) -> list[Result]:
    """Run the Telegram fan-out, then the Slack one; a row each."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
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
                        Platform.SLACK, channels, credentials, slack_channels / 5, slack, workdir
                    )
                )
    return results


def report(results: list[Result]) -> None:
    """Print the table."""
    print(
        f"{'platform':<10}{'channels':>9}{'floor s':>9}{'makespan s':>12}{'over floor':>12}"
        f"{'429s':>6}{'lost':>6}  result (≤ 10% over floor, no 429, none lost)"
    )
    for r in results:
        ok = r.over_floor <= 10 and r.too_many_requests == 0 and r.lost == 0
        print(
            f"{r.platform:<10}{r.channels:>9}{r.floor_s:>9.1f}{r.makespan_s:>12.1f}"
            f"{r.over_floor:>11.1f}%{r.too_many_requests:>6}{r.lost:>6}  {'PASS' if ok else 'FAIL'}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--telegram", type=int, default=1000, help="Telegram channels (fake: 30/s)")
    parser.add_argument("--slack", type=int, default=200, help="Slack channels (fake: 5/s)")
    args = parser.parse_args()
    report(main(args.telegram, args.slack))
