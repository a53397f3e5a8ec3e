"""Cross-process wake-up on PostgreSQL: from `herald open` exiting to the fake's sendMessage.

Herald runs as in production: `herald web` and two `herald worker` processes on an
EMPTY PostgreSQL database, Telegram pointed at a fake in this process with its rate
limits off, WORKER_POLL_SECONDS at its default (1 s), so polling alone would show
about 500 ms. Each round runs `herald open "Bench N" --sev 3` as a subprocess and
measures from the moment it exits 0 (its commit, and so its NOTIFY, is done) to the
moment the fake records the sendMessage for that incident. Target: p50 ≤ 200 ms.
Rounds are --pause seconds apart: Herald's own limiter allows a channel 20 messages
a minute, and closer rounds would measure that wait instead of the wake-up.

There is no setting that turns LISTEN off, so there is no polling-only row.

Run from the repository root:
    python -m bench.wakeup --database-url postgresql://…/EMPTY_DB [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.cli_list_show import herald_script, telegram_environment
from bench.fanout import READY_LINE, TELEGRAM_TOKEN
from bench.seed import database_url
from bench.slack_commands import free_port, wait_ready
from tests.fakes.telegram import FakeTelegram

CHAT = -1_001_234_567_890
TARGET_MS = 200.0
TIMEOUT_S = 10.0


def herald(*args: str) -> list[str]:
    """The argv of a `herald` command, through the installed console script."""
    return [str(herald_script()), *args]


def run(argv: list[str], env: dict[str, str], cwd: Path) -> None:
    """Run a setup command to completion, or stop the bench with its output."""
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[1:])} failed:\n{done.stderr}{done.stdout}")


def wait_line(process: subprocess.Popen[bytes], log: Path, line: str) -> None:
    """Wait until a started process writes `line` to its log."""
    deadline = time.monotonic() + 60
    while line not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{process.args!r} did not start:\n{log.read_text()}")
        time.sleep(0.05)


def stop(processes: Sequence[subprocess.Popen[bytes]]) -> list[str]:
    """SIGTERM every process, then kill those still running after 15 s; how each ended."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    ended = []
    for process in processes:
        try:
            ended.append(f"exit {process.wait(timeout=15)}")
        except subprocess.TimeoutExpired:
            process.kill()
            ended.append(f"killed ({process.wait()})")
    return ended


@contextmanager
def herald_processes(
    env: dict[str, str], workdir: Path, endings: list[str]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`herald web` on a free port and two `herald worker`, ready; stopped on the way out."""
    port = free_port()
    web_env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        web_log = workdir / "web.log"
        web = subprocess.Popen(
            herald("web"),
            cwd=workdir,
            env=web_env,
            stdout=subprocess.DEVNULL,
            stderr=web_log.open("wb"),
        )
        processes.append(web)
        for n in (1, 2):
            log = workdir / f"worker{n}.log"
            worker = subprocess.Popen(
                herald("worker"),
                cwd=workdir,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log.open("wb"),
            )
            processes.append(worker)
            wait_line(worker, log, READY_LINE)
            wait_line(worker, log, "listening for new deliveries")
        wait_ready(f"http://127.0.0.1:{port}/healthz", web)
        yield processes
    finally:
        endings.extend(stop(processes))


def delivered_at(telegram: FakeTelegram, title: str, deadline: float) -> float | None:
    """When the fake answered the sendMessage carrying `title` (monotonic), or None."""
    while time.monotonic() < deadline:
        for call in telegram.calls("sendMessage"):
            if call.status == 200 and title in str(call.params.get("text", "")):
                return call.at
        time.sleep(0.002)
    return None


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def row(label: str, values: Sequence[float], target: float | None) -> str:
    """One line of the table, in milliseconds."""
    p50 = statistics.median(values)
    verdict = "" if target is None else ("PASS" if p50 <= target else "FAIL")
    return (
        f"{label:<34}{len(values):>6}{min(values):>9.0f}{p50:>9.0f}"
        f"{percentile(values, 0.95):>9.0f}{max(values):>9.0f}  {verdict}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Set up the database, start the processes, time the rounds, print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.wakeup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--database-url", required=True, help="an EMPTY PostgreSQL database (postgresql://…)"
    )
    parser.add_argument("--rounds", type=int, default=20, help="incidents opened, one at a time")
    parser.add_argument(
        "--pause", type=float, default=3.5, help="seconds between rounds (3 s: a channel's budget)"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    url = database_url(args.database_url)
    if not url.startswith("postgresql"):
        parser.error("--database-url must be PostgreSQL: LISTEN/NOTIFY is what this measures")

    with (
        tempfile.TemporaryDirectory(prefix="herald-wakeup-") as tmp,
        FakeTelegram(
            token=TELEGRAM_TOKEN,
            global_per_second=None,
            per_chat_per_second=None,
            group_per_minute=None,
        ) as telegram,
    ):
        workdir = Path(tmp)
        telegram.add_chat(CHAT, "channel")
        env = telegram_environment(url, workdir, TELEGRAM_TOKEN, telegram.api_url)
        run(herald("db", "upgrade"), env, workdir)
        run(herald("channels", "add", "telegram", str(CHAT)), env, workdir)

        wake_ms: list[float] = []
        cli_ms: list[float] = []
        missed = 0
        endings: list[str] = []
        with herald_processes(env, workdir, endings):
            for n in range(1, args.rounds + 1):
                title = f"Bench {n}"
                if n > 1:
                    time.sleep(args.pause)
                began = time.monotonic()
                run(herald("open", title, "--sev", "3"), env, workdir)
                exited = time.monotonic()
                at = delivered_at(telegram, title, exited + TIMEOUT_S)
                cli_ms.append((exited - began) * 1000)
                if at is None:
                    missed += 1
                else:
                    wake_ms.append((at - exited) * 1000)

    print(
        f"python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs), "
        f"postgresql, herald web + 2 herald worker, WORKER_POLL_SECONDS=1, "
        f"{args.rounds} rounds {args.pause:g} s apart"
    )
    print()
    print(f"{'ms':<34}{'runs':>6}{'min':>9}{'p50':>9}{'p95':>9}{'max':>9}  result (p50 ≤ 200 ms)")
    if wake_ms:
        print(row("CLI exit → sendMessage (LISTEN)", wake_ms, TARGET_MS))
    print(row("herald open, whole process", cli_ms, None))
    print(
        "polling only: skipped (no setting turns LISTEN off); "
        f"not delivered in {TIMEOUT_S:.0f} s: {missed}"
    )
    print(f"stopped: web {endings[0]}, workers {', '.join(endings[1:])}")
    return 0 if wake_ms and not missed and statistics.median(wake_ms) <= TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
