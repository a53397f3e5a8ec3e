"""`herald web` as several processes (WEB_CONCURRENCY): forked children that accept on the
one socket the parent bound, stopped together, none left running alone."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass

from commands.errors import Refused

log = logging.getLogger("herald")

# A child stopping drains its commands for up to 10 s (SlackFrontEnd.close) and lets
# uvicorn finish the requests under way; past this it is killed.
STOP_SECONDS = 30.0
_WATCHED = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
_PR_SET_PDEATHSIG = 1


@dataclass
class _Child:
    number: int
    pid: int


def fork_web_processes(count: int, *, stop_seconds: float = STOP_SECONDS) -> int | None:
    """Fork `count` web processes. In each child, return None at once: it goes on to serve
    on the inherited socket. In the parent, supervise them and return the exit code.

    SIGTERM or SIGINT to the parent stops every child and waits for them. A child that
    exits by itself (crashed, killed, failed at start-up) is reported, and the others are
    stopped: the parent exits 1, as a single `herald web` whose web app failed would, so
    the service manager restarts the whole of it rather than leave it short of a process.
    """
    parent = os.getpid()
    # Frozen objects are never touched by the collector, so the pages they sit in stay
    # shared with the children instead of being copied into each one.
    gc.freeze()
    # Blocked before the first fork, so no signal can arrive between two waits unseen.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    children: list[_Child] = []
    for number in range(1, count + 1):
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            stop_with(parent)
            log.info("web process %d of %d (pid %d)", number, count, os.getpid())
            return None
        children.append(_Child(number, pid))
    try:
        return _supervise(children, stop_seconds)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stop_with(parent: int, signum: int = signal.SIGTERM) -> None:
    """Ask the kernel to send this child `signum` when its parent dies, so a parent killed
    with SIGKILL leaves no process holding the port or connections (Linux only; elsewhere
    the child stays)."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signum)


def _supervise(children: list[_Child], stop_seconds: float) -> int:
    running = {child.pid: child for child in children}
    failure: str | None = None
    while running and failure is None:
        received = signal.sigwaitinfo(_WATCHED)
        if received.si_signo != signal.SIGCHLD:
            log.info(
                "herald web: %s, stopping %d processes", _name(received.si_signo), len(running)
            )
            break
        for child, status in _reap(running):
            ending = f"web process {child.number} (pid {child.pid}) {_ending(status)}"
            log.error("%s; stopping the other web processes", ending)
            failure = failure or ending
    endings = _stop(running, stop_seconds)
    if failure is not None:
        raise Refused(f"herald web stopped: {failure}; see the log above")
    failed = [ending for ending in endings if ending]
    if failed:
        raise Refused(f"herald web stopped, but {failed[0]}; see the log above")
    log.info("herald web stopped")
    return 0


def _reap(running: dict[int, _Child]) -> list[tuple[_Child, int]]:
    """The children that have exited since the last look, taken out of `running`."""
    ended = []
    for pid in list(running):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            ended.append((running.pop(pid), status))
    return ended


def _stop(running: dict[int, _Child], stop_seconds: float) -> list[str]:
    """SIGTERM every child still running, wait for each, SIGKILL any that outlives the grace.
    One entry per child that did not stop cleanly, saying how it ended."""
    endings: list[str] = []
    for pid in running:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + stop_seconds
    while running:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or signal.sigtimedwait({signal.SIGCHLD}, remaining) is None:
            for child in running.values():
                log.error("web process %d (pid %d) did not stop; killed", child.number, child.pid)
                os.kill(child.pid, signal.SIGKILL)
                os.waitpid(child.pid, 0)
                endings.append(f"web process {child.number} did not stop in {stop_seconds:g} s")
            break
        for child, status in _reap(running):
            if os.waitstatus_to_exitcode(status) != 0:
                endings.append(f"web process {child.number} {_ending(status)}")
    return endings


def _ending(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return f"was killed by {_name(-code)}"
    return f"exited with code {code}"


def _name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
