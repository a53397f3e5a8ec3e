"""Signed `/incident open …` against `herald serve` and against a bare slack_bolt app that acks.

Both are served the same way (a uvicorn subprocess) and driven the same way, one after the
other in one run: first at a steady 20 requests a second for 30 s (open loop: a request
leaves on time whether or not the last one was answered), then as fast as 16 clients can go
for 10 s. Time to the HTTP response is what Slack's 3-second deadline is about. The fake
Slack Web API that Herald answers through runs in a process of its own, so its work does
not slow the load generator down.

Run from the repository root:  python -m bench.slack_commands [--rate 20] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx

from tests.fakes.slack import FakeSlack

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
INCIDENTS = "C0INCIDENTS"
USERS = [f"U0BENCH{n:02d}" for n in range(10)]
P99_TARGET_MS = 100.0
THROUGHPUT_TARGET = 0.5


@dataclass
class Run:
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
        """The run as a table row."""
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"{self.target:<14} {self.phase:<16} {len(self.latencies) + self.failures:>6} "
            f"{self.failures:>6} {self.percentile(0.50):>8.1f} {self.percentile(0.99):>8.1f} "
            f"{mean:>8.1f} {self.throughput:>8.1f}"
        )


def free_port() -> int:
    """A port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def signed_headers(body: bytes) -> dict[str, str]:
    """Headers of a request signed as Slack signs them."""
    stamp = str(int(time.time()))
    base = f"v0:{stamp}:".encode() + body
    signature = "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }


