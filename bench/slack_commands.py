"""Signed `/incident open …` against Herald and against a bare slack_bolt app that only acks.

Time from the signed request to its 200 is what Slack's 3-second deadline is about; the
ack is that 200. Each target is served the same way (a subprocess) and driven the same
way, one after the other in one run, at fixed open-loop rates (request n leaves at n/rate
seconds, answered or not), 100 and 300 a second by default.

On SQLite (no --database-url) Herald is `herald serve` on a fresh file. With
--database-url on an EMPTY PostgreSQL database it is `herald web` with WEB_CONCURRENCY
set to each --web-processes count in turn (no worker runs: the deliveries wait in the
outbox). The fake Slack Web API that Herald answers through runs in a process of its own,
so its work does not slow the load generator down. Between rates, the bench waits until
Herald has saved every incident, and says how long that took. Before each rate it waits
until Herald's processes are idle (a web process that just started renders the status
page over every incident the earlier rates opened).

Run from the repository root:
    python -m bench.slack_commands
    python -m bench.slack_commands --database-url postgresql://…/EMPTY_DB --web-processes 1 2
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import math
import os
import platform
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import httpx
import sqlalchemy as sa

from bench.seed import database_url
from tests.fakes.slack import FakeSlack

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
INCIDENTS = "C0INCIDENTS"
# 300 openings a second come from many people: each person's commands run one at a time
# and no more than 50 of theirs may wait (bot/frontend/backlog.py), so ten people at 30 a
# second each would be refused, not measured.
USERS = [f"U0BENCH{n:03d}" for n in range(500)]
BARE = "bare bolt app"
RUN = secrets.token_hex(4)
WARM_UP = 20
IDLE_CPU_SECONDS = 0.1  # of CPU in a second, all of Herald's processes together
# Issue 11's targets: p99 ≤ 3× the bare app's at 100/s, ≤ 100 ms at 300/s.
SLOW_RATE, TIMES_BARE = 100.0, 3.0
FAST_RATE, P99_TARGET_MS = 300.0, 100.0


@dataclass
class Run:
    """One rate against one target."""

    target: str
    rate: float
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    saved: int | None = None
    drained: float = 0.0
    load: float = 0.0
    cpu: float = float("nan")

    def percentile(self, share: float) -> float:
        """A latency percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    def row(self) -> str:
        """The run as a table row."""
        saved = "" if self.saved is None else f"{self.saved} in +{self.drained:.1f} s"
        return (
            f"{self.rate:>6g}/s {self.target:<18} {len(self.latencies) + self.failures:>6} "
            f"{self.failures:>6} {self.percentile(0.50):>8.1f} {self.percentile(0.95):>8.1f} "
            f"{self.percentile(0.99):>8.1f} {max(self.latencies, default=0) * 1000:>8.1f} "
            f"{self.cpu * 1000 / max(1, len(self.latencies)):>7.2f} {self.load:>6.2f}  {saved}"
        )


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and all its descendants (web processes, their
    command processes; Linux /proc, NaN elsewhere): a cost per request that other load on
    the machine does not change much."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    try:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # After the command name: state, ppid, … utime (12th), stime (13th).
            parents[int(entry.name)] = int(fields[1])
            used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    except OSError:
        return float("nan")
    family = {pid}
    while True:
        more = {child for child, parent in parents.items() if parent in family} - family
        if not more:
            return sum(used.get(member, 0.0) for member in family)
        family |= more


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
        # Unique in the run and across runs: Herald claims each trigger_id once.
        "trigger_id": f"{number}.{target.replace(' ', '-')}.{RUN}",
        "api_app_id": "A0HERALD",
    }
    return urlencode(fields).encode()


async def _send(client: aiohttp.ClientSession, url: str, body: bytes, run: Run) -> None:
    started = time.perf_counter()
    try:
        async with client.post(url, data=body, headers=signed_headers(body)) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError):
        run.failures += 1
        return
    if status == 200:
        run.latencies.append(time.perf_counter() - started)
    else:
        run.failures += 1


