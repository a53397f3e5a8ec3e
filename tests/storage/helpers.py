"""Races for storage tests: threads released together, and a transaction staged to wait."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

WAIT_LIMIT_SECONDS = 10  # only how long a broken test hangs; passing never waits on it


def all_at_once(count: int, attempt: Callable[[int], bool]) -> list[bool]:
    """Run attempt(0) … attempt(count - 1) in threads released together; their outcomes."""
    start = threading.Barrier(count)
    outcomes: list[bool] = []
    errors: list[BaseException] = []

    def contend(n: int) -> None:
        start.wait()
        try:
            outcomes.append(attempt(n))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return outcomes


class Contender:
    """`attempt` run in its own transaction in a thread, started once PostgreSQL has it waiting.

    The handshake is PostgreSQL's own word (pg_blocking_pids) that the thread's statement
    waits for another transaction, so the test neither sleeps nor guesses a margin.
    """

    def __init__(
        self,
        engine: sa.Engine,
        sessions: sessionmaker[Session],
        attempt: Callable[[Session], bool],
    ) -> None:
        self.outcome: list[bool] = []
        self.errors: list[BaseException] = []
        self._pids: queue.Queue[int] = queue.Queue()
        self._sessions = sessions
        self._attempt = attempt
        self._thread = threading.Thread(target=self._run)
        self._thread.start()
        self._wait_until_blocked(engine, self._pids.get(timeout=WAIT_LIMIT_SECONDS))

    def _run(self) -> None:
        try:
            with self._sessions() as session, session.begin():
                connection = session.connection()
                self._pids.put(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                self.outcome.append(self._attempt(session))
        except BaseException as error:
            self.errors.append(error)

    def _wait_until_blocked(self, engine: sa.Engine, pid: int) -> None:
        deadline = time.monotonic() + WAIT_LIMIT_SECONDS
        query = sa.text("SELECT cardinality(pg_blocking_pids(:pid)) > 0")
        with engine.connect() as watcher:
            while not watcher.execute(query, {"pid": pid}).scalar_one():
                watcher.rollback()  # a fresh snapshot of the lock table each time
                assert self._thread.is_alive(), f"it never waited: {self.outcome or self.errors}"
                assert time.monotonic() < deadline, "it is still running but never waited"

    def result(self) -> bool:
        """Wait for the attempt to finish and return its outcome; raise what it raised."""
        self._thread.join(timeout=WAIT_LIMIT_SECONDS)
        assert not self._thread.is_alive()
        if self.errors:
            raise self.errors[0]
        [outcome] = self.outcome
        return outcome