class FakeSlackProcess:
    """tests.fakes.slack.FakeSlack in a subprocess, with response_urls minted up front."""

    def __init__(self, urls: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.slack_commands", "--fake-slack", "--port", str(urls)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        started = json.loads(self.process.stdout.readline())
        self.api_url: str = started["api_url"]
        self.urls: list[str] = started["response_urls"]

    def response_url(self, number: int) -> str:
        """A response_url the fake accepts (each takes 5 answers, as Slack's do)."""
        return self.urls[number % len(self.urls)]

    def finish(self) -> dict[str, int]:
        """Stop the fake; return what it received."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        stats: dict[str, int] = json.loads(self.process.stdout.readline())
        self.process.wait(timeout=30)
        return stats


def serve_fake_slack(urls: int) -> None:
    """Run the fake until stdin closes: its URLs first, what it received last, as JSON lines."""
    with FakeSlack(token=TOKEN) as slack:
        slack.add_channel(INCIDENTS)
        minted = [slack.response_url() for _ in range(urls)]
        print(json.dumps({"api_url": slack.api_url, "response_urls": minted}), flush=True)
        sys.stdin.read()
        answers = len(slack.calls("response_url"))
        print(json.dumps({"answers": answers, "posted": len(slack.messages(INCIDENTS))}))


def command_body(slack: FakeSlackProcess, number: int, target: str) -> bytes:
    """`/incident open "Bench <target> <n>" --sev 3` from one of the bench users."""
    user = USERS[number % len(USERS)]
    fields = {
        "token": "deprecated",
        "team_id": "T0HERALD",
        "channel_id": "C0WARROOM",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/incident",
        "text": f'open "Bench {target} {number}" --sev 3',
        "response_url": slack.response_url(number),
        "trigger_id": f"{number}.T0HERALD.bench",
        "api_app_id": "A0HERALD",
    }
    return urlencode(fields).encode()


async def _send(client: httpx.AsyncClient, url: str, body: bytes, run: Run) -> None:
    started = time.perf_counter()
    try:
        response = await client.post(url, content=body, headers=signed_headers(body))
    except httpx.HTTPError:
        run.failures += 1
        return
    if response.status_code == 200:
        run.latencies.append(time.perf_counter() - started)
    else:
        run.failures += 1


async def paced(url: str, slack: FakeSlackProcess, target: str, rate: float, seconds: float) -> Run:
    """Open loop: request n leaves at n / rate seconds, answered or not."""
    run = Run(target, f"{rate:g}/s for {seconds:g} s")
    total = int(rate * seconds)
    async with httpx.AsyncClient(timeout=10) as client:
        tasks = []
        start = time.perf_counter()
        for number in range(total):
            delay = start + number / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = command_body(slack, number, target)
            tasks.append(asyncio.create_task(_send(client, url, body, run)))
        await asyncio.gather(*tasks)
        run.seconds = time.perf_counter() - start
    return run


async def saturated(
    url: str, slack: FakeSlackProcess, target: str, clients: int, seconds: float, first: int
) -> Run:
    """Closed loop: each client sends its next request as soon as the last is answered."""
    run = Run(target, f"{clients} clients, {seconds:g} s")
    numbers = itertools.count(first)
    async with httpx.AsyncClient(timeout=10) as client:
        start = time.perf_counter()
        end = start + seconds

        async def one_client() -> None:
            while time.perf_counter() < end:
                await _send(client, url, command_body(slack, next(numbers), target), run)

        await asyncio.gather(*(one_client() for _ in range(clients)))
        run.seconds = time.perf_counter() - start
    return run


def wait_ready(url: str, process: subprocess.Popen[bytes], deadline: float = 30.0) -> None:
    """Poll a starting subprocess until it answers."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def start_herald(workdir: Path, port: int, slack: FakeSlackProcess) -> subprocess.Popen[bytes]:
    """`herald serve` on a fresh SQLite file, with Slack pointed at the fake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        SLACK_INCIDENT_CHANNEL=INCIDENTS,
        SLACK_RESPONDERS=",".join(USERS),
        LOG_LEVEL="WARNING",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "herald.log").open("wb"),
    )


def start_bare(port: int) -> subprocess.Popen[bytes]:
    """This module's bare app: a bolt AsyncApp whose one listener acks."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.slack_commands", "--bare-app", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def serve_bare_app(port: int) -> None:
    """Serve a bare slack_bolt app that only acks, as `herald serve` serves Herald."""
    import uvicorn
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_bolt.authorization import AuthorizeResult
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=TOKEN)

    app = AsyncApp(signing_secret=SECRET, authorize=authorize)

    @app.command(re.compile(r"^/.+"))
    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    handler = AsyncSlackRequestHandler(app)
    web = Starlette(
        routes=[
            Route("/slack/events", handler.handle, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )
    uvicorn.run(web, host="127.0.0.1", port=port, log_config=None, proxy_headers=True)


def wait_saved(database: Path, sent: int, deadline: float = 120.0) -> tuple[int, float]:
    """How many incidents Herald saved once all are (or the deadline passed), and how long
    that took after the last request was answered."""
    start = time.monotonic()
    while True:
        with sqlite3.connect(database) as connection:
            saved = int(connection.execute("SELECT count(*) FROM incident").fetchone()[0])
        if saved >= sent or time.monotonic() > start + deadline:
            return saved, time.monotonic() - start
        time.sleep(0.05)


async def measure(
    url: str, slack: FakeSlackProcess, target: str, args: argparse.Namespace
) -> list[Run]:
    """Both phases against one target."""
    steady = await paced(url, slack, target, args.rate, args.seconds)
    first = int(args.rate * args.seconds)
    burst = await saturated(url, slack, target, args.clients, args.burst_seconds, first)
    return [steady, burst]


def main() -> None:
    """Run both targets and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    parser.add_argument("--bare-app", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fake-slack", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_app:
        serve_bare_app(args.port)
        return
    if args.fake_slack:
        serve_fake_slack(args.port)
        return
    slack = FakeSlackProcess(urls=20_000)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        runs: list[Run] = []
        saved, drained = 0, 0.0
        for target in ("herald serve", "bare bolt app"):
            port = free_port()
            herald = target == "herald serve"
            process = start_herald(workdir, port, slack) if herald else start_bare(port)
            base = f"http://127.0.0.1:{port}"
            try:
                wait_ready(f"{base}/healthz", process)
                runs += asyncio.run(measure(f"{base}/slack/events", slack, target, args))
                if herald:
                    sent = sum(len(r.latencies) for r in runs)
                    saved, drained = wait_saved(workdir / "herald.db", sent)
            finally:
                process.terminate()
                process.wait(timeout=30)
    stats = slack.finish()
    report(runs, saved=saved, drained=drained, answered=stats["answers"], posted=stats["posted"])


def report(runs: list[Run], *, answered: int, saved: int, drained: float, posted: int) -> None:
    """The table; the targets are judged under the same steady load, the burst shows the limits."""
    print(
        f"{'target':<14} {'phase':<16} {'sent':>6} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'mean ms':>8} {'req/s':>8}"
    )
    for run in runs:
        print(run.row())
    (steady, burst), (bare_steady, bare_burst) = runs[:2], runs[2:]
    sent = sum(len(r.latencies) for r in runs[:2])
    print(
        f"\nherald serve saved {saved} of {sent} incidents ({drained:.1f} s after the last "
        f"answer), posted {answered} answers to response_urls (a late save adds a 'still "
        f"working' first), and {posted} root messages in the incident channel so far (Slack "
        "takes one a second per channel)."
    )
    p99 = steady.percentile(0.99)
    share = steady.throughput / bare_steady.throughput if bare_steady.throughput else 0.0
    print(
        f"Under the same steady load ({steady.phase}): p99 {p99:.1f} ms (target ≤ "
        f"{P99_TARGET_MS:g} ms) {'met' if p99 <= P99_TARGET_MS else 'MISSED'}; throughput "
        f"{share:.0%} of the bare app's (target ≥ {THROUGHPUT_TARGET:.0%}) "
        f"{'met' if share >= THROUGHPUT_TARGET else 'MISSED'}."
    )
    processed = len(burst.latencies) / (burst.seconds + drained)
    print(
        f"Flat out ({burst.phase}): Herald acknowledged {burst.throughput:.0f}/s, "
        f"{burst.throughput / bare_burst.throughput:.0%} of the bare app's "
        f"{bare_burst.throughput:.0f}/s, and saved about {processed:.0f} incidents a second."
    )


if __name__ == "__main__":
    main()