async def paced(
    url: str, slack: FakeSlackProcess, target: str, rate: float, seconds: float, first: int
) -> Run:
    """Open loop: request n leaves at n / rate seconds, answered or not."""
    run = Run(target, rate, load=os.getloadavg()[0])
    total = int(rate * seconds)
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as client:
        tasks = []
        start = time.perf_counter()
        for number in range(total):
            delay = start + number / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = command_body(slack, first + number, target)
            tasks.append(asyncio.create_task(_send(client, url, body, run)))
        await asyncio.gather(*tasks)
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


def herald_env(slack: FakeSlackProcess, url: str | None, processes: int) -> dict[str, str]:
    """Herald's environment: Slack pointed at the fake, the database, WEB_CONCURRENCY."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        SLACK_INCIDENT_CHANNEL=INCIDENTS,
        SLACK_RESPONDERS=",".join(USERS),
        LOG_LEVEL="WARNING",
        WEB_CONCURRENCY=str(processes),
    )
    if url is not None:
        env["DATABASE_URL"] = url
    return env


def start_herald(
    workdir: Path, port: int, env: dict[str, str], processes: int
) -> subprocess.Popen[bytes]:
    """`herald serve` on SQLite, or `herald web` with `processes` processes on PostgreSQL."""
    process = "web" if "DATABASE_URL" in env else "serve"
    return subprocess.Popen(
        [sys.executable, "-m", "bot", process, "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"herald-{processes}.log").open("wb"),
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


def count_saved(engine: sa.Engine, target: str) -> int:
    """How many of this target's incidents Herald has saved."""
    with engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM incident WHERE title LIKE :title")
        return int(connection.execute(query, {"title": f"Bench {target} %"}).scalar_one())


def wait_saved(engine: sa.Engine, target: str, sent: int, deadline: float = 60.0) -> int:
    """Wait until Herald has saved every incident sent (or the deadline passed)."""
    end = time.monotonic() + deadline
    while True:
        saved = count_saved(engine, target)
        if saved >= sent or time.monotonic() > end:
            return saved
        time.sleep(0.05)


def wait_idle(pid: int, deadline: float = 120.0) -> None:
    """Wait until Herald's processes are done starting: each web process renders the status
    page's documents as it starts, which over the incidents of an earlier rate can take
    seconds of CPU. The bench measures commands, not that."""
    end = time.monotonic() + deadline
    used = cpu_seconds(pid)
    while time.monotonic() < end:
        time.sleep(1.0)
        now = cpu_seconds(pid)
        if math.isnan(now) or now - used < IDLE_CPU_SECONDS:
            return
        used = now


async def warm_up(url: str, slack: FakeSlackProcess, target: str) -> None:
    """A few commands one at a time: imports and first connections are not measured."""
    run = Run(target, 0)
    async with aiohttp.ClientSession() as client:
        for number in range(WARM_UP):
            await _send(client, url, command_body(slack, number, target), run)


def measure_herald(
    args: argparse.Namespace, slack: FakeSlackProcess, workdir: Path, url: str, processes: int
) -> list[Run]:
    """Every rate against Herald with this many web processes."""
    target = f"herald ×{processes}" if "postgresql" in url else "herald serve"
    env = herald_env(slack, url if "postgresql" in url else None, processes)
    port = free_port()
    process = start_herald(workdir, port, env, processes)
    engine = sa.create_engine(url)
    base = f"http://127.0.0.1:{port}"
    runs: list[Run] = []
    try:
        wait_ready(f"{base}/healthz", process)
        asyncio.run(warm_up(f"{base}/slack/events", slack, target))
        sent = wait_saved(engine, target, WARM_UP)
        wait_idle(process.pid)
        for rate in args.rates:
            cpu = cpu_seconds(process.pid)
            run = asyncio.run(
                paced(f"{base}/slack/events", slack, target, rate, args.seconds, first=sent)
            )
            answered = time.monotonic()
            before, sent = sent, sent + len(run.latencies) + run.failures
            run.saved = wait_saved(engine, target, sent) - before
            run.drained = time.monotonic() - answered
            run.cpu = cpu_seconds(process.pid) - cpu
            runs.append(run)
            time.sleep(args.pause)
            wait_idle(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)
        engine.dispose()
    return runs


