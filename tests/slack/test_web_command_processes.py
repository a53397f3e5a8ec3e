"""`herald web` on PostgreSQL runs Slack commands in command processes of its own: answered
and saved as ever, stopped with the web process, whether it stops or is killed."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx2 as httpx
import pytest

from tests.bot.test_serve import clean_env, free_port, wait_for_health
from tests.fakes.slack import FakeSlack
from tests.slack.helpers import ALICE, SECRET, TOKEN, signed_headers, wait_until
from tests.telegram.test_processes import Heralds, Store, postgres  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """The fake Slack Web API and response URLs."""
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def command_processes(web: int) -> set[int]:
    """The children of a web process that run at a lower priority: its command processes."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state (1st), ppid (2nd), … nice (17th).
        if int(fields[1]) == web and int(fields[16]) > 0:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def open_incident(port: int, slack: FakeSlack, title: str) -> None:
    """A signed `/incident open TITLE`, acknowledged within Slack's 3 s."""
    body = urlencode(
        {
            "team_id": "T0HERALD",
            "channel_id": "C0WARROOM",
            "user_id": ALICE,
            "user_name": "alice",
            "command": "/incident",
            "text": f'open "{title}" --sev 2',
            "response_url": slack.response_url(),
            "trigger_id": slack.trigger_id(),
        }
    ).encode()
    response = httpx.post(
        f"http://127.0.0.1:{port}/slack/events",
        content=body,
        headers=signed_headers(body),
        timeout=5,
    )
    assert response.status_code == 200


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_herald_web_runs_commands_in_processes_that_stop_with_it(
    tmp_path: Path,
    postgres: Store,  # noqa: F811
    slack: FakeSlack,
    stop: signal.Signals,
) -> None:
    port = free_port()
    env = clean_env(
        DATABASE_URL=postgres.url,
        PORT=str(port),
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        SLACK_RESPONDERS=ALICE,
    )
    heralds = Heralds(tmp_path)
    web = heralds.start("web", env, "web")
    try:
        wait_for_health(f"http://127.0.0.1:{port}/healthz", web.popen)
        assert wait_until(lambda: len(command_processes(web.pid)) == 2, 30.0), heralds.logs()
        commands = command_processes(web.pid)
        open_incident(port, slack, "Mail down")
        assert wait_until(lambda: bool(slack.response_urls), 10.0), heralds.logs()
        assert "Opened INC-1" in json.dumps(slack.response_urls[0]), heralds.logs()
        assert command_processes(web.pid) == commands  # the same ones, kept
        web.popen.send_signal(stop)
        web.popen.wait(timeout=30)
        assert wait_until(lambda: not any(alive(pid) for pid in commands), 10.0)
        if stop == signal.SIGTERM:
            assert web.popen.returncode == 0, heralds.logs()
            assert "Traceback" not in web.log()
    finally:
        heralds.kill_all()
