"""Done when: a signed `/incident open …` to `herald serve` is answered within the deadline, the
incident is saved, the incident channel gets its root message and customer channels the post."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx2 as httpx
import pytest

from tests.bot.test_serve import clean_env, free_port, wait_for_health
from tests.fakes.slack import FakeSlack
from tests.slack.helpers import (
    ALICE,
    CUSTOMERS,
    INCIDENTS,
    SECRET,
    TOKEN,
    signed_headers,
    wait_until,
)

pytestmark = pytest.mark.slow


def test_herald_serve_answers_slack_saves_and_mirrors(tmp_path: Path) -> None:
    with FakeSlack(token=TOKEN) as slack:
        slack.add_channel(INCIDENTS)
        slack.add_channel(CUSTOMERS)
        env = clean_env(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url,
            SLACK_INCIDENT_CHANNEL=INCIDENTS,
            SLACK_RESPONDERS=ALICE,
            WORKER_POLL_SECONDS="0.2",
        )
        herald = [sys.executable, "-m", "bot"]
        subprocess.run([*herald, "db", "upgrade"], cwd=tmp_path, env=env, check=True)
        added = subprocess.run(
            [*herald, "channels", "add", "slack", CUSTOMERS, "--lang", "it"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        port = free_port()
        process = subprocess.Popen(
            [*herald, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for_health(f"http://127.0.0.1:{port}/healthz", process)
            fields = {
                "team_id": "T0HERALD",
                "channel_id": "C0WARROOM",
                "user_id": ALICE,
                "user_name": "alice",
                "command": "/incident",
                "text": 'open "Problemi consegna posta" --sev 2 --message Verifichiamo',
                "response_url": slack.response_url(),
                "trigger_id": slack.trigger_id(),
            }
            body = urlencode(fields).encode()
            started = time.monotonic()
            response = httpx.post(
                f"http://127.0.0.1:{port}/slack/events",
                content=body,
                headers=signed_headers(body),
                timeout=5,
            )
            assert response.status_code == 200
            assert time.monotonic() - started < 3.0
            assert wait_until(lambda: bool(slack.response_urls), 3.0)
            assert "Opened INC-1" in json.dumps(slack.response_urls[0], ensure_ascii=False)
            assert wait_until(lambda: bool(slack.messages(INCIDENTS)), 15.0)
            assert wait_until(lambda: bool(slack.messages(CUSTOMERS)), 15.0)
            [root] = slack.messages(INCIDENTS)
            assert "INC-1 · Problemi consegna posta" in json.dumps(root.blocks, ensure_ascii=False)
            [post] = slack.messages(CUSTOMERS)
            assert "Apertura: Problemi consegna posta" in json.dumps(
                post.blocks, ensure_ascii=False
            )
            listed = subprocess.run(
                [*herald, "list"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert "Problemi consegna posta" in listed.stdout
        finally:
            process.send_signal(signal.SIGTERM)
            _, log = process.communicate(timeout=20)
    assert process.returncode == 0, log
    assert "Traceback" not in log
    assert f"Slack incident channel {INCIDENTS}" in log