def measure_bare(args: argparse.Namespace, slack: FakeSlackProcess) -> list[Run]:
    """Every rate against the bare bolt app."""
    port = free_port()
    process = start_bare(port)
    base = f"http://127.0.0.1:{port}"
    runs: list[Run] = []
    try:
        wait_ready(f"{base}/healthz", process)
        asyncio.run(warm_up(f"{base}/slack/events", slack, BARE))
        for rate in args.rates:
            cpu = cpu_seconds(process.pid)
            run = asyncio.run(paced(f"{base}/slack/events", slack, BARE, rate, args.seconds, 0))
            run.cpu = cpu_seconds(process.pid) - cpu
            runs.append(run)
            time.sleep(args.pause)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return runs


def upgrade(url: str, workdir: Path) -> None:
    """`herald db upgrade` on the benchmark's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env["DATABASE_URL"] = url
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        cwd=workdir,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    """Run every target at every rate and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.slack_commands",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--database-url", help="an EMPTY PostgreSQL database; Herald runs as herald web"
    )
    parser.add_argument(
        "--web-processes",
        type=int,
        nargs="+",
        choices=range(1, 9),
        default=None,
        help="WEB_CONCURRENCY of each Herald run (PostgreSQL only; default 1 2)",
    )
    parser.add_argument("--rates", type=float, nargs="+", default=[100.0, 300.0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per rate")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between rates")
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
    url = database_url(args.database_url) if args.database_url else None
    if url is not None and not url.startswith("postgresql"):
        parser.error("--database-url must be PostgreSQL (leave it out for herald serve on SQLite)")
    counts = args.web_processes or ([1, 2] if url is not None else [1])
    if url is None and counts != [1]:
        parser.error("--web-processes above 1 needs --database-url: herald serve is one process")
    per_target = int(sum(args.rates) * args.seconds) + WARM_UP
    # Each response_url takes 5 answers, as Slack's do; numbers wrap around these.
    slack = FakeSlackProcess(urls=per_target * len(counts) // 2 + 1)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="herald-slack-bench-") as scratch:
        workdir = Path(scratch)
        if url is not None:
            upgrade(url, workdir)
        for processes in counts:
            runs += measure_herald(
                args, slack, workdir, url or f"sqlite:///{workdir / 'herald.db'}", processes
            )
        runs += measure_bare(args, slack)
    stats = slack.finish()
    report(runs, args, database="postgresql" if url else "sqlite", answered=stats["answers"])


def report(runs: list[Run], args: argparse.Namespace, *, database: str, answered: int) -> None:
    """The table, one row per rate and target, and the targets judged."""
    print(
        f"python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs), "
        f"{database}, open loop, {args.seconds:g} s per rate; load = 1-minute load average "
        "at the start of the rate; CPU ms = CPU time of the target's processes per request, "
        "Herald's counted until every command was saved"
    )
    print()
    print(
        f"{'rate':>8} {'target':<18} {'sent':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'CPU ms':>7} {'load':>6}  saved (after the last answer)"
    )
    for rate in args.rates:
        for run in runs:
            if run.rate == rate:
                print(run.row())
    print(f"\nthe fake Slack received {answered} answers at response_urls")
    bare = {run.rate: run.percentile(0.99) for run in runs if run.target == BARE}
    for run in runs:
        if run.target == BARE:
            continue
        p99 = run.percentile(0.99)
        if run.rate == SLOW_RATE:
            limit, why = TIMES_BARE * bare[run.rate], f"{TIMES_BARE:g}× the bare app's"
        elif run.rate == FAST_RATE:
            limit, why = P99_TARGET_MS, f"{P99_TARGET_MS:g} ms"
        else:
            continue
        verdict = "met" if p99 <= limit and not run.failures else "MISSED"
        print(
            f"{run.target} at {run.rate:g}/s: p99 {p99:.1f} ms, target ≤ {why} "
            f"({limit:.1f} ms): {verdict}"
        )


if __name__ == "__main__":
    main()
