"""Commands run in processes of their own, so their SQL never holds the web process's GIL.

A command costs 5-20 ms of CPU, nearly all of it SQLAlchemy holding the GIL; in threads
beside the event loop, every ack waited for it. Each command process opens its own
database from the same settings, runs the command core and sends back its reply (small,
picklable data), at a lower OS priority, so the web process gets the CPU first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from bot.settings import Settings
from commands.context import Actor, Context

log = logging.getLogger(__name__)
T = TypeVar("T")

# Per web process: enough to keep commands going while some wait on the database. A
# process runs one command at a time, one connection each; more queue in the pool.
COMMAND_PROCESSES = 2


def command_processes(web_processes: int, cores: int | None = None) -> int:
    """Command processes per web process: two, but no more in all than there are cores
    (and at least one each), since commands are CPU work and more processes than cores
    only take turns, each costing more."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(COMMAND_PROCESSES, cores // max(1, web_processes)))


# Acks in the web process (nice 0) win the CPU from commands: 10 weighs about a tenth.
NICENESS = 10

# The context factory of this command process, set once by _start.
_contexts: Callable[[Actor, str], Context] | None = None


def _start(settings: Settings, web_process: int) -> None:
    """In each command process: stop when the web process says or dies, lower its
    priority, log as Herald does, make its database engine."""
    global _contexts
    from bot.cli import configure_logging
    from bot.delivery.probe import probe_for
    from bot.frontend.runner import context_factory
    from bot.web_processes import stop_with
    from storage.engine import make_engine, make_session_factory
    from storage.models import utcnow

    # Ctrl-C, or a SIGTERM sent to the whole group, is for the web process: it lets the
    # commands under way finish, then stops these (CommandProcesses.close). One killed
    # outright must not leave them behind, holding connections: they are killed too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stop_with(web_process, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    configure_logging(settings)
    # No connection yet: the web process checked the schema, and a command process started
    # while the database is down must answer "Could not save" as a thread would, not fail.
    engine = make_engine(settings.sqlalchemy_url)
    # No `changed`: no delivery worker shares this process; workers hear of the change
    # through PostgreSQL's NOTIFY, sent with the commit (storage/deliveries.py).
    _contexts = context_factory(
        sessions=make_session_factory(engine),
        zone=settings.zone,
        locale=settings.locale,
        clock=utcnow,
        probe=probe_for(settings),
        remind_before=settings.maintenance_reminder,
    )


def _ready() -> int:
    return os.getpid()


def _run(work: Callable[[Context], T], actor: Actor, grant_hint: str) -> T:
    assert _contexts is not None, "a command process runs _start first"
    return work(_contexts(actor, grant_hint))


class CommandProcesses:
    """A pool of command processes on one database (PostgreSQL: they share it)."""

    def __init__(self, settings: Settings, count: int = COMMAND_PROCESSES) -> None:
        self.settings = settings
        self.count = count
        self._pool = self._started()

    def _started(self) -> ProcessPoolExecutor:
        # spawn: each starts from a clean interpreter, not a copy of this process with its
        # event loop, threads and pooled connections; and as a child of this process (not
        # of a fork server), so it can ask to be stopped when this process dies.
        pool = ProcessPoolExecutor(
            self.count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(self.settings, os.getpid()),
        )
        # Start them all now (imports), not under the first burst of commands.
        for _ in range(self.count):
            pool.submit(_ready)
        return pool

    async def run(self, work: Callable[[Context], T], actor: Actor, grant_hint: str) -> T:
        """Run `work` (picklable, needing only its context) in a command process."""
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, _run, work, actor, grant_hint
            )
        except BrokenProcessPool:
            # A command process died (killed, out of memory): its commands fail, as a
            # crash would fail them in a thread, and the next ones get a new pool.
            if pool is self._pool:
                log.error("a command process died; starting them again")
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._started()
            raise

    def close(self) -> None:
        """Stop the command processes once the command each is running is done."""
        self._pool.shutdown(wait=True, cancel_futures=True)
