"""`herald serve` with no configuration: migrates SQLite, serves, runs the worker, stops cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from bot.web import RECHECK_SECONDS

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TELEGRAM_", "DATABASE_URL"))
    }
    env.update(extra)
    return env


def run_herald(
    cwd: Path, env: dict[str, str], *args: str, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `herald ARGS…` as a separate process, as an operator would; never raises
    (but for a `timeout`, given where a process that does not stop must fail the test)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def wait_for_health(url: str, process: subprocess.Popen[str], deadline_s: float = 20) -> None:
    # Polls a real subprocess starting up; there is no clock to fake here.
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        assert process.poll() is None, "herald serve exited early"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("herald serve did not become healthy")


def start_serve(cwd: Path) -> tuple[subprocess.Popen[str], int]:
    """`herald serve` with no configuration in `cwd`, healthy; and its port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        cwd=cwd,
        env=clean_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}/healthz", process)
    except BaseException:
        process.kill()
        process.communicate(timeout=20)
        raise
    return process, port


def test_serve_starts_on_sqlite_with_no_configuration(tmp_path: Path) -> None:
    process, port = start_serve(tmp_path)
    try:
        assert (tmp_path / "herald.db").exists()
        cli = subprocess.run(
            [sys.executable, "-m", "bot", "open", "Posta lenta", "--sev", "2"],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert cli.returncode == 0, cli.stderr
        # The page looks at the data at most once a second (RECHECK_SECONDS), and it was
        # rendered as serve started: the opening shows within that second.
        deadline = time.monotonic() + 5 * RECHECK_SECONDS
        page = ""
        while "Posta lenta" not in page and time.monotonic() < deadline:
            page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
            time.sleep(0.1)
        assert "Posta lenta" in page
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "Slack: off (set SLACK_BOT_TOKEN" in log
    assert "Telegram: off (set TELEGRAM_BOT_TOKEN)" in log
    assert "scheduler started" in log
    assert "delivery worker" in log
    assert "Traceback" not in log


def test_a_request_head_past_16_kb_is_refused_and_the_server_stays_up(tmp_path: Path) -> None:
    process, port = start_serve(tmp_path)
    try:
        answer = b""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as endless:
            endless.sendall(b"GET /healthz HTTP/1.1\r\nHost: status\r\nX-Endless: ")
            # A server that keeps reading takes all 16 MiB and waits for more; this one
            # answers 400 and closes after the first 16 KB.
            with contextlib.suppress(OSError):
                for _ in range(256):
                    endless.sendall(b"a" * 65536)
            with contextlib.suppress(OSError):
                answer = endless.recv(200)
        assert answer.startswith(b"HTTP/1.1 400")
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert process.returncode == 0
