"""The database restarts a second into a SEV1 fan-out: duplicates, and how soon the next
update reaches every channel once it is back (issue 14's trial).

`herald serve` runs on PostgreSQL with the fake Telegram (its limits on) and 60 channels;
`herald open … --sev 1` starts the fan-out, a second later the PostgreSQL server is
restarted with the command given, and once the opening has reached every channel,
`herald update` posts the next update. It restarts the whole server: run it on a
machine of your own, never beside anything else that uses that server.

Run from the repository root:
    python -m bench.db_restart --database-url postgresql://…/EMPTY_DB \\
        --restart "pg_ctlcluster --skip-systemctl-redirect 15 main restart"
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.cli_list_show import telegram_environment
from bench.fanout import READY_LINE, TELEGRAM_TOKEN
from bench.seed import database_url
from bench.slack_commands import free_port, wait_ready
from bench.wakeup import herald, run, stop, wait_line
from tests.fakes.telegram import FakeTelegram

CHANNELS = 60
FIRST = "Posta ferma: consegna sospesa"
SECOND = "Ripristino in corso sui server di posta"
TARGET_S = 10.0
WAIT_S = 120.0


def chats() -> list[int]:
    """The channels following incidents."""
    return [-1_001_700_000_000 - n for n in range(CHANNELS)]


def reached(telegram: FakeTelegram, text: str) -> Counter[int]:
    """How many messages carrying `text` each chat received."""
    return Counter(
        int(call.params["chat_id"])
        for call in telegram.calls("sendMessage")
        if call.status == 200 and text in str(call.params.get("text", ""))
    )


def until_all(telegram: FakeTelegram, text: str) -> float | None:
    """Wait until every chat has `text`; when that happened (monotonic), or None."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if len(reached(telegram, text)) == CHANNELS:
            return time.monotonic()
        time.sleep(0.05)
    return None


def retry(argv: list[str], env: dict[str, str], cwd: Path) -> None:
    """Run a command until the database takes it (it says "could not reach" meanwhile)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        if done.returncode == 0 or time.monotonic() > deadline:
            return
        time.sleep(0.2)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the trial once and print what it found."""
    parser = argparse.ArgumentParser(prog="python -m bench.db_restart", description=__doc__)
    parser.add_argument("--database-url", required=True, help="an EMPTY PostgreSQL database")
    parser.add_argument("--restart", required=True, help="the command that restarts the server")
    parser.add_argument("--after", type=float, default=1.0, help="seconds into the fan-out")
    args = parser.parse_args(argv)
    url = database_url(args.database_url)
    with (
        tempfile.TemporaryDirectory(prefix="herald-restart-") as tmp,
        FakeTelegram(token=TELEGRAM_TOKEN) as telegram,
    ):
        workdir = Path(tmp)
        env = telegram_environment(url, workdir, TELEGRAM_TOKEN, telegram.api_url)
        run(herald("db", "upgrade"), env, workdir)
        for chat in chats():
            telegram.add_chat(chat, "channel")
            run(herald("channels", "add", "telegram", str(chat)), env, workdir)
        port = free_port()
        log = workdir / "serve.log"
        serve = subprocess.Popen(
            herald("serve"),
            cwd=workdir,
            env={**env, "HOST": "127.0.0.1", "PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        try:
            wait_line(serve, log, READY_LINE)
            wait_ready(f"http://127.0.0.1:{port}/healthz", serve)
            run(herald("open", FIRST, "--sev", "1"), env, workdir)
            time.sleep(args.after)
            before = sum(reached(telegram, FIRST).values())
            subprocess.run(shlex.split(args.restart), check=True)
            restarted = time.monotonic()
            first_done = until_all(telegram, FIRST)
            retry(herald("update", "INC-1", SECOND), env, workdir)
            posted = time.monotonic()
            second_done = until_all(telegram, SECOND)
        finally:
            ended = stop([serve])
        lines = log.read_text()
    first, second = reached(telegram, FIRST), reached(telegram, SECOND)
    twice = sum(n - 1 for n in first.values()) + sum(n - 1 for n in second.values())
    print(f"{CHANNELS} channels; restart {args.after:g} s into the fan-out, {before} sent by then")
    print(f"opening: {len(first)} channels reached, {sum(first.values())} messages", end="")
    print(f" (all {first_done - restarted:.1f} s after the restart)" if first_done else "")
    print(f"update:  {len(second)} channels reached, {sum(second.values())} messages", end="")
    took = None if second_done is None else second_done - posted
    print(f" (all {took:.1f} s after it was posted; target {TARGET_S:g} s)" if took else "")
    print(f"duplicates: {twice}; 429s: {telegram.too_many_requests}; serve: {ended[0]}")
    print(f"log lines saying the database did not answer: {lines.count('does not answer')}")
    ok = twice == 0 and took is not None and took <= TARGET_S and len(first) == CHANNELS
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
