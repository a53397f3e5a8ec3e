"""WEB_CONCURRENCY: `herald web` as several processes on one port, PostgreSQL only, stopped
as a whole by SIGTERM or by the death of any one of them."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from pydantic import ValidationError

from bot.processes import web_processes
from bot.settings import Settings
from commands.errors import Refused
from tests.bot.test_serve import clean_env, free_port, run_herald, wait_for_health
from tests.telegram.helpers import wait_until
from tests.telegram.test_processes import Herald, Heralds, Store, postgres  # noqa: F401

POSTGRES = "postgresql://herald@db.example:5432/herald"
# A process starting (imports, the first database connection) on a loaded machine.
START_S = 30.0
CHILD = re.compile(r"web process (\d) of 2 \(pid (\d+)\)")


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_one_process_by_default() -> None:
    assert settings().web_concurrency == 1
    assert web_processes(settings(database_url=POSTGRES), "web") == 1


@pytest.mark.parametrize("value", ["0", "-1", "33", "two", "1.5"])
def test_a_count_that_is_no_count_of_processes_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="web_concurrency"):
        settings(web_concurrency=value)


def test_herald_web_runs_as_many_processes_as_asked_on_postgresql() -> None:
    assert web_processes(settings(database_url=POSTGRES, web_concurrency="4"), "web") == 4


def test_several_web_processes_are_refused_on_sqlite() -> None:
    with pytest.raises(Refused, match=r"^WEB_CONCURRENCY=2 needs PostgreSQL: .*WEB_CONCURRENCY=1$"):
        web_processes(settings(web_concurrency=2), "web")


@pytest.mark.parametrize("process", ["serve", "worker", "telegram"])
def test_other_process_types_run_one_process(process: str) -> None:
    assert web_processes(settings(database_url=POSTGRES, web_concurrency=3), process) == 1
    assert web_processes(settings(web_concurrency=3), process) == 1


def test_herald_web_refuses_several_processes_on_sqlite_in_one_line(tmp_path: Path) -> None:
    env = clean_env(WEB_CONCURRENCY="2", PORT=str(free_port()))
    ran = run_herald(tmp_path, env, "web", timeout=60)
    assert ran.returncode == 1
    [line] = ran.stderr.strip().splitlines()
    assert line.startswith("herald: WEB_CONCURRENCY=2 needs PostgreSQL"), ran.stderr
    assert not (tmp_path / "herald.db").exists()  # refused before anything was opened


# ---- real processes on PostgreSQL


def children(parent: Herald) -> dict[int, int]:
    """The parent's web processes as its log names them: number -> pid."""
    return {int(number): int(pid) for number, pid in CHILD.findall(parent.log())}


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def gone(pid: int) -> bool:
    """True once `pid` no longer exists (a reaped child)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def start_two(tmp_path: Path, store: Store) -> tuple[Heralds, Herald, dict[int, int], str]:
    port = free_port()
    env = clean_env(DATABASE_URL=store.url, WEB_CONCURRENCY="2", PORT=str(port))
    heralds = Heralds(tmp_path)
    parent = heralds.start("web", env, "web")
    url = f"http://127.0.0.1:{port}/healthz"
    wait_for_health(url, parent.popen, deadline_s=START_S)
    assert wait_until(lambda: len(children(parent)) == 2, START_S), heralds.logs()
    return heralds, parent, children(parent), url


@pytest.mark.slow
def test_two_web_processes_answer_on_one_port_and_stop_with_sigterm(
    tmp_path: Path,
    postgres: Store,  # noqa: F811
) -> None:
    heralds, parent, pids, url = start_two(tmp_path, postgres)
    try:
        assert set(pids) == {1, 2}
        for stopped, other in ((pids[1], pids[2]), (pids[2], pids[1])):
            # With one process frozen, only the other can accept: each answers by itself.
            os.kill(stopped, signal.SIGSTOP)
            try:
                assert healthy(url), heralds.logs()
            finally:
                os.kill(stopped, signal.SIGCONT)
            assert not gone(other)
        assert parent.terminate() == 0, heralds.logs()
        assert all(gone(pid) for pid in pids.values())
        assert parent.log().count("herald web stopped") == 3, heralds.logs()
        assert not healthy(url)
    finally:
        heralds.kill_all()


@pytest.mark.slow
def test_a_web_process_that_dies_stops_the_others_and_is_named(
    tmp_path: Path,
    postgres: Store,  # noqa: F811
) -> None:
    heralds, parent, pids, _ = start_two(tmp_path, postgres)
    try:
        os.kill(pids[2], signal.SIGKILL)
        assert parent.popen.wait(timeout=START_S) == 1, heralds.logs()
        assert gone(pids[1])
        last = parent.log().strip().splitlines()[-1]
        assert last == (
            f"herald: herald web stopped: web process 2 (pid {pids[2]}) was killed by SIGKILL; "
            "see the log above"
        ), heralds.logs()
    finally:
        heralds.kill_all()
