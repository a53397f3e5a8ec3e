"""Fan one update out to many channels against fakes that enforce the platforms' rate limits.

Run from the repository root:  python -m bench.fanout [--telegram 1000] [--slack 200]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import col, func, select

from bot.delivery.limits import RateLimits, RateSettings
from bot.delivery.senders import Sender
from bot.delivery.slack import SlackSender
from bot.delivery.telegram import TelegramSender
from bot.delivery.worker import DeliveryWorker, WorkerSettings
from commands.context import Actor, Context
from commands.dispatch import run_text
from storage.channels import create_channel
from storage.engine import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import Delivery, DeliveryState, Platform, utcnow
from tests.factories import ROME
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram

TELEGRAM_TOKEN = "123456:BENCH-TOKEN"
SLACK_TOKEN = "xoxb-bench-token"


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


async def fan_out(
    platform: Platform,
    addresses: list[str],
    sender_for: object,
    floor: float,
    fake: FakeTelegram | FakeSlack,
    workdir: Path,
) -> Result:
    engine = make_engine(f"sqlite:///{workdir / f'{platform.value}.db'}")
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
    limits = RateLimits(RateSettings(), clock=utcnow)
    assert callable(sender_for)
    sender: Sender = sender_for(limits)
    worker = DeliveryWorker(
        sessions,
        {platform: sender},
        limits,
        zone=ROME,
        clock=utcnow,
        settings=WorkerSettings(poll_seconds=0.2),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    started = time.perf_counter()
    run_text("open Guasto esteso sulla posta --sev 1 --message Stiamo verificando", ctx)
    worker.wake()

    def waiting() -> int:
        with sessions() as session:
            return int(
                session.exec(
                    select(func.count())
                    .select_from(Delivery)
                    .where(col(Delivery.state).in_((DeliveryState.PENDING, DeliveryState.FAILED)))
                ).one()
            )

    while await asyncio.to_thread(waiting):
        await asyncio.sleep(0.05)
        if time.perf_counter() - started > floor * 3:
            break
    makespan = time.perf_counter() - started
    stop.set()
    await task
    await sender.close()
    lost = await asyncio.to_thread(waiting)
    if isinstance(fake, FakeSlack):
        received = sum(len(fake.messages(a)) for a in addresses)
    else:
        received = sum(len(fake.messages(int(a))) for a in addresses)
    lost += len(addresses) - received
    engine.dispose()
    return Result(platform.value, len(addresses), floor, makespan, fake.too_many_requests, lost)


async def main(telegram_channels: int, slack_channels: int) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if telegram_channels:
            with FakeTelegram(token=TELEGRAM_TOKEN, global_per_second=30) as telegram:
                chats = [str(-1_000_000_000 - n) for n in range(telegram_channels)]
                for chat in chats:
                    telegram.add_chat(int(chat), "channel")
                results.append(
                    await fan_out(
                        Platform.TELEGRAM,
                        chats,
                        lambda limits: TelegramSender(
                            TELEGRAM_TOKEN, api_url=telegram.api_url, limits=limits
                        ),
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
                results.append(
                    await fan_out(
                        Platform.SLACK,
                        channels,
                        lambda limits: SlackSender(
                            SLACK_TOKEN, api_url=slack.api_url, limits=limits
                        ),
                        slack_channels / 5,
                        slack,
                        workdir,
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
    report(asyncio.run(main(args.telegram, args.slack)))
