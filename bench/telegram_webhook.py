"""Telegram webhook `/incident open`: `herald web` beside a bare PTB app that only answers 200.

Each request is a Telegram Update POSTed to /telegram/webhook with the secret-token header:
a responder (one of ten) writes `/incident open Bench <n> --sev 3` in the ops supergroup.
Herald is `herald web` on a fresh SQLite file; the bare app is python-telegram-bot's
Application without an Updater behind a Starlette route, as in PTB's Starlette example: it
checks the secret, decodes the update, queues it for a handler that does nothing, and sends
no reply. Both are served the same way (a uvicorn subprocess, one worker) and driven the same
way, one after the other in one run: at each rate of --rate-list for --seconds (open loop: a
request leaves on time whether or not the last one was answered), then as fast as --clients
clients can go for --burst-seconds. Measured: the time to the 200 and, for Herald, the time
from an update leaving to the fake Telegram recording Herald's reply to that message. The
issue's targets are printed beside the figures: p99 to the 200 at most 50 ms at 20/s, and
throughput at 100/s at least half the bare app's.

The fake Telegram Bot API (tests.fakes.telegram) runs in a process of its own, so its work
does not slow the load generator down; it stamps calls with time.monotonic, one clock for
every process on Linux, so its stamps compare with the sender's. Its rate limits are off
(no per-chat, per-group or global limit): Telegram's 20 messages a minute in a group would
otherwise be all the reply columns show.

Run from the repository root:  python -m bench.telegram_webhook [--rate-list 20,100] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.slack_commands import free_port, wait_ready
from tests.fakes.telegram import FakeTelegram

THIS_SCRIPT = (sys.executable, "-m", "bench.telegram_webhook")  # it also runs the fake and bare app
TOKEN = "123456:BENCH-TOKEN"
SECRET = "bench-secret_123"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEADERS = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
OPS_CHAT = -1001000000001
RESPONDERS = [7_000_001 + n for n in range(10)]
HERALD = "herald web"
BARE = "bare PTB app"
P99_TARGET_MS = 50.0
P99_TARGET_RATE = 20.0
THROUGHPUT_TARGET = 0.5
THROUGHPUT_TARGET_RATE = 100.0
DRAIN_SECONDS = 90.0  # longest wait for Herald's replies after a phase
STALL_SECONDS = 10.0  # ...unless none arrive for this long
BURST_CEILING = 2000  # requests a second no target reaches here: messages minted for the burst


@dataclass
class Phase:
    """One phase against one target."""

    target: str
    phase: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    def percentile(self, share: float) -> float:
        """A latency percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    @property
    def throughput(self) -> float:
        """Answered requests per second over the phase."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        """The phase as a table row."""
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"{self.target:<14} {self.phase:<16} {len(self.latencies) + self.failures:>6} "
            f"{self.failures:>6} {self.percentile(0.50):>8.1f} {self.percentile(0.99):>8.1f} "
            f"{mean:>8.1f} {self.throughput:>8.1f}"
        )


@dataclass
class WebhookRun(Phase):
    """A phase against one target; for Herald, also the time from each update to its reply."""

    rate: float | None = None  # None: the closed-loop burst
    posted: list[tuple[int, float]] = field(default_factory=list)  # message_id, monotonic
    why: Counter[str] = field(default_factory=Counter)  # failures by status or exception
    replies: list[float] = field(default_factory=list)

    def row(self) -> str:
        """The run as a table row, reply columns last."""
        if not self.replies:
            return f"{super().row()} {'-':>9} {'-':>9} {'-':>7}"
        return (
            f"{super().row()} {milliseconds(self.replies, 0.50):>9.1f} "
            f"{milliseconds(self.replies, 0.99):>9.1f} {len(self.replies):>7}"
        )


def milliseconds(seconds: list[float], share: float) -> float:
    """A percentile of durations, in milliseconds."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


