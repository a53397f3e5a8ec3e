"""Process types stop as a whole: a port in use or a failing part ends them with one line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import processes
from bot.scheduler import Scheduler
from bot.settings import Settings
from commands.errors import Refused
from tests.bot.test_serve import clean_env, free_port


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another process listens on."""
    port = free_port()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys\n"
            f"s = socket.create_server(('127.0.0.1', {port}))\n"
            "print('listening', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "listening\n"
    try:
        yield port
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
@pytest.mark.parametrize("process", ["serve", "web"])
def test_a_port_in_use_stops_start_up_with_one_line(
    tmp_path: Path, held_port: int, process: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", process, "--port", str(held_port)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"herald: port {held_port} on 127.0.0.1 is in use; stop the other process or set PORT"
    ]


def test_a_failing_part_stops_the_others_and_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scheduler_fails(
        scheduler: Scheduler, stop: asyncio.Event, *, poll_seconds: float
    ) -> None:
        await asyncio.sleep(0)
        raise SystemExit(3)

    monkeypatch.setattr(processes, "run_scheduler", scheduler_fails)
    settings = Settings(_env_file=None, database_url=str(tmp_path / "herald.db"))
    with pytest.raises(Refused) as refused:
        processes.run(settings, "worker")
    assert refused.value.message == (
        "herald worker stopped: the scheduler failed (exit code 3); see the log above"
    )


def test_an_error_in_a_part_is_named_in_the_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scheduler_fails(
        scheduler: Scheduler, stop: asyncio.Event, *, poll_seconds: float
    ) -> None:
        raise RuntimeError("clock\nbroken")

    monkeypatch.setattr(processes, "run_scheduler", scheduler_fails)
    settings = Settings(_env_file=None, database_url=str(tmp_path / "herald.db"))
    with pytest.raises(Refused, match=r"the scheduler failed \(RuntimeError: clock broken\)"):
        processes.run(settings, "worker")


def test_the_web_socket_is_tcp_so_responses_are_not_held_back() -> None:
    # asyncio turns on TCP_NODELAY only for sockets whose proto says TCP; without it every
    # status page answer waited 40 ms for a delayed ACK (362 req/s instead of 5,500).
    import socket

    settings = Settings(_env_file=None, port=free_port())
    listener = processes.listen(settings)
    try:
        assert listener.proto == socket.IPPROTO_TCP
    finally:
        listener.close()


def test_a_second_listener_on_the_same_port_is_refused() -> None:
    # Two `herald serve` started together both bound the port (SO_REUSEADDR lets Linux
    # do that until one listens), and the second failed later with tracebacks.
    port = free_port()
    settings = Settings(_env_file=None, port=port)
    first = processes.listen(settings)
    try:
        with pytest.raises(Refused) as refused:
            processes.listen(settings).close()
    finally:
        first.close()
    assert refused.value.message == (
        f"port {port} on 127.0.0.1 is in use; stop the other process or set PORT"
    )
