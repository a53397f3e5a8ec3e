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
    """Recipients at one domain per minute, whichever server relays them: a receiving
    organisation's servers count what reaches them from one sender, and a burst past
    their count is deferred or marked as spam, not refused where Herald could see it."""

    def __init__(self, per_minute: int, *, clock: Callable[[], datetime]) -> None:
        self.per_minute = per_minute  # 0: no budget
        self.clock = clock
        self._windows: dict[str, tuple[datetime, int]] = {}  # domain: (window end, left)

    def take(self, addresses: list[str]) -> tuple[list[bool], datetime | None]:
        """Which of `addresses` may go now (their budget is spent), and when the first of
        the others' windows opens again."""
        if not self.per_minute:
            return [True] * len(addresses), None
        now = self.clock()
        self._windows = {d: w for d, w in self._windows.items() if w[0] > now}
        allowed: list[bool] = []
        later: datetime | None = None
        for address in addresses:
            domain = domain_of(address)
            end, left = self._windows.get(domain, (now + WINDOW, self.per_minute))
            if left > 0:
                self._windows[domain] = (end, left - 1)
                allowed.append(True)
            else:
                allowed.append(False)
                later = end if later is None else min(later, end)
        return allowed, later

    def give_back(self, addresses: list[str]) -> None:
        """Recipients taken but not sent after all: their places are free again."""
        for address in addresses:
            domain = domain_of(address)
            window = self._windows.get(domain)
            if window is not None:
                self._windows[domain] = (window[0], min(self.per_minute, window[1] + 1))