class FakeTelegramProcess:
    """tests.fakes.telegram.FakeTelegram in a subprocess, with the ops group's messages minted.

    Herald replies to the command's message, and the fake refuses a reply to a message it
    does not know, so the people's messages the updates carry are made in the fake first.
    """

    def __init__(self, messages: int) -> None:
        self.process = subprocess.Popen(
            [*THIS_SCRIPT, "--fake-telegram", "--messages", str(messages)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started = self._read()
        self.api_url: str = started["api_url"]
        self.message_ids: list[int] = started["message_ids"]

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the fake Telegram exited with {self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def state(self) -> tuple[str, int]:
        """The webhook URL set on the fake, and how many people's messages got a reply."""
        assert self.process.stdin is not None
        self.process.stdin.write("state\n")
        self.process.stdin.flush()
        state = self._read()
        return str(state["webhook_url"]), int(state["replied"])

    def finish(self) -> dict[str, Any]:
        """Stop the fake; return its replies (message replied to, monotonic time) and refusals."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        stats = self._read()
        self.process.wait(timeout=30)
        return stats


def serve_fake_telegram(messages: int) -> None:
    """Run the fake until stdin closes, answering `state` lines; JSON lines on stdout."""
    # time.monotonic is CLOCK_MONOTONIC on Linux, shared by every process on the machine
    with FakeTelegram(
        token=TOKEN,
        clock=time.monotonic,
        global_per_second=None,
        per_chat_per_second=None,
        group_per_minute=None,
    ) as telegram:
        telegram.add_chat(OPS_CHAT, "supergroup", "Ops")
        minted = [
            telegram.add_user_message(OPS_CHAT, "/incident open")["message"]["message_id"]
            for _ in range(messages)
        ]
        print(json.dumps({"api_url": telegram.api_url, "message_ids": minted}), flush=True)
        for line in sys.stdin:
            if line.strip() == "state":
                replied = len({reply_to for reply_to, _ in group_replies(telegram)})
                state = {"webhook_url": telegram.webhook_url, "replied": replied}
                print(json.dumps(state), flush=True)
        refused = sum(1 for call in telegram.calls("sendMessage") if call.status != 200)
        print(json.dumps({"replies": list(group_replies(telegram)), "refused": refused}))


def group_replies(telegram: FakeTelegram) -> Iterator[tuple[int, float]]:
    """(message replied to, when) for each message the bot got into the ops group."""
    for call in telegram.calls("sendMessage"):
        params = call.params
        if call.status != 200 or str(params.get("chat_id")) != str(OPS_CHAT):
            continue
        reply = params.get("reply_parameters")
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        reply_to = reply_to or params.get("reply_to_message_id")
        if reply_to is not None:
            yield int(reply_to), call.at


def update_body(number: int, message_id: int) -> bytes:
    """Update `number`: a responder writes `/incident open Bench <number> --sev 3` in the group."""
    text = f"/incident open Bench {number} --sev 3"
    update = {
        "update_id": number,
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": OPS_CHAT, "type": "supergroup", "title": "Ops"},
            "from": {
                "id": RESPONDERS[number % len(RESPONDERS)],
                "is_bot": False,
                "first_name": "Bench",
            },
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len("/incident")}],
        },
    }
    return json.dumps(update).encode()


class Updates:
    """Update ids counting up from 1, each with a message minted in the fake, until those end."""

    def __init__(self, message_ids: list[int]) -> None:
        self._pairs = zip(itertools.count(1), message_ids, strict=False)

    def next(self) -> tuple[int, int] | None:
        """The next update_id and message_id, or None when the minted messages are used up."""
        return next(self._pairs, None)


async def _send(
    client: httpx.AsyncClient, url: str, update: tuple[int, int], run: WebhookRun
) -> None:
    number, message_id = update
    body = update_body(number, message_id)
    # monotonic, not perf_counter: the fake's reply stamps are compared with it
    started = time.monotonic()
    try:
        response = await client.post(url, content=body, headers=HEADERS)
    except httpx.HTTPError as error:
        run.failures += 1
        run.why[type(error).__name__] += 1
        return
    if response.status_code == 200:
        run.latencies.append(time.monotonic() - started)
        run.posted.append((message_id, started))
    else:
        run.failures += 1
        run.why[f"HTTP {response.status_code}"] += 1


async def paced(url: str, updates: Updates, target: str, rate: float, seconds: float) -> WebhookRun:
    """Open loop: request n leaves at n / rate seconds, answered or not."""
    run = WebhookRun(target, f"{rate:g}/s for {seconds:g} s", rate=rate)
    async with httpx.AsyncClient(timeout=10) as client:
        tasks = []
        start = time.monotonic()
        for number in range(int(rate * seconds)):
            delay = start + number / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            update = updates.next()
            if update is None:
                break
            tasks.append(asyncio.create_task(_send(client, url, update, run)))
        await asyncio.gather(*tasks)
        run.seconds = time.monotonic() - start
    return run


async def saturated(
    url: str, updates: Updates, target: str, clients: int, seconds: float
) -> WebhookRun:
    """Closed loop: each client sends its next request as soon as the last is answered."""
    run = WebhookRun(target, f"{clients} clients, {seconds:g} s")
    async with httpx.AsyncClient(timeout=10) as client:
        start = time.monotonic()
        end = start + seconds

        async def one_client() -> None:
            while time.monotonic() < end and (update := updates.next()) is not None:
                await _send(client, url, update, run)

        await asyncio.gather(*(one_client() for _ in range(clients)))
        run.seconds = time.monotonic() - start
    return run


def herald_environment(workdir: Path, port: int, telegram: FakeTelegramProcess) -> dict[str, str]:
    """The environment of `herald web` on a fresh SQLite file, Telegram pointed at the fake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{workdir / 'herald.db'}",
        HOST="127.0.0.1",
        PORT=str(port),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=telegram.api_url,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_OPS_CHATS=str(OPS_CHAT),
        TELEGRAM_RESPONDERS=",".join(map(str, RESPONDERS)),
        LOG_LEVEL="WARNING",
    )
    return env


def start_herald(
    workdir: Path, port: int, telegram: FakeTelegramProcess
) -> subprocess.Popen[bytes]:
    """`herald db upgrade`, then `herald web` (from the scratch directory: no .env there)."""
    env = herald_environment(workdir, port, telegram)
    upgrade = [sys.executable, "-m", "bot", "db", "upgrade"]
    done = subprocess.run(upgrade, cwd=workdir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"herald db upgrade failed:\n{done.stderr}{done.stdout}")
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "web"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "herald.log").open("wb"),
    )


