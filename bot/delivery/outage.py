"""A database that stops answering, said once when it goes and once when it is back."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Outage:
    """What the worker knows of the database: answering, or down since a moment."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.since: float | None = None
        self.failures = 0  # steps the database did not answer, since the start

    @property
    def down(self) -> bool:
        """True between a step the database did not answer and the next one it did."""
        return self.since is not None

    def gone(self, error: BaseException) -> None:
        """A step found the database not answering; said only for the first in an outage."""
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            log.warning(
                "delivery worker %s: the database does not answer (%s); sends wait and "
                "their outcomes are kept until it does",
                self.name,
                type(error).__name__,
            )

    @staticmethod
    def now() -> float:
        """The moment a step starts, to hand to back() when it went through."""
        return time.monotonic()

    def back(self, started: float) -> None:
        """A step that started at `started` went through; says so if the database had been
        down. A step begun before the outage tells nothing: it may have had its connection
        already, and finished while every other step fails."""
        if self.since is not None and started >= self.since:
            log.info(
                "delivery worker %s: the database answers again after %.1f s",
                self.name,
                time.monotonic() - self.since,
            )
            self.since = None
