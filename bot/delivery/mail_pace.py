"""How many recipients an SMTP server takes: unknown until it answers `452 4.5.3` (too
many recipients), then learned from what it accepted in the minute before and kept to.

Office 365 and others count recipients per sender per minute, and refuse the rest of a
message's RCPTs with 452 once past. Herald then stops, sends what was accepted, and sends
the rest in windows of a minute holding no more recipients than the server took in the
minute before its 452: no second 452 for the same limit.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

log = logging.getLogger(__name__)

# A second more than the server's minute, so its window has surely turned.
WINDOW = timedelta(seconds=61)
MINUTE = timedelta(minutes=1)
# An hour after the last 452 the limit learned is forgotten, since the server's may have
# grown: at most one 452 an hour to find out again.
FORGET_AFTER = timedelta(hours=1)


class ServerPace:
    """Recipients one SMTP server may take now, in windows of a minute once it said 452."""

    def __init__(self, host: str, *, clock: Callable[[], datetime]) -> None:
        self.host = host
        self.clock = clock
        self.per_window: int | None = None  # None: no 452 yet, no limit known
        self.window_end: datetime | None = None
        self._left = 0
        self._accepted: deque[datetime] = deque()
        self._said_452: datetime | None = None

    def take(self, wanted: int) -> tuple[int, datetime | None]:
        """How many of `wanted` recipients may go now, and when the next window opens."""
        now = self.clock()
        if self._said_452 is not None and now - self._said_452 >= FORGET_AFTER:
            self.per_window = self.window_end = self._said_452 = None
        if self.per_window is None:
            if self.window_end is not None and now < self.window_end:
                return 0, self.window_end  # a 452 with nothing learned: a minute's wait
            return wanted, None
        if self.window_end is None or now >= self.window_end:
            self.window_end = now + WINDOW
            self._left = self.per_window
        allowed = min(wanted, self._left)
        self._left -= allowed
        return allowed, self.window_end

    def accepted(self, count: int) -> None:
        """The server accepted `count` recipients just now."""
        now = self.clock()
        self._accepted.extend([now] * count)
        while self._accepted and now - self._accepted[0] > WINDOW:
            self._accepted.popleft()

    def too_many(self) -> datetime:
        """The server said 452: learn its pace from the minute before; return when the
        rest may go. With nothing accepted in that minute (another process used the
        allowance, or this one just started) nothing is learned: it waits a minute."""
        now = self.clock()
        self._said_452 = now
        recent = sum(1 for when in self._accepted if now - when <= WINDOW)
        if recent:
            self.per_window = recent if self.per_window is None else min(recent, self.per_window)
        self.window_end = now + WINDOW
        self._left = 0
        log.warning(
            "SMTP server %s refused more recipients (452) after %d in a minute: "
            "the rest go at that pace, a minute at a time",
            self.host,
            recent,
        )
        return self.window_end


def domain_of(address: str) -> str:
    """The part after the @, which names the receiving organisation's mail servers."""
    return address.rpartition("@")[2].lower()


class DomainBudget:
    """Recipients at one domain in any minute, whichever server relays them: a receiving
    organisation's servers count what reaches them from one sender, and a burst past
    their count is deferred or marked as spam, not refused where Herald could see it.

    A place is taken when a recipient is put in a message and given back when the
    server did not take them after all (refused, deferred, or the message not sent).
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], datetime]) -> None:
        self.per_minute = per_minute  # 0: no budget
        self.clock = clock
        self._sent: dict[str, deque[datetime]] = {}  # per domain, the minute's places taken

    def _recent(self, domain: str, now: datetime) -> deque[datetime]:
        taken = self._sent.setdefault(domain, deque())
        while taken and now - taken[0] >= MINUTE:
            taken.popleft()
        return taken

    def take(self, addresses: list[str]) -> list[datetime | None]:
        """For each address, None when it may go now (its place is taken), or when its
        domain has a place again."""
        if not self.per_minute:
            return [None] * len(addresses)
        now = self.clock()
        answers: list[datetime | None] = []
        for address in addresses:
            taken = self._recent(domain_of(address), now)
            if len(taken) < self.per_minute:
                taken.append(now)
                answers.append(None)
            else:
                answers.append(taken[len(taken) - self.per_minute] + MINUTE)
        for domain in [d for d, taken in self._sent.items() if not taken]:
            del self._sent[domain]
        return answers

    def give_back(self, addresses: list[str]) -> None:
        """Recipients whose place was taken but who were not sent to after all."""
        if not self.per_minute:
            return
        for address in addresses:
            taken = self._sent.get(domain_of(address))
            if taken:
                taken.pop()
