"""Rendered pages and feeds, kept until the data changes: one render however many readers."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

import anyio
import anyio.to_thread

from bot.attempts import Attempts
from bot.database import failure_of
from storage.public import PublicDataVersion

log = logging.getLogger(__name__)

GZIP_MIN_BYTES = 1024
MAX_ENTRIES = 512
# How long a reader waits for the database before it is answered from the last rendering:
# a host that drops packets would otherwise hold every request for the connect timeout.
# The version lookup is one index-only query; a render may take longer on a busy machine.
WAIT_SECONDS = 3.0
RENDER_WAIT_SECONDS = 10.0
RENDER_THREADS = 4


@dataclass(frozen=True)
class Rendered:
    """A finished response body with its validators, and its gzip form when worth having."""

    body: bytes
    media_type: str
    etag: str
    last_modified: datetime
    gzipped: bytes | None


def rendered(body: bytes, media_type: str, last_modified: datetime, *, now: datetime) -> Rendered:
    """Wrap a body: a strong ETag from its bytes, and gzip done once here, not per request.

    `now` is the site's clock: scheduled maintenance changes data in the future, but
    Last-Modified may not be later than the moment the page is served.
    """
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    packed = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    # Whole seconds: HTTP dates have no fraction, and If-Modified-Since compares to them.
    moment = min(last_modified, now).replace(microsecond=0)
    return Rendered(body, media_type, f'"{digest}"', moment, packed)


class Unavailable(Exception):
    """The database did not answer a moment ago and is not asked again yet."""


def _retrieve(task: asyncio.Task[object]) -> None:
    # A failure that every waiter abandoned must not end as "exception never retrieved".
    if not task.cancelled():
        task.exception()


# A lookup this old is taken for stuck on a silent server (the connection's own timeouts
# end it later): it no longer holds a new one back. Lookups younger than that: at most
# YOUNG_LOOKUPS at once; in all, stuck ones included, at most MAX_LOOKUPS, so a dead
# server cannot take more threads than that.
STUCK_SECONDS = 4.0
YOUNG_LOOKUPS = 2
MAX_LOOKUPS = 8


class DataVersionWatch:
    """The current data version, looked up at most once per interval, by one lookup at a time.

    A failed lookup is remembered for one interval too: while the database is down,
    readers learn it at once instead of each waiting on a connection attempt. A lookup
    still running an interval after it began does not hold the next one back, and one
    stuck for STUCK_SECONDS no longer counts, so the page is live again within seconds
    of the database. Lookups run on threads of their own: a crowd of renders cannot
    make the database look down.
    """

    def __init__(
        self,
        load: Callable[[], PublicDataVersion],
        *,
        recheck_seconds: float,
        is_outage: Callable[[BaseException], bool],
        wait_seconds: float = WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._is_outage = is_outage
        self._recheck = recheck_seconds
        self._wait = wait_seconds
        self._clock = clock
        self._threads = anyio.CapacityLimiter(MAX_LOOKUPS)
        self._current: PublicDataVersion | None = None
        self._checked = -math.inf
        # What the last failure was, not the error: its traceback holds a session.
        self._failure: str | None = None
        self._failed = -math.inf
        # When the lookup that failed began: only a lookup begun later disproves it.
        self._failed_lookup = -math.inf
        self.under_way = Attempts(
            self._lookup,
            clock=clock,
            every=recheck_seconds,
            stuck=STUCK_SECONDS,
            young=YOUNG_LOOKUPS,
            most=MAX_LOOKUPS,
        )
        self.lookups = 0

    async def current(self) -> PublicDataVersion:
        """The version; readers within one interval share it, and share one lookup after.

        Raises the lookup's error, Unavailable while an outage is remembered, or
        TimeoutError when the lookup takes longer than the wait (it goes on, for the
        next reader).
        """
        now = self._clock()
        if self._current is not None and now - self._checked < self._recheck:
            return self._current
        if self._failure is not None and now - self._failed < self._recheck:
            raise Unavailable(self._failure)
        newest, began, started = self.under_way.newest()
        if not started and self._failure is not None:
            # Down at the last look and still trying: do not make this reader wait too.
            raise Unavailable(self._failure)
        try:
            # A reader that goes away must not cancel the lookup the others wait for.
            return await asyncio.wait_for(asyncio.shield(newest), self._wait)
        except TimeoutError:
            if began < self._checked and self._current is not None:
                return self._current  # a later lookup answered meanwhile
            # Readers until a lookup ends are answered at once; its outcome then decides.
            if self._failure is None:
                self._failure, self._failed, self._failed_lookup = "no answer", self._clock(), began
            raise

    async def _lookup(self, started: float) -> PublicDataVersion:
        try:
            version = await anyio.to_thread.run_sync(self._load, limiter=self._threads)
        except Exception as error:
            # A lookup begun before the last success or failure says nothing new, nor does
            # one stuck so long that the database may have come back since it began.
            fresh = (
                started >= max(self._checked, self._failed_lookup)
                and self._clock() - started < STUCK_SECONDS
            )
            if self._is_outage(error) and fresh:
                self._failure, self._failed = failure_of(error), self._clock()
                self._failed_lookup = started
            raise
        self.lookups += 1
        if started >= self._checked:
            self._current, self._checked = version, started
        if started >= self._failed_lookup:
            self._failure = None
        return version


class RenderCache:
    """The latest body per key and the data version it shows; one render per key and version.

    Concurrent misses on a key wait for a single render. A body from an older
    version is replaced when its key is next asked for; the least recently used
    keys go when the cache is full, except pinned ones (the site's few fixed
    documents), which a crawler walking old incidents must not push out. Each body
    remembers when its version was last known to be current, so it can stand in,
    dated, while the database is down.
    """

    def __init__(
        self, *, max_entries: int = MAX_ENTRIES, wait_seconds: float = RENDER_WAIT_SECONDS
    ) -> None:
        self._entries: OrderedDict[Hashable, tuple[Hashable, Rendered, datetime]] = OrderedDict()
        self._pinned: dict[Hashable, tuple[Hashable, Rendered, datetime]] = {}
        self._pending: dict[Hashable, asyncio.Task[Rendered | None]] = {}
        self._max = max_entries
        self._wait = wait_seconds
        # Renders hold the GIL more than they wait: more threads would not render faster,
        # and a crowd of them must leave the shared pool to the rest of the app.
        self._threads = anyio.CapacityLimiter(RENDER_THREADS)
        self.renders = 0

    def __len__(self) -> int:
        return len(self._entries) + len(self._pinned)

    def last_good(self, key: Hashable) -> tuple[Rendered, datetime, Hashable] | None:
        """The latest body for a key, whatever its version: with when it was last current
        (as far as readers of it saw) and that version."""
        found = self._pinned.get(key) or self._entries.get(key)
        return None if found is None else (found[1], found[2], found[0])

    async def get(
        self,
        key: Hashable,
        version: Hashable,
        render: Callable[[], Rendered | None],
        *,
        current_at: datetime,
        pinned: bool = False,
    ) -> Rendered | None:
        """The body for a key at a version, rendered in a worker thread on the first request.

        `current_at` is when the version was known to be current. None (a missing
        incident or component) is returned but never stored, so guessed ids cannot
        fill the cache. A render that takes longer than the wait raises TimeoutError
        and goes on for the next reader. A pinned key is never evicted.
        """
        found = self._pinned.get(key) if pinned else self._entries.get(key)
        if found is not None and found[0] == version:
            self._store(key, (version, found[1], max(found[2], current_at)), pinned)
            return found[1]
        task = self._pending.get((key, version))
        if task is None:
            task = asyncio.ensure_future(self._render(key, version, render, current_at, pinned))
            task.add_done_callback(_retrieve)
            self._pending[(key, version)] = task
        return await asyncio.wait_for(asyncio.shield(task), self._wait)

    async def _render(
        self,
        key: Hashable,
        version: Hashable,
        render: Callable[[], Rendered | None],
        current_at: datetime,
        pinned: bool,
    ) -> Rendered | None:
        began = time.perf_counter()
        try:
            result = await anyio.to_thread.run_sync(render, limiter=self._threads)
        finally:
            del self._pending[(key, version)]
        self.renders += 1
        log.debug("rendered %r in %.1f ms", key, (time.perf_counter() - began) * 1000)
        if result is not None:
            self._store(key, (version, result, current_at), pinned)
        return result

    def _store(
        self, key: Hashable, entry: tuple[Hashable, Rendered, datetime], pinned: bool
    ) -> None:
        if pinned:
            self._pinned[key] = entry
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
