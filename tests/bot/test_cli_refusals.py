"""The CLI's edges: odd arguments, closed pipes, bad ports, help and version, a missing database."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.bot.test_cli import assert_one_line_complaint, clean_env, herald, migrate

TOKEN = "123456:TEST-TOKEN-0123456789abcdefghijklmnopq"
NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def test_arguments_that_are_not_utf8_are_refused_in_one_line(tmp_path: Path) -> None:
    migrate(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "open", b"caff\xe8", "x"],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    line = assert_one_line_complaint(result, 2)
    assert "arguments must be UTF-8, and 'caff\\xe8' is not" in line
    assert "INC-" not in herald(tmp_path, "list", "--all").stdout


def herald_into_a_closed_pipe(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run herald with stdout a pipe whose reader is gone, like `| head -1` exited early."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=directory,
            env=clean_env(directory),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [["list", "--all"], ["--help"], ["help"]])
def test_a_reader_that_went_away_ends_the_command_quietly(tmp_path: Path, args: list[str]) -> None:
    migrate(tmp_path)
    result = herald_into_a_closed_pipe(tmp_path, *args)
    assert result.stderr == ""
    assert result.returncode == 1


@pytest.mark.parametrize("port", ["99999", "0", "-1", "abc"])
@pytest.mark.parametrize("process", ["serve", "web"])
def test_a_bad_port_is_a_usage_error(tmp_path: Path, process: str, port: str) -> None:
    line = assert_one_line_complaint(herald(tmp_path, process, "--port", port), 2)
    assert f"--port: takes a port number from 1 to 65535, not '{port}'" in line
    assert not (tmp_path / "herald.db").exists()


@pytest.mark.parametrize("args", [["help"], ["help", "open"]])
def test_help_needs_no_database(tmp_path: Path, args: list[str]) -> None:
    result = herald(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "open TITLE" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_version_comes_from_the_package(tmp_path: Path) -> None:
    result = herald(tmp_path, "--version")
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"herald {version('herald')}\n",
        "",
    )
    assert list(tmp_path.iterdir()) == []


class _BadGateway(http.server.BaseHTTPRequestHandler):
    """A proxy in front of the Bot API that answers every call with nginx's 502 page."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(NGINX_502)))
        self.end_headers()
        self.wfile.write(NGINX_502)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@contextmanager
def bad_gateway() -> Iterator[str]:
    """A local server answering 502 with an HTML page; yields its TELEGRAM_API_URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bot"
    finally:
        server.shutdown()
        server.server_close()


def test_a_502_html_page_from_telegram_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    migrate(tmp_path)
    with bad_gateway() as api_url:
        env = clean_env(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api_url)
        added = herald(tmp_path, "channels", "add", "telegram", "-1001234567890", env=env)
        assert added.returncode == 0, added.stderr
        line = assert_one_line_complaint(herald(tmp_path, "channels", "test", "1", env=env), 1)
    assert line.startswith("herald: Test message to #1 telegram -1001234567890 failed:")
    assert "Bad Gateway (502)" in line
    assert "<html>" not in line