def start_bare(port: int, telegram: FakeTelegramProcess) -> subprocess.Popen[bytes]:
    """This module's bare app: PTB's Application behind a Starlette route that answers 200."""
    return subprocess.Popen(
        [*THIS_SCRIPT, "--bare-app", "--port", str(port), "--api-url", telegram.api_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def serve_bare_app(port: int, api_url: str) -> None:
    """Serve PTB's webhook as its Starlette example does, with one handler that does nothing."""
    import secrets

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route
    from telegram import Update
    from telegram.ext import Application, CommandHandler, ContextTypes

    application = Application.builder().token(TOKEN).base_url(api_url).updater(None).build()

    async def ignore(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Take the command and do nothing."""

    application.add_handler(CommandHandler("incident", ignore))

    async def webhook(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not secrets.compare_digest(given.encode(), SECRET.encode()):
            return Response(status_code=403)
        await application.update_queue.put(Update.de_json(await request.json(), application.bot))
        return Response()

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with application:
            await application.bot.set_webhook(
                f"http://127.0.0.1:{port}/telegram/webhook",
                allowed_updates=Update.ALL_TYPES,
                secret_token=SECRET,
            )
            await application.start()
            yield
            await application.stop()

    web = Starlette(
        routes=[
            Route("/telegram/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
    uvicorn.run(web, host="127.0.0.1", port=port, log_config=None, proxy_headers=True)


def wait_webhook(telegram: FakeTelegramProcess, url: str, deadline: float = 30.0) -> None:
    """Wait until the target has set its webhook on the fake."""
    end = time.monotonic() + deadline
    while telegram.state()[0] != url:
        if time.monotonic() > end:
            raise SystemExit(f"the webhook was not set to {url}")
        time.sleep(0.1)


def wait_replies(telegram: FakeTelegramProcess, expected: int) -> float:
    """Wait until `expected` messages have a reply, or none came for a while; seconds waited."""
    start = last_change = time.monotonic()
    seen = -1
    while True:
        replied = telegram.state()[1]
        now = time.monotonic()
        if replied >= expected or now > start + DRAIN_SECONDS or now > last_change + STALL_SECONDS:
            return now - start
        if replied != seen:
            seen, last_change = replied, now
        time.sleep(0.05)


def count_incidents(database: Path) -> int:
    """How many incidents Herald saved."""
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT count(*) FROM incident").fetchone()[0])


@dataclass
class Outcome:
    """Everything one target produced: its phases, and for Herald what it saved and sent."""

    runs: list[WebhookRun]
    saved: int = 0
    replies: int = 0  # messages the bot got into the group in reply to a command
    replied: int = 0  # commands with at least one reply
    refused: int = 0
    drained: float = 0.0  # seconds the last phase's replies took after its last 200


def measure(target: str, workdir: Path, args: argparse.Namespace) -> Outcome:
    """Every phase against one target, with a fake Telegram of its own."""
    budget = int(sum(args.rate_list) * args.seconds + BURST_CEILING * args.burst_seconds)
    telegram = FakeTelegramProcess(budget)
    updates = Updates(telegram.message_ids)
    port = free_port()
    herald = target == HERALD
    process = start_herald(workdir, port, telegram) if herald else start_bare(port, telegram)
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/telegram/webhook"
    outcome = Outcome([])
    try:
        try:
            wait_ready(f"{base}/healthz", process)
            wait_webhook(telegram, url)
        except SystemExit:
            if herald:
                sys.stderr.write((workdir / "herald.log").read_text(errors="replace")[-3000:])
            raise
        for rate in args.rate_list:
            outcome.runs.append(asyncio.run(paced(url, updates, target, rate, args.seconds)))
            if herald:
                outcome.drained = wait_replies(telegram, answered(outcome.runs))
        if args.burst_seconds > 0:
            burst = saturated(url, updates, target, args.clients, args.burst_seconds)
            outcome.runs.append(asyncio.run(burst))
            if herald:
                outcome.drained = wait_replies(telegram, answered(outcome.runs))
        if herald:
            outcome.saved = count_incidents(workdir / "herald.db")
    finally:
        process.terminate()
        process.wait(timeout=30)
        stats = telegram.finish()
    first_reply: dict[int, float] = {}
    for message_id, at in stats["replies"]:
        first_reply.setdefault(message_id, at)
    for run in outcome.runs:
        run.replies = [first_reply[m] - t for m, t in run.posted if m in first_reply]
    outcome.replies, outcome.replied = len(stats["replies"]), len(first_reply)
    outcome.refused = stats["refused"]
    return outcome


def answered(runs: list[WebhookRun]) -> int:
    """Updates answered 200 so far."""
    return sum(len(run.latencies) for run in runs)


def main() -> None:
    """Run both targets and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--rate-list", type=rates, default=[P99_TARGET_RATE, THROUGHPUT_TARGET_RATE]
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--burst-seconds", type=float, default=5.0, help="0 skips the burst")
    parser.add_argument(
        "--targets",
        type=lambda text: text.split(","),
        default=["herald", "bare"],
        help="herald, bare or both (herald,bare)",
    )
    parser.add_argument("--bare-app", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fake-telegram", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--api-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_app:
        serve_bare_app(args.port, args.api_url)
        return
    if args.fake_telegram:
        serve_fake_telegram(args.messages)
        return
    names = {"herald": HERALD, "bare": BARE}
    unknown = set(args.targets) - names.keys()
    if unknown:
        parser.error(f"unknown target {', '.join(sorted(unknown))}; use herald, bare or both")
    print(
        f"python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs), "
        f"load average before {load_average()}"
    )
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for key in args.targets:
            outcomes[names[key]] = measure(names[key], Path(scratch), args)
    report(outcomes)
    # other processes on the machine skew every column; this says whether there were any
    print(f"load average after {load_average()}")


def load_average() -> str:
    """The 1, 5 and 15-minute load averages."""
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def rates(text: str) -> list[float]:
    """--rate-list: requests a second, comma-separated."""
    return [float(part) for part in text.split(",") if part.strip()]


def report(outcomes: dict[str, Outcome]) -> None:
    """The table, then the issue's targets beside the figures they are about."""
    print(
        f"{'target':<14} {'phase':<16} {'sent':>6} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'mean ms':>8} {'req/s':>8} {'reply p50':>9} {'reply p99':>9} {'replied':>7}"
    )
    for outcome in outcomes.values():
        for run in outcome.runs:
            print(run.row())
    for outcome in outcomes.values():
        for run in outcome.runs:
            if run.why:
                kinds = ", ".join(f"{kind} ×{count}" for kind, count in run.why.most_common())
                print(f"failed, {run.target} at {run.phase}: {kinds}")
    herald, bare = outcomes.get(HERALD), outcomes.get(BARE)
    if herald is not None:
        print(
            f"\n{HERALD} saved {herald.saved} of {answered(herald.runs)} incidents; the group got "
            f"{herald.replies} replies to {herald.replied} of the commands (the last "
            f"{herald.drained:.1f} s after the last 200); the fake refused {herald.refused} "
            "sendMessage calls. A reply's time runs from its update leaving to the fake "
            "recording the first reply to it."
        )
    print()
    for line in verdicts(herald, bare):
        print(line)


def verdicts(herald: Outcome | None, bare: Outcome | None) -> Iterator[str]:
    """One line per target of the issue: the figure, the target, met or MISSED."""
    steady = find(herald, P99_TARGET_RATE)
    if steady is None:
        yield f"p99 to the 200 at {P99_TARGET_RATE:g}/s ≤ {P99_TARGET_MS:g} ms: not measured"
    else:
        p99 = steady.percentile(0.99)
        yield (
            f"p99 to the 200 at {P99_TARGET_RATE:g}/s: {p99:.1f} ms (target ≤ {P99_TARGET_MS:g} "
            f"ms) {'met' if p99 <= P99_TARGET_MS else 'MISSED'}"
        )
    mine, theirs = find(herald, THROUGHPUT_TARGET_RATE), find(bare, THROUGHPUT_TARGET_RATE)
    if mine is None or theirs is None or not theirs.throughput:
        yield (
            f"throughput at {THROUGHPUT_TARGET_RATE:g}/s ≥ {THROUGHPUT_TARGET:.0%} of the bare "
            "app's: not measured"
        )
    else:
        share = mine.throughput / theirs.throughput
        yield (
            f"throughput at {THROUGHPUT_TARGET_RATE:g}/s: {mine.throughput:.1f}/s, {share:.0%} of "
            f"the bare app's {theirs.throughput:.1f}/s (target ≥ {THROUGHPUT_TARGET:.0%}) "
            f"{'met' if share >= THROUGHPUT_TARGET else 'MISSED'}"
        )
    mine, theirs = find(herald, None), find(bare, None)
    if herald is not None and mine is not None and theirs is not None and theirs.throughput:
        # the burst is the last phase, so `drained` is the time its replies took after it
        replied = len(mine.replies) / (mine.seconds + herald.drained)
        yield (
            f"flat out ({mine.phase}): Herald answered {mine.throughput:.0f}/s, "
            f"{mine.throughput / theirs.throughput:.0%} of the bare app's "
            f"{theirs.throughput:.0f}/s, and replied to about {replied:.0f} commands a second"
        )


def find(outcome: Outcome | None, rate: float | None) -> WebhookRun | None:
    """The outcome's run at this rate (None: its burst)."""
    if outcome is None:
        return None
    return next((run for run in outcome.runs if run.rate == rate), None)


if __name__ == "__main__":
    main()
